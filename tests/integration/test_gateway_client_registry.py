"""The hub's gateway clients: built from settings with their checks, one kept per thread.

A client built from settings talks to a scripted HTTP server on 127.0.0.1,
which answers a token and then the replies a test gives.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.crypto import KeyRing, Party
from sync.errors import ConfigurationError, PermanentGatewayError, RetryableGatewayError
from sync.gateway.client import GatewayClient
from sync.gateway_clients import GatewayClients, build_gateway_client
from sync.settings import Settings, load_settings
from tests.integration.certificates import certificate_authority
from tests.integration.test_gateway_client_decisions import PAGE, TOKEN
from tests.scripted_http import RecordingSession, ScriptedGateway, reply

pytestmark = pytest.mark.integration

URL = "https://police-gateway.example:8443"


def _settings(**overrides: Any) -> Settings:
    return load_settings(None, gateway_client_secret="synthetic-secret", **overrides)


def _build(
    settings: Settings, keyrings: dict[Party, KeyRing], url: str = URL, agency: str = "police"
) -> GatewayClient:
    return build_gateway_client(settings, lambda: keyrings[Party.HUB], url, agency)


# --- building a client from settings ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://", "https://:8443", "police-gateway.example", "https://gateway.example:port"],
    ids=["no-host", "port-only", "no-scheme", "bad-port"],
)
def test_a_url_without_a_usable_host_is_refused(keyrings: dict[Party, KeyRing], url: str) -> None:
    with pytest.raises(ConfigurationError, match="gateway URL"):
        _build(_settings(), keyrings, url)


def test_plain_http_off_this_machine_needs_the_setting(keyrings: dict[Party, KeyRing]) -> None:
    with pytest.raises(ConfigurationError, match="https"):
        _build(_settings(), keyrings, "http://10.0.0.5:8080")
    allowed = _build(_settings(gateway_allow_plain_http=True), keyrings, "http://10.0.0.5:8080")
    allowed.close()
    _build(_settings(), keyrings, "https://10.0.0.5:8443").close()


def test_a_client_without_a_secret_is_refused_naming_the_settings(
    keyrings: dict[Party, KeyRing],
) -> None:
    with pytest.raises(ConfigurationError, match="ARMS_SYNC_POLICE_GATEWAY_CLIENT_SECRET"):
        _build(load_settings(None), keyrings)


class Sessions:
    """The sessions clients build from now on: real ones that keep each request's options."""

    def __init__(self) -> None:
        self.made: list[RecordingSession] = []

    def __call__(self) -> RecordingSession:
        session = RecordingSession()
        self.made.append(session)
        return session


@pytest.fixture
def sessions(monkeypatch: pytest.MonkeyPatch) -> Sessions:
    """Sessions built by clients from now on are recorded."""
    factory = Sessions()
    monkeypatch.setattr(requests, "Session", factory)
    return factory


@pytest.fixture
def gateway() -> Iterator[ScriptedGateway]:
    """A scripted gateway on 127.0.0.1 that first answers a token."""
    with ScriptedGateway([reply(200, TOKEN)]) as server:
        yield server


PAGE_REPLY = reply(200, PAGE)


