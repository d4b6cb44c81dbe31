"""`arms-sync gateway` options: its host, fault seed and Retry-After, skew window, token life."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from click.testing import CliRunner

from sync.cli.gateway_cmd import gateway
from sync.crypto import KeyRing, Party
from sync.errors import StaleEnvelopeError
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    make_client,
    make_keys,
    notice_batch,
    start_gateway,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE
FAULT_SEED = "20261130"
CALLS = 30
SKEW_SECONDS = 30


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[Party, KeyRing]]:
    """Real keys for every party, made once for this module."""
    folder = tmp_path_factory.mktemp("keys")
    return folder, make_keys(folder)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    """A small synthetic police feed."""
    path = tmp_path / "police.jsonl"
    write_feed(path, AGENCY.value, 3)
    return path


Launch = Callable[..., RunningGateway]


@pytest.fixture
def launch(tmp_path: Path, feed: Path, keys: tuple[Path, dict[Party, KeyRing]]) -> Iterator[Launch]:
    """Start gateways with extra options, each with its own state folder; all stop with exit 0."""
    started: list[RunningGateway] = []

    def start(*extra: str) -> RunningGateway:
        running = start_gateway(
            agency=AGENCY,
            feed=feed,
            keys=keys[0],
            state=tmp_path / f"state-{len(started)}",
            cwd=tmp_path,
            extra=extra,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        assert running.stop() == 0


def _token_call(url: str) -> str:
    """One token request on a fresh connection, told as what came back."""
    try:
        response = requests.post(
            f"{url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            timeout=5,
        )
    except requests.ConnectionError:
        return "dropped"
    if response.status_code == 503:
        return f"503 Retry-After {response.headers.get('Retry-After')}"
    if response.status_code != 200:
        return str(response.status_code)
    try:
        response.json()
    except json.JSONDecodeError:
        return "garbage"
    return "token"


def test_the_listening_line_names_the_host_given(launch: Launch) -> None:
    """`--host localhost` is announced as `listening on http://localhost:PORT`, and serves there."""
    running = launch("--host", "localhost")
    address = urlsplit(running.url)

    assert (address.scheme, address.hostname) == ("http", "localhost")
    assert requests.get(f"{running.url}/health", timeout=5).status_code == 200


def test_a_503_fault_answers_with_the_retry_after_given(launch: Launch) -> None:
    """`--fault-retry-after 7` makes every injected 503 say `Retry-After: 7`."""
    running = launch(
        "--fail-rate", "1", "--fault-seed", FAULT_SEED, "--fault-delay", "0",
        "--fault-retry-after", "7",
    )  # fmt: skip

    outcomes = [_token_call(running.url) for _ in range(CALLS)]

    unavailable = {outcome for outcome in outcomes if outcome.startswith("503")}
    assert unavailable == {"503 Retry-After 7"}


def test_the_same_fault_seed_fails_the_same_calls_the_same_way(launch: Launch) -> None:
    """Two gateways given one `--fault-seed` answer the same sequence of calls alike."""
    options = ("--fail-rate", "0.5", "--fault-seed", FAULT_SEED, "--fault-delay", "0")
    first, second = launch(*options), launch(*options)

    told = [_token_call(first.url) for _ in range(CALLS)]
    retold = [_token_call(second.url) for _ in range(CALLS)]

    assert told == retold
    assert "token" in told
    assert len(set(told)) > 2  # tokens and more than one kind of fault


def test_max_skew_refuses_a_batch_sealed_before_the_window(
    launch: Launch, keys: tuple[Path, dict[Party, KeyRing]]
) -> None:
    """With `--max-skew 30`, a batch sealed a minute ago is refused as stale; a fresh one lands."""
    hub = keys[1][Party.HUB]
    running = launch("--max-skew", str(SKEW_SECONDS))
    a_minute_ago = datetime.now(UTC) - timedelta(seconds=2 * SKEW_SECONDS)

    with make_client(running.url, hub, AGENCY) as client:
        with pytest.raises(StaleEnvelopeError):
            client.deliver(notice_batch(hub, AGENCY, 1, now=a_minute_ago))
        assert client.deliver(notice_batch(hub, AGENCY, 2)).msg_id


@pytest.mark.parametrize("option", ["--token-ttl", "--max-skew"])
def test_a_lifetime_or_window_of_zero_seconds_is_bad_usage(
    tmp_path: Path, feed: Path, option: str
) -> None:
    """A token that expires at once or a skew window of nothing is refused, naming the option."""
    result = CliRunner().invoke(
        gateway,
        [
            "--agency",
            AGENCY.value,
            "--feed",
            str(feed),
            "--keys",
            str(tmp_path / "none"),
            "--state",
            str(tmp_path / "state"),
            option,
            "0",
        ],
        env={"ARMS_SYNC_GATEWAY_CLIENT_ID": CLIENT_ID, "ARMS_SYNC_GATEWAY_CLIENT_SECRET": "x"},
    )

    assert result.exit_code == 2
    assert option in result.output
