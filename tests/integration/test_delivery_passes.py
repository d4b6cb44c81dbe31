"""One delivery pass to an agency: its counts, its schedule, its lock, keys it lacks, its result.

On SQLite, with a scripted client in place of the gateway: each batch the
client takes is counted with all its notices and its receipt stored; a
cycle's prompt pass skips the back-off of a failed batch, the beat's does
not; one process at a time delivers to an agency; batches kept unsealed wait
for a key directory; a missing key holds nothing when nothing waits; a
deliver task's result names a refusal, the failure and what holds batches;
and a run delivers promptly to each gateway it read from, and to no other,
telling in its summary what each delivery did.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.crypto import Party
from sync.crypto.keyring import data_key_path, list_keys, revoke
from sync.cycle import DELIVERING_ELSEWHERE, RunSummary, deliver_to_gateways, run_cycle
from sync.delivery import (
    RESULT_FAILURE,
    RESULT_HELD,
    RESULT_NEXT_ATTEMPT,
    RESULT_REFUSED,
    deliver_pass,
    deliver_to,
    deliver_when_free,
    delivery_lock,
)
from sync.errors import (
    CryptoError,
    GatewayError,
    PermanentGatewayError,
    RetryableGatewayError,
    RetryAfterError,
    StaleEnvelopeError,
)
from sync.feeds.files import PlainFileSource
from sync.gateway.client import GatewayClient
from sync.gateway_source import GatewaySource
from sync.ledger import schema
from sync.settings import load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.integration.gateway_process import make_keys
from tests.integration.test_gateway_retry_after import TODAY, Clock

pytestmark = pytest.mark.integration

AGENCY = Party.PROBATION.value
GATEWAY_URL = "http://127.0.0.1:9"  # never called: the scripted client answers
REFUSED = "The probation gateway refused the notice batch (400 bad_request)."
BUSY = "The probation gateway answered 503."
STALE = "The probation gateway refused the notice batch as sealed too long ago."
NO_KEY_DIRECTORY = "the notices wait for a key directory to seal them with."


@dataclass(frozen=True)
class Receipt:
    """A receipt as the scripted client answers it."""

    raw: bytes


class ScriptedClient:
    """Delivers each envelope, failing first with the scripted errors, in order."""

    def __init__(self, *failures: GatewayError | CryptoError) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.taken: list[str] = []

    def deliver(self, envelope: bytes) -> Receipt:
        """The next scripted failure, else a receipt naming the envelope's message id."""
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        msg_id = str(json.loads(envelope)["header"]["msg_id"])
        self.taken.append(msg_id)
        return Receipt(f"receipt:{msg_id}".encode())


@contextmanager
def hub(tmp_path: Path, keys: Path, clock: Clock, *, key_ring: bool = True) -> Iterator[App]:
    """The hub on its SQLite ledger, its key ring read afresh; without `key_ring`, only the
    ledger's at-rest key is given (no key directory to seal notices with)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    if key_ring:
        settings = load_settings(None, database_url=url, keys_dir=keys)
    else:
        settings = load_settings(None, database_url=url, at_rest_key_file=data_key_path(keys))
    app = App(settings, clock=clock)
    app.ledger.ensure_schema()
    try:
        yield app
    finally:
        app.close()


def queue_notices(app: App, tmp_path: Path) -> None:
    """An in-process run over synthetic feeds: notice batches for both agencies."""
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=40, seed=7, today=TODAY))
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    run_cycle(app, sources, TODAY)


def batches(app: App, agency: str = AGENCY) -> list[tuple[str, int, int, bytes | None]]:
    """The agency's batches in queue order: id, notices, attempts, receipt."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.batch_id, table.c.notice_count, table.c.attempts, table.c.receipt)
            .where(table.c.agency == agency)
            .order_by(table.c.position)
        ).all()
    return [(str(b), int(n), int(a), None if r is None else bytes(r)) for b, n, a, r in rows]