def test_a_client_takes_its_credentials_timeouts_and_ca_bundle_from_settings(
    keyrings: dict[Party, KeyRing], sessions: Sessions, gateway: ScriptedGateway, tmp_path: Path
) -> None:
    bundle = certificate_authority("arms-sync test CA", tmp_path / "ca.pem").file
    settings = _settings(
        police_gateway_client_id="police-hub",
        http_timeout_seconds=7.5,
        http_deadline_seconds=90.0,
        gateway_ca_bundle=bundle,
    )
    gateway.script.append(PAGE_REPLY)
    with _build(settings, keyrings, gateway.url) as client:
        client.fetch_page(None, 10)
    token = gateway.calls[0]
    basic = base64.b64decode(token.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic == "police-hub:synthetic-secret"
    token_options, feed_options = sessions.made[-1].sent_options
    assert token_options["timeout"] == feed_options["timeout"] == (7.5, 7.5)
    assert token_options["verify"] == feed_options["verify"] == str(bundle)


def test_a_client_takes_its_attempts_from_settings(
    keyrings: dict[Party, KeyRing], gateway: ScriptedGateway
) -> None:
    settings = _settings(
        gateway_retry_attempts=2, gateway_retry_base_seconds=0.0, gateway_retry_max_seconds=0.0
    )
    gateway.script += [reply(502, {}) for _ in range(2)]
    with (
        _build(settings, keyrings, gateway.url) as client,
        pytest.raises(RetryableGatewayError, match="after 2 attempts"),
    ):
        client.fetch_page(None, 10)


def test_a_client_waits_a_retry_after_within_the_max_delay_from_settings(
    keyrings: dict[Party, KeyRing], gateway: ScriptedGateway
) -> None:
    settings = _settings(gateway_retry_base_seconds=0.0, gateway_retry_max_seconds=1.5)
    gateway.script += [reply(503, {}, headers={"Retry-After": "1"}), PAGE_REPLY]
    with _build(settings, keyrings, gateway.url) as client:
        assert client.fetch_page(None, 10).next == PAGE["next"]


def test_a_client_takes_its_body_cap_from_settings(
    keyrings: dict[Party, KeyRing], gateway: ScriptedGateway
) -> None:
    gateway.script.append(reply(200, {**PAGE, "padding": "x" * 2048}))
    with (
        _build(_settings(gateway_max_response_bytes=1024), keyrings, gateway.url) as client,
        pytest.raises(PermanentGatewayError, match="over 1024 bytes"),
    ):
        client.fetch_page(None, 10)


def test_a_client_takes_its_deadline_from_settings(
    keyrings: dict[Party, KeyRing], gateway: ScriptedGateway
) -> None:
    settings = _settings(
        http_deadline_seconds=1e-9, gateway_retry_attempts=1, gateway_retry_max_seconds=0.0
    )
    gateway.script.append(PAGE_REPLY)
    with (
        _build(settings, keyrings, gateway.url) as client,
        pytest.raises(RetryableGatewayError, match="body too slow"),
    ):
        client.fetch_page(None, 10)


# --- one client per gateway per thread -------------------------------------------------


class Built:
    """Clients built by a registry, each over a session that records its closing."""

    def __init__(self, keyrings: dict[Party, KeyRing]) -> None:
        self.keyrings = keyrings
        self.clients: list[tuple[str, GatewayClient, RecordingSession]] = []

    def __call__(self, base_url: str, agency: str) -> GatewayClient:
        session = RecordingSession()
        client = GatewayClient(
            base_url,
            agency=agency,
            client_id="hub",
            client_secret="synthetic-secret",
            keyring=self.keyrings[Party.HUB],
            session=session,
        )
        self.clients.append((base_url, client, session))
        return client


def _in_thread(action: Callable[[], GatewayClient]) -> GatewayClient:
    got: list[GatewayClient] = []
    thread = threading.Thread(target=lambda: got.append(action()))
    thread.start()
    thread.join()
    return got[0]


def test_a_thread_gets_one_client_per_gateway_whatever_the_trailing_slash(
    keyrings: dict[Party, KeyRing],
) -> None:
    built = Built(keyrings)
    registry = GatewayClients(built)
    client = registry.get(URL, "police")
    assert registry.get(URL + "/", "police") is client
    assert registry.get(URL, "probation") is not client
    assert [base_url for base_url, _, _ in built.clients] == [URL, URL]
    registry.close()


def test_threads_do_not_share_clients_and_an_ended_thread_s_client_is_closed(
    keyrings: dict[Party, KeyRing],
) -> None:
    built = Built(keyrings)
    registry = GatewayClients(built)
    ours = registry.get(URL, "police")
    theirs = _in_thread(lambda: registry.get(URL, "police"))
    assert theirs is not ours
    closed = {id(client): session for _, client, session in built.clients}
    assert not closed[id(theirs)].closed  # its thread ended, but no client was built since
    registry.get(URL, "probation")  # building a client drops those of ended threads
    assert closed[id(theirs)].closed
    assert not closed[id(ours)].closed
    assert registry.get(URL, "police") is ours
    registry.close()


def test_closing_the_registry_closes_every_client_and_a_later_get_builds_afresh(
    keyrings: dict[Party, KeyRing],
) -> None:
    built = Built(keyrings)
    registry = GatewayClients(built)
    first = registry.get(URL, "police")
    registry.get(URL, "probation")
    registry.close()
    assert all(session.closed for _, _, session in built.clients)
    assert registry.get(URL, "police") is not first
    registry.close()
