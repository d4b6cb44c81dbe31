"""Helpers for the gateway tests: real keys, a synthetic feed, a real gateway process.

The gateway runs as `arms-sync gateway …` in its own process on 127.0.0.1,
on a port it picks itself (or one it is given) and announces on its first
line of output. Stopped, it says how many requests each endpoint received.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.cli.gateway_cmd import CLIENT_ID_ENV, CLIENT_SECRET_ENV
from sync.crypto import CONTENT_TYPE_NOTICES, KeyRing, Party, generate_party, load_keyring, seal
from sync.gateway.client import GatewayClient
from sync.gateway.retry import RetryPolicy

CLIENT_ID = "arms-sync-hub"
CLIENT_SECRET = secrets.token_urlsafe(32)  # made afresh for each test session
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
LISTENING = "listening on "
REQUESTS = "gateway requests: "
REPO = Path(__file__).resolve().parents[2]
LAUNCH = (
    "import sys\n"
    "from sync.cli.gateway_cmd import gateway\n"
    "from sync.cli.main import cli, main\n"
    "cli.add_command(gateway)\n"
    "main(sys.argv[1:])\n"
)


def make_keys(directory: Path) -> dict[Party, KeyRing]:
    """Keys for every party in one directory, and each party's key ring."""
    for party in Party:
        generate_party(directory, party)
    return {party: load_keyring(directory, party) for party in Party}


def write_feed(path: Path, agency: str, count: int) -> list[dict[str, Any]]:
    """A synthetic feed of `count` records (no real personal data); the records."""
    records = [
        {
            "type": "registration",
            "agency": agency,
            "id": f"R-{number:06d}",
            "person_id": f"P-{number:06d}",
            "start": "2025-01-01",
            "updated_at": "2026-11-01T09:00:00Z",
        }
        for number in range(count)
    ]
    with path.open("w", encoding="utf-8") as stream:
        for number, record in enumerate(records):
            stream.write(json.dumps(record) + "\n")
            if number % 50 == 0:
                stream.write("\n")
    return records


def notice_batch(
    hub: KeyRing,
    agency: Party,
    number: int,
    *,
    now: datetime | None = None,
    msg_id: str | None = None,
) -> bytes:
    """A sealed notice batch from the hub to `agency` (synthetic content)."""
    batch = {"batch": number, "notices": [{"kind": "ownership", "person_id": f"P-{number:06d}"}]}
    return seal(
        json.dumps(batch).encode(),
        sender=Party.HUB,
        recipient=agency,
        keyring=hub,
        content_type=CONTENT_TYPE_NOTICES,
        now=now or datetime.now(UTC),
        msg_id=msg_id,
    )


@dataclass
class RunningGateway:
    """A gateway process and where it listens."""

    process: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self) -> int:
        """SIGTERM, then wait; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


def launch(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `arms-sync` with these arguments; stdout piped, stderr to a file in `cwd`."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    with (cwd / "gateway-stderr.log").open("a", encoding="utf-8") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def start_gateway(
    *,
    agency: Party,
    feed: Path,
    keys: Path,
    state: Path,
    cwd: Path,
    extra: tuple[str, ...] = (),
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    port: int = 0,
) -> RunningGateway:
    """Start a gateway on a loopback port (0: a free one) and wait for its `listening on` line.

    The client credentials go through the environment, as a deployment passes them.
    """
    process = launch(
        "gateway",
        "--agency",
        agency.value,
        "--feed",
        str(feed),
        "--keys",
        str(keys),
        "--state",
        str(state),
        "--port",
        str(port),
        *extra,
        cwd=cwd,
        env={CLIENT_ID_ENV: client_id, CLIENT_SECRET_ENV: client_secret},
    )
    line = _first_line(process)
    if not line.startswith(LISTENING):
        process.kill()
        process.communicate()
        raise RuntimeError("the gateway did not start; see gateway-stderr.log.")
    return RunningGateway(process, line.removeprefix(LISTENING).strip(), cwd / "gateway-stderr.log")


def request_counts(gateway: RunningGateway) -> dict[str, int]:
    """Stop the gateway; how many requests each endpoint received (`token`, `feed`,
    `notices`, …) and how many came without a valid token (`bad-token`), as it said."""
    assert gateway.stop() == 0
    said = gateway.log.read_text(encoding="utf-8").rsplit(REQUESTS, 1)[1].split(".", 1)[0]
    return {name: int(count) for name, count in (item.split("=") for item in said.split())}


def _first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT_SECONDS):
            return ""
    return process.stdout.readline()


def make_client(
    url: str,
    hub: KeyRing,
    agency: Party,
    *,
    retry: RetryPolicy | None = None,
    timeout: tuple[float, float] = (2.0, 5.0),
    ca_bundle: str | Path | None = None,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
) -> GatewayClient:
    """A hub-side client for a running gateway."""
    return GatewayClient(
        url,
        agency=agency,
        client_id=client_id,
        client_secret=client_secret,
        keyring=hub,
        timeout=timeout,
        retry=retry or RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.1),
        ca_bundle=ca_bundle,
    )
