"""Gateways that fail 30% of calls: every notice batch lands once, every page arrives once.

The gateway answers a seeded 30% of token, feed and notice calls with HTTP 500,
HTTP 503 with `Retry-After`, an answer slower than the client waits, a dropped
connection or a garbage body; the last three after doing the work. The client
retries with short delays, and waits out each one-second `Retry-After`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.crypto import KeyRing, Party, open_envelope
from sync.gateway.client import GatewayClient
from sync.gateway.retry import RetryPolicy
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    make_keys,
    notice_batch,
    start_gateway,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.PROBATION
FEED_RECORDS = 2_000
PAGE_LIMIT = 100
BATCHES = 50
FAIL_RATE = "0.3"
FAULT_SEED = "20261128"
FAULT_DELAY = "3"  # above the read timeout by more than a loaded machine stalls
CLIENT_TIMEOUT = (1.0, 1.5)  # a normal answer stalled past it would shift the faults
# max_delay reaches the injected 503s' one-second Retry-After, so the client waits it out.
RETRY = RetryPolicy(max_attempts=15, base_delay=0.01, max_delay=1.0)


@pytest.fixture(scope="module")
def keyrings_and_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[Party, KeyRing], Path]:
    keys = tmp_path_factory.mktemp("keys")
    return make_keys(keys), keys


@pytest.fixture
def faulty(
    tmp_path: Path, keyrings_and_dir: tuple[dict[Party, KeyRing], Path]
) -> Iterator[tuple[RunningGateway, list[dict[str, object]]]]:
    feed = tmp_path / "probation.jsonl"
    records = write_feed(feed, AGENCY.value, FEED_RECORDS)
    gateway = start_gateway(
        agency=AGENCY,
        feed=feed,
        keys=keyrings_and_dir[1],
        state=tmp_path / "state",
        cwd=tmp_path,
        extra=(
            "--fail-rate",
            FAIL_RATE,
            "--fault-seed",
            FAULT_SEED,
            "--fault-delay",
            FAULT_DELAY,
            "--page-size",
            str(PAGE_LIMIT),
        ),
    )
    try:
        yield gateway, records
    finally:
        assert gateway.stop() == 0


def _client(url: str, hub: KeyRing, sleeps: list[float]) -> GatewayClient:
    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    return GatewayClient(
        url,
        agency=AGENCY,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        keyring=hub,
        timeout=CLIENT_TIMEOUT,
        retry=RETRY,
        sleep=sleep,
    )


def _pull_all(client: GatewayClient, hub: KeyRing) -> list[dict[str, object]]:
    records: list[dict[str, object]] = []
    for page in client.pages(None, PAGE_LIMIT):
        if page.envelope is None:
            continue
        opened = open_envelope(
            page.envelope,
            keyring=hub,
            now=datetime.now(UTC),
            max_skew=timedelta(minutes=5),
            replay_guard=None,
        )
        records.extend(json.loads(line) for line in opened.plaintext.splitlines())
    return records


def test_every_batch_lands_once_and_every_page_arrives_once(
    faulty: tuple[RunningGateway, list[dict[str, object]]],
    keyrings_and_dir: tuple[dict[Party, KeyRing], Path],
) -> None:
    gateway, records = faulty
    hub = keyrings_and_dir[0][Party.HUB]
    batches = [notice_batch(hub, AGENCY, number) for number in range(BATCHES)]
    sleeps: list[float] = []
    with _client(gateway.url, hub, sleeps) as client:
        receipts = [client.deliver(batch) for batch in batches]
        pulled = _pull_all(client, hub)

    sent_ids = [json.loads(batch)["header"]["msg_id"] for batch in batches]
    assert [receipt.msg_id for receipt in receipts] == sent_ids
    with _client(gateway.url, hub, []) as inspector:
        stored = inspector.received_notices()
    assert sorted(row["msg_id"] for row in stored) == sorted(sent_ids)
    assert sorted(row["batch"]["batch"] for row in stored) == list(range(BATCHES))
    assert pulled == records
    assert sleeps, "the gateway was expected to fail some calls"
    assert gateway.stop() == 0
    injected = _injected(gateway.log.read_text(encoding="utf-8"))
    assert all(injected[fault] > 0 for fault in ("500", "503", "slow", "drop", "garbage"))


def _injected(log: str) -> dict[str, int]:
    summary = log.rsplit("injected faults: ", 1)[1].split(".", 1)[0]
    return {name: int(count) for name, count in (item.split("=") for item in summary.split())}