def revoke_only_key(keys: Path, party: Party) -> None:
    """Revoke the party's only key, no new one imported."""
    only = next(info for info in list_keys(keys) if info.party is party)
    revoke(keys, party, only.key_id)


def _client_for(monkeypatch: pytest.MonkeyPatch, app: App, client: ScriptedClient) -> None:
    def gateway_client(_url: str, _agency: str) -> GatewayClient:
        return client  # type: ignore[return-value]

    monkeypatch.setattr(app, "gateway_client", gateway_client)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Keys for every party."""
    folder = tmp_path / "keys"
    make_keys(folder)
    return folder


@pytest.fixture
def app(tmp_path: Path, keys: Path) -> Iterator[App]:
    """A hub whose outbox holds a run's notice batches for both agencies."""
    with hub(tmp_path, keys, Clock()) as application:
        queue_notices(application, tmp_path)
        yield application


def test_a_pass_counts_every_notice_of_each_batch_and_stores_its_receipt(app: App) -> None:
    queued = batches(app)
    others = batches(app, Party.POLICE.value)
    assert sum(notices for _, notices, _, _ in queued) > len(queued)
    client = ScriptedClient()
    delivery = deliver_pass(app, AGENCY, client)
    counts = delivery.counts
    assert (counts.delivered, counts.pending, counts.failed) == (len(queued), 0, 0)
    assert counts.notices == sum(notices for _, notices, _, _ in queued)
    assert client.taken == [batch_id for batch_id, _, _, _ in queued]
    assert [(a, r) for _, _, a, r in batches(app)] == [
        (1, f"receipt:{batch_id}".encode()) for batch_id, _, _, _ in queued
    ]
    assert batches(app, Party.POLICE.value) == others  # the other agency's wait for its own pass
    assert delivery.why_waiting is None


@pytest.mark.parametrize("failure", [RetryableGatewayError(BUSY), PermanentGatewayError(REFUSED)])
def test_a_prompt_pass_tries_a_failed_batch_at_once_and_the_beat_waits_its_back_off(
    app: App, failure: GatewayError
) -> None:
    queued = batches(app)
    client = ScriptedClient(failure)
    failed = deliver_pass(app, AGENCY, client, rand=lambda: 0.5)
    assert (failed.counts.failed, failed.counts.pending, failed.failure) == (
        1,
        len(queued),
        failure,
    )
    beat = deliver_pass(app, AGENCY, client)  # the clock has not moved
    assert (client.calls, beat.counts.delivered, beat.counts.pending) == (1, 0, len(queued))
    prompt = deliver_pass(app, AGENCY, client, ignore_schedule=True)
    assert (prompt.counts.delivered, prompt.counts.pending) == (len(queued), 0)
    assert [attempts for _, _, attempts, _ in batches(app)] == [2] + [1] * (len(queued) - 1)


def _envelopes(app: App) -> list[bytes]:
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        query = select(table.c.envelope).where(table.c.agency == AGENCY).order_by(table.c.position)
        return [bytes(envelope) for envelope in conn.execute(query).scalars()]


def test_a_batch_refused_as_sealed_too_long_ago_is_sealed_again_and_delivered_in_the_pass(
    app: App,
) -> None:
    before = _envelopes(app)
    client = ScriptedClient(StaleEnvelopeError(STALE))
    delivery = deliver_pass(app, AGENCY, client)
    after = _envelopes(app)
    assert (delivery.failure, delivery.counts.failed, delivery.counts.pending) == (None, 0, 0)
    assert delivery.counts.delivered == len(before)
    assert after[0] != before[0]
    assert after[1:] == before[1:]
    assert client.taken == [json.loads(envelope)["header"]["msg_id"] for envelope in before]


