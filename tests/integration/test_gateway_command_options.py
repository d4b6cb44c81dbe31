"""`arms-sync gateway` options: state folder, page size, credentials, TLS files and keys."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from sync.crypto import Party, open_envelope
from sync.gateway.store import STORE_FILE
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    LISTENING,
    RunningGateway,
    launch,
    make_client,
    make_keys,
    notice_batch,
    start_gateway,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE
CREDENTIALS = {
    "ARMS_SYNC_GATEWAY_CLIENT_ID": CLIENT_ID,
    "ARMS_SYNC_GATEWAY_CLIENT_SECRET": CLIENT_SECRET,
}


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    """A small synthetic police feed."""
    path = tmp_path / "police.jsonl"
    write_feed(path, AGENCY.value, 5)
    return path


def _refusal(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Start the gateway with these arguments; it must exit 2 without listening. Its stderr."""
    with launch("gateway", *args, cwd=cwd, env=CREDENTIALS if env is None else env) as process:
        try:
            status = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the gateway started instead of refusing.")
        assert process.stdout is not None
        assert LISTENING not in process.stdout.read()
    assert status == 2
    message = (cwd / "gateway-stderr.log").read_text(encoding="utf-8")
    assert "Traceback" not in message
    return message


def test_without_state_the_notices_are_kept_in_a_folder_of_the_agency(
    tmp_path: Path, feed: Path
) -> None:
    """With no `--state`, received notices go to gateway-state/AGENCY in the working folder."""
    keyrings = make_keys(tmp_path / "keys")
    work = tmp_path / "work"
    work.mkdir()
    process = launch(
        "gateway",
        "--agency",
        AGENCY.value,
        "--feed",
        str(feed),
        "--keys",
        str(tmp_path / "keys"),
        "--port",
        "0",
        cwd=work,
        env=CREDENTIALS,
    )
    assert process.stdout is not None
    url = process.stdout.readline().removeprefix(LISTENING).strip()
    gateway = RunningGateway(process, url, work / "gateway-stderr.log")
    try:
        with make_client(url, keyrings[Party.HUB], AGENCY) as client:
            assert client.deliver(notice_batch(keyrings[Party.HUB], AGENCY, 1)).msg_id
    finally:
        assert gateway.stop() == 0

    assert (work / "gateway-state" / AGENCY.value / STORE_FILE).is_file()
    assert not (work / "gateway-state" / STORE_FILE).exists()


def test_a_certificate_without_its_key_is_bad_usage(tmp_path: Path, feed: Path) -> None:
    """`--tls-cert` alone never falls back to plain HTTP: the gateway refuses to start."""
    make_keys(tmp_path / "keys")
    certificate = tmp_path / "server.crt"
    certificate.write_text("not used\n", encoding="utf-8")

    message = _refusal(
        "--agency", AGENCY.value, "--feed", str(feed), "--keys", str(tmp_path / "keys"),
        "--state", str(tmp_path / "state"), "--tls-cert", str(certificate),
        cwd=tmp_path,
    )  # fmt: skip

    assert "--tls-key" in message


def test_a_certificate_that_cannot_be_loaded_is_a_configuration_error(
    tmp_path: Path, feed: Path
) -> None:
    """TLS files that are not a certificate and its key are refused in one sentence."""
    make_keys(tmp_path / "keys")
    certificate, key = tmp_path / "server.crt", tmp_path / "server.key"
    certificate.write_text("not a certificate\n", encoding="utf-8")
    key.write_text("not a key\n", encoding="utf-8")

    message = _refusal(
        "--agency", AGENCY.value, "--feed", str(feed), "--keys", str(tmp_path / "keys"),
        "--state", str(tmp_path / "state"), "--tls-cert", str(certificate),
        "--tls-key", str(key),
        cwd=tmp_path,
    )  # fmt: skip

    assert message.strip() == "Error: The TLS certificate or key cannot be loaded."


def test_a_gateway_without_its_own_signing_key_does_not_start(tmp_path: Path, feed: Path) -> None:
    """Feed pages could not be signed, so the gateway refuses at start, not on the first page.

    The keys are read before the notice store is made: the refusal leaves no store.
    """
    make_keys(tmp_path / "keys")
    for signing_key in (tmp_path / "keys" / "private" / AGENCY.value).glob("sign-*.pem"):
        signing_key.unlink()

    message = _refusal(
        "--agency", AGENCY.value, "--feed", str(feed), "--keys", str(tmp_path / "keys"),
        "--state", str(tmp_path / "state"),
        cwd=tmp_path,
    )  # fmt: skip

    assert "private key" in message
    assert not (tmp_path / "state" / STORE_FILE).exists()


@pytest.mark.parametrize(
    "missing", ["ARMS_SYNC_GATEWAY_CLIENT_ID", "ARMS_SYNC_GATEWAY_CLIENT_SECRET"]
)
def test_a_gateway_given_only_half_its_credentials_does_not_start(
    tmp_path: Path, feed: Path, missing: str
) -> None:
    """A client id without a secret (or the reverse) is bad usage, never an open gateway."""
    make_keys(tmp_path / "keys")

    message = _refusal(
        "--agency", AGENCY.value, "--feed", str(feed), "--keys", str(tmp_path / "keys"),
        "--state", str(tmp_path / "state"),
        cwd=tmp_path,
        env={**CREDENTIALS, missing: ""},
    )  # fmt: skip

    assert "--client-id and --client-secret" in message


def test_page_size_sets_the_records_of_a_page_asked_for_without_a_limit(
    tmp_path: Path, feed: Path
) -> None:
    """`--page-size 2` answers a feed request that names no limit with two records."""
    keyrings = make_keys(tmp_path / "keys")
    gateway = start_gateway(
        agency=AGENCY,
        feed=feed,
        keys=tmp_path / "keys",
        state=tmp_path / "state",
        cwd=tmp_path,
        extra=("--page-size", "2"),
    )
    try:
        token = requests.post(
            f"{gateway.url}/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            timeout=5,
        ).json()["access_token"]
        page = requests.get(
            f"{gateway.url}/feed", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
    finally:
        assert gateway.stop() == 0

    assert page.status_code == 200
    opened = open_envelope(
        page.json()["envelope"].encode("ascii"),
        keyring=keyrings[Party.HUB],
        now=datetime.now(UTC),
        max_skew=timedelta(minutes=5),
        replay_guard=None,
    )
    assert [json.loads(line)["id"] for line in opened.plaintext.splitlines()] == [
        "R-000000",
        "R-000001",
    ]


def test_an_interrupt_stops_the_gateway_cleanly(tmp_path: Path, feed: Path) -> None:
    """Ctrl-C (SIGINT) stops it as SIGTERM does: exit 0 and the closing summary, nothing else."""
    make_keys(tmp_path / "keys")
    gateway = start_gateway(
        agency=AGENCY, feed=feed, keys=tmp_path / "keys", state=tmp_path / "state", cwd=tmp_path
    )
    gateway.process.send_signal(signal.SIGINT)
    try:
        status = gateway.process.wait(timeout=15)
    finally:
        gateway.stop()

    assert status == 0
    said = gateway.log.read_text(encoding="utf-8").splitlines()
    assert said[0].startswith("police gateway requests: ")
    assert said[1].startswith("police gateway stopped; injected faults: ")
