"""Plain HTTP reaches a gateway only on this machine, unless a test network allows it."""

from __future__ import annotations

import pytest

from sync.errors import ConfigurationError
from sync.gateway_clients import require_tls_off_this_machine


@pytest.mark.parametrize(
    "url",
    [
        "https://gateway.probation.example",
        "https://10.0.0.5:8443/feed",
        "http://127.0.0.1:8080",
        "http://127.8.9.10:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
    ],
)
def test_tls_or_this_machine_is_accepted(url: str) -> None:
    require_tls_off_this_machine(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://gateway.probation.example",
        "http://10.0.0.5:8080",
        "http://probation-gateway:8080",
        "http://127.0.0.1.example.org:8080",
    ],
)
def test_plain_http_off_this_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="https") as caught:
        require_tls_off_this_machine(url)
    assert caught.value.exit_code == 2