def test_one_process_at_a_time_delivers_to_an_agency(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ScriptedClient()
    _client_for(monkeypatch, app, client)
    with delivery_lock(app.ledger.engine, AGENCY) as free:
        assert free
        with delivery_lock(app.ledger.engine, AGENCY) as again:
            assert not again
        with delivery_lock(app.ledger.engine, Party.POLICE.value) as other:
            assert other  # each agency has its own lock
        assert deliver_when_free(app, AGENCY, client) is None
        assert deliver_to(app, AGENCY, GATEWAY_URL) is None
    assert client.calls == 0
    delivery = deliver_when_free(app, AGENCY, client)  # released when the holder is done
    assert delivery is not None
    assert delivery.counts.delivered == len(batches(app)) > 0


def test_batches_kept_unsealed_wait_for_a_key_directory(tmp_path: Path, keys: Path) -> None:
    revoke_only_key(keys, Party.PROBATION)
    with hub(tmp_path, keys, Clock()) as app:
        queue_notices(app, tmp_path)
    with hub(tmp_path, keys, Clock(), key_ring=False) as app:
        queued = batches(app)
        client = ScriptedClient()
        delivery = deliver_pass(app, AGENCY, client)
    assert queued
    assert client.calls == 0
    assert delivery.held == NO_KEY_DIRECTORY
    assert (delivery.counts.pending, delivery.counts.delivered) == (len(queued), 0)
    assert delivery.why_waiting == NO_KEY_DIRECTORY


def test_a_missing_key_holds_nothing_when_no_batch_waits(tmp_path: Path, keys: Path) -> None:
    with hub(tmp_path, keys, Clock()) as app:
        queue_notices(app, tmp_path)
        assert deliver_pass(app, AGENCY, ScriptedClient()).counts.pending == 0
    revoke_only_key(keys, Party.PROBATION)
    with hub(tmp_path, keys, Clock()) as app:
        client = ScriptedClient()
        delivery = deliver_pass(app, AGENCY, client)
    assert (delivery.held, delivery.why_waiting, client.calls) == (None, None, 0)


def test_a_deliver_tasks_result_names_the_refusal_and_the_gateways_sentence(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = len(batches(app))
    _client_for(monkeypatch, app, ScriptedClient(PermanentGatewayError(REFUSED)))
    result = deliver_to(app, AGENCY, GATEWAY_URL)
    assert result == {
        "delivered": 0,
        "notices": 0,
        "failed": 1,
        "pending": queued,
        RESULT_REFUSED: "PermanentGatewayError",
        RESULT_FAILURE: REFUSED,
    }


def test_a_deliver_tasks_result_names_a_failure_that_is_no_refusal(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    _client_for(monkeypatch, app, ScriptedClient(RetryableGatewayError(BUSY)))
    result = deliver_to(app, AGENCY, GATEWAY_URL)
    assert result is not None
    assert (result[RESULT_FAILURE], result["failed"]) == (BUSY, 1)
    assert RESULT_REFUSED not in result
    assert RESULT_HELD not in result


def test_a_deliver_tasks_result_says_why_batches_are_held(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hub(tmp_path, keys, Clock()) as app:
        queue_notices(app, tmp_path)
    revoke_only_key(keys, Party.PROBATION)
    with hub(tmp_path, keys, Clock()) as app:
        client = ScriptedClient()
        _client_for(monkeypatch, app, client)
        result = deliver_to(app, AGENCY, GATEWAY_URL)
    assert result is not None
    assert "probation has no active" in result[RESULT_HELD]
    assert (result["delivered"], client.calls) == (0, 0)
    assert RESULT_FAILURE not in result


def test_the_beats_deliver_task_waits_the_back_off_and_a_cycles_does_not(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = len(batches(app))
    client = ScriptedClient(RetryableGatewayError(BUSY))
    _client_for(monkeypatch, app, client)
    assert deliver_to(app, AGENCY, GATEWAY_URL) is not None
    beat = deliver_to(app, AGENCY, GATEWAY_URL)
    assert beat is not None
    assert (client.calls, beat["delivered"], beat["pending"]) == (1, 0, queued)
    assert RESULT_FAILURE not in beat  # nothing was tried
    prompt = deliver_to(app, AGENCY, GATEWAY_URL, ignore_schedule=True)
    assert prompt is not None
    assert (prompt["delivered"], prompt["pending"]) == (queued, 0)


def _gateway_sources(
    app: App, client: ScriptedClient
) -> dict[str, GatewaySource | PlainFileSource]:
    """The probation gateway (the scripted client) and a police feed file."""
    gateway = GatewaySource(app, GATEWAY_URL, AGENCY, client)  # type: ignore[arg-type]
    return {AGENCY: gateway, Party.POLICE.value: PlainFileSource(Path("police.jsonl"))}


def test_a_run_delivers_promptly_to_each_gateway_it_read_from_and_tells_what_it_did(
    app: App,
) -> None:
    queued = batches(app)
    client = ScriptedClient(RetryableGatewayError(BUSY))
    first = RunSummary(run_id=1, as_of=TODAY)
    deliver_to_gateways(app, _gateway_sources(app, client), first)
    assert first.delivered == {
        AGENCY: {"delivered": 0, "notices": 0, "failed": 1, "pending": len(queued)}
    }
    assert first.delivery_errors == {AGENCY: BUSY}
    second = RunSummary(run_id=2, as_of=TODAY)
    deliver_to_gateways(app, _gateway_sources(app, client), second)  # within the back-off
    notices = sum(count for _, count, _, _ in queued)
    assert second.delivered == {
        AGENCY: {"delivered": len(queued), "notices": notices, "failed": 0, "pending": 0}
    }
    assert (second.delivery_errors, second.delivery_notes) == ({}, {})
    assert batches(app, Party.POLICE.value)[0][3] is None  # no gateway of its own was given


def test_a_run_leaves_an_agency_to_the_process_delivering_to_it(app: App) -> None:
    client = ScriptedClient()
    summary = RunSummary(run_id=1, as_of=TODAY)
    with delivery_lock(app.ledger.engine, AGENCY):
        deliver_to_gateways(app, _gateway_sources(app, client), summary)
    assert summary.delivery_notes == {AGENCY: DELIVERING_ELSEWHERE}
    assert (summary.delivery_errors, summary.delivered, client.calls) == ({}, {}, 0)


def test_a_run_tells_a_delivery_that_stopped_on_another_error_as_the_agencys(app: App) -> None:
    broken = CryptoError("The probation gateway's receipt key is not in the key ring.")
    client = ScriptedClient(broken)
    summary = RunSummary(run_id=1, as_of=TODAY)
    deliver_to_gateways(app, _gateway_sources(app, client), summary)
    assert summary.delivery_errors == {AGENCY: str(broken)}
    assert summary.delivered == {}


def test_batches_a_gateway_asked_to_wait_for_say_until_when(
    tmp_path: Path, keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run, a deliver task and `status` tell when the held batches will next be tried."""
    clock = Clock()
    with hub(tmp_path, keys, clock) as app:
        queue_notices(app, tmp_path)
        client = ScriptedClient(RetryAfterError(BUSY, 600.0))
        _client_for(monkeypatch, app, client)
        first = RunSummary(run_id=1, as_of=TODAY)
        deliver_to_gateways(app, _gateway_sources(app, client), first)
        asked_until = clock.now + timedelta(seconds=600)
        clock.now += timedelta(seconds=60)
        second = RunSummary(run_id=2, as_of=TODAY)
        deliver_to_gateways(app, _gateway_sources(app, client), second)
        result = deliver_to(app, AGENCY, GATEWAY_URL, ignore_schedule=True)

    due = asked_until.astimezone(UTC)
    assert second.delivery_errors == {
        AGENCY: "notices are still waiting for delivery, the next attempt not before "
        f"{due:%Y-%m-%d %H:%M:%S} UTC"
    }
    assert client.calls == 1
    assert result is not None
    assert datetime.fromisoformat(result[RESULT_NEXT_ATTEMPT]) == due
