"""One delivery pass to an agency: its counts, its schedule, its lock, keys it lacks, its result.

On SQLite, against the probation reference gateway on 127.0.0.1 behind a
scripted front (`fronted_gateway.py`): the hub's real client gets real tokens
and real signed receipts, and the gateway's failures come where each test
scripts them. Each batch the gateway takes is counted with all its notices
and its receipt stored; a cycle's prompt pass skips the back-off of a failed
batch, the beat's does not; one process at a time delivers to an agency;
batches kept unsealed wait for a key directory; a missing key holds nothing
when nothing waits; a deliver task's result names a refusal, the failure and
what holds batches; and a run delivers promptly to each gateway it read from,
and to no other, telling in its summary what each delivery did.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.crypto import Party
from sync.crypto.keyring import data_key_path, list_keys, revoke, rotate
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
from sync.errors import EnvelopeRefusedError, RetryableGatewayError
from sync.feeds.files import PlainFileSource
from sync.gateway.client import GatewayClient
from sync.gateway_source import GatewaySource
from sync.ledger import schema
from sync.settings import load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.integration.fronted_gateway import FrontedGateway, fronted_gateway, hub_client
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, make_keys, write_feed
from tests.integration.test_gateway_retry_after import TODAY, Clock
from tests.scripted_http import Reply, reply

pytestmark = pytest.mark.integration

AGENCY = Party.PROBATION.value
NOTICES = "notices"
GATEWAY_FEED_RECORDS = 5
# The gateway's own answers, as it gives them when it fails, when it refuses an
# envelope, and when the envelope was sealed outside its clock-skew window.
FAILED = reply(500, {"error": "internal_error", "reason": "The gateway failed."})
REFUSED = reply(
    400, {"error": "envelope_rejected", "reason": "The notice batch is not a JSON object."}
)
STALE = reply(
    400,
    {
        "error": "stale_envelope",
        "reason": "The envelope was sealed outside the allowed clock-skew window; seal it again.",
    },
)
FAILED_SAYS = (
    "the probation gateway did not answer POST /notices after 1 attempt "
    "(last: HTTP 500 internal_error)."
)
# The refusal in the hub's words, naming the keys the envelope was sealed under.
REFUSED_SAYS = re.compile(
    re.escape("the probation gateway refused the envelope with HTTP 400 (envelope_rejected)")
    + "; the envelope was signed with hub key [0-9a-f]{32} and sealed to probation key "
    "[0-9a-f]{32}[.]"
)
NO_KEY_DIRECTORY = "the notices wait for a key directory to seal them with."


def asking_to_wait(seconds: int) -> Reply:
    """The gateway's busy answer with a `Retry-After` of `seconds`."""
    return reply(
        503,
        {"error": "unavailable", "reason": "The gateway is busy; try again later."},
        headers={"Retry-After": str(seconds)},
    )


@contextmanager
def hub(tmp_path: Path, keys: Path, clock: Clock, *, key_ring: bool = True) -> Iterator[App]:
    """The hub on its SQLite ledger, its key ring read afresh, one attempt a gateway call;
    without `key_ring`, only the ledger's at-rest key is given (no key directory to seal
    notices with)."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    gateway = {
        "gateway_client_id": CLIENT_ID,
        "gateway_client_secret": CLIENT_SECRET,
        "gateway_retry_attempts": 1,
    }
    if key_ring:
        settings = load_settings(None, database_url=url, keys_dir=keys, **gateway)
    else:
        key_file = data_key_path(keys)
        settings = load_settings(None, database_url=url, at_rest_key_file=key_file, **gateway)
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


def receipt_msg_id(receipt: bytes | None) -> str | None:
    """The envelope a stored signed receipt names, or None for no receipt."""
    if receipt is None:
        return None
    return str(json.loads(json.loads(receipt)["receipt"])["msg_id"])


def revoke_only_key(keys: Path, party: Party) -> None:
    """Revoke the party's only key, no new one imported."""
    only = next(info for info in list_keys(keys) if info.party is party)
    revoke(keys, party, only.key_id)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Keys for every party."""
    folder = tmp_path / "keys"
    make_keys(folder)
    return folder


@contextmanager
def probation_gateway(tmp_path: Path, keys: Path, name: str) -> Iterator[FrontedGateway]:
    """The probation reference gateway, its notices endpoint behind a scripted front."""
    feed = tmp_path / f"{name}-feed.jsonl"
    write_feed(feed, AGENCY, GATEWAY_FEED_RECORDS)
    with fronted_gateway(Party.PROBATION, keys, feed, tmp_path / name, NOTICES) as front:
        yield front


@pytest.fixture
def front(tmp_path: Path, keys: Path) -> Iterator[FrontedGateway]:
    """The probation gateway the hub delivers to, failing where a test scripts it."""
    with probation_gateway(tmp_path, keys, "gateway") as gateway:
        yield gateway


@pytest.fixture
def client(front: FrontedGateway, keys: Path) -> Iterator[GatewayClient]:
    """The hub's real client for that gateway."""
    with hub_client(front.url, Party.PROBATION, keys) as hub_gateway:
        yield hub_gateway


@pytest.fixture
def app(tmp_path: Path, keys: Path) -> Iterator[App]:
    """A hub whose outbox holds a run's notice batches for both agencies."""
    with hub(tmp_path, keys, Clock()) as application:
        queue_notices(application, tmp_path)
        yield application


def test_a_pass_counts_every_notice_of_each_batch_and_stores_its_receipt(
    app: App, front: FrontedGateway, client: GatewayClient
) -> None:
    queued = batches(app)
    others = batches(app, Party.POLICE.value)
    assert sum(notices for _, notices, _, _ in queued) > len(queued)
    delivery = deliver_pass(app, AGENCY, client)
    counts = delivery.counts
    assert (counts.delivered, counts.pending, counts.failed) == (len(queued), 0, 0)
    assert counts.notices == sum(notices for _, notices, _, _ in queued)
    assert front.delivered_msg_ids() == [batch_id for batch_id, _, _, _ in queued]
    assert [(a, receipt_msg_id(r)) for _, _, a, r in batches(app)] == [
        (1, batch_id) for batch_id, _, _, _ in queued
    ]
    assert batches(app, Party.POLICE.value) == others  # the other agency's wait for its own pass
    assert delivery.why_waiting is None


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        (FAILED, RetryableGatewayError, re.compile(re.escape(FAILED_SAYS))),
        (REFUSED, EnvelopeRefusedError, REFUSED_SAYS),
    ],
    ids=["failed", "refused"],
)
def test_a_prompt_pass_tries_a_failed_batch_at_once_and_the_beat_waits_its_back_off(
    app: App,
    front: FrontedGateway,
    client: GatewayClient,
    answer: Reply,
    error: type[Exception],
    says: re.Pattern[str],
) -> None:
    queued = batches(app)
    front.script = [answer]
    failed = deliver_pass(app, AGENCY, client, rand=lambda: 0.5)
    assert (failed.counts.failed, failed.counts.pending) == (1, len(queued))
    assert type(failed.failure) is error
    assert says.fullmatch(str(failed.failure))
    beat = deliver_pass(app, AGENCY, client)  # the clock has not moved
    assert (len(front.endpoint_calls()), beat.counts.delivered) == (1, 0)
    assert beat.counts.pending == len(queued)
    prompt = deliver_pass(app, AGENCY, client, ignore_schedule=True)
    assert (prompt.counts.delivered, prompt.counts.pending) == (len(queued), 0)
    assert [attempts for _, _, attempts, _ in batches(app)] == [2] + [1] * (len(queued) - 1)


def _envelopes(app: App) -> list[bytes]:
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        query = select(table.c.envelope).where(table.c.agency == AGENCY).order_by(table.c.position)
        return [bytes(envelope) for envelope in conn.execute(query).scalars()]


def test_a_batch_refused_as_sealed_too_long_ago_is_sealed_again_and_delivered_in_the_pass(
    app: App, front: FrontedGateway, client: GatewayClient
) -> None:
    before = _envelopes(app)
    front.script = [STALE]
    delivery = deliver_pass(app, AGENCY, client)
    after = _envelopes(app)
    assert (delivery.failure, delivery.counts.failed, delivery.counts.pending) == (None, 0, 0)
    assert delivery.counts.delivered == len(before)
    assert after[0] != before[0]
    assert after[1:] == before[1:]
    posted = [json.loads(envelope)["header"]["msg_id"] for envelope in before]
    assert front.delivered_msg_ids() == [posted[0], *posted]  # the first twice: refused, then
    assert [receipt_msg_id(r) for _, _, _, r in batches(app)] == posted


def test_one_process_at_a_time_delivers_to_an_agency(
    app: App, front: FrontedGateway, client: GatewayClient
) -> None:
    with delivery_lock(app.ledger.engine, AGENCY) as free:
        assert free
        with delivery_lock(app.ledger.engine, AGENCY) as again:
            assert not again
        with delivery_lock(app.ledger.engine, Party.POLICE.value) as other:
            assert other  # each agency has its own lock
        assert deliver_when_free(app, AGENCY, client) is None
        assert deliver_to(app, AGENCY, front.url) is None
    assert front.endpoint_calls() == []
    delivery = deliver_when_free(app, AGENCY, client)  # released when the holder is done
    assert delivery is not None
    assert delivery.counts.delivered == len(batches(app)) > 0


def test_batches_kept_unsealed_wait_for_a_key_directory(
    tmp_path: Path, keys: Path, front: FrontedGateway, client: GatewayClient
) -> None:
    revoke_only_key(keys, Party.PROBATION)
    with hub(tmp_path, keys, Clock()) as app:
        queue_notices(app, tmp_path)
    with hub(tmp_path, keys, Clock(), key_ring=False) as app:
        queued = batches(app)
        delivery = deliver_pass(app, AGENCY, client)
    assert queued
    assert front.endpoint_calls() == []
    assert delivery.held == NO_KEY_DIRECTORY
    assert (delivery.counts.pending, delivery.counts.delivered) == (len(queued), 0)
    assert delivery.why_waiting == NO_KEY_DIRECTORY


def test_a_missing_key_holds_nothing_when_no_batch_waits(
    tmp_path: Path, keys: Path, front: FrontedGateway, client: GatewayClient
) -> None:
    with hub(tmp_path, keys, Clock()) as app:
        queue_notices(app, tmp_path)
        assert deliver_pass(app, AGENCY, client).counts.pending == 0
    delivered = len(front.endpoint_calls())
    revoke_only_key(keys, Party.PROBATION)
    with hub(tmp_path, keys, Clock()) as app:
        delivery = deliver_pass(app, AGENCY, client)
    assert (delivery.held, delivery.why_waiting) == (None, None)
    assert len(front.endpoint_calls()) == delivered > 0


def test_a_deliver_tasks_result_names_the_refusal_and_the_keys_it_was_sealed_under(
    app: App, front: FrontedGateway
) -> None:
    queued = len(batches(app))
    front.script = [REFUSED]
    result = deliver_to(app, AGENCY, front.url)
    assert result is not None
    failure = result.pop(RESULT_FAILURE)
    assert result == {
        "delivered": 0,
        "notices": 0,
        "failed": 1,
        "pending": queued,
        RESULT_REFUSED: "EnvelopeRefusedError",
    }
    assert REFUSED_SAYS.fullmatch(failure)


def test_a_deliver_tasks_result_names_a_failure_that_is_no_refusal(
    app: App, front: FrontedGateway
) -> None:
    front.script = [FAILED]
    result = deliver_to(app, AGENCY, front.url)
    assert result is not None
    assert (result[RESULT_FAILURE], result["failed"]) == (FAILED_SAYS, 1)
    assert RESULT_REFUSED not in result
    assert RESULT_HELD not in result


def test_a_deliver_tasks_result_says_why_batches_are_held(
    tmp_path: Path, keys: Path, front: FrontedGateway
) -> None:
    with hub(tmp_path, keys, Clock()) as app:
        queue_notices(app, tmp_path)
    revoke_only_key(keys, Party.PROBATION)
    with hub(tmp_path, keys, Clock()) as app:
        result = deliver_to(app, AGENCY, front.url)
    assert result is not None
    assert "probation has no active" in result[RESULT_HELD]
    assert (result["delivered"], front.endpoint_calls()) == (0, [])
    assert RESULT_FAILURE not in result


def test_the_beats_deliver_task_waits_the_back_off_and_a_cycles_does_not(
    app: App, front: FrontedGateway
) -> None:
    queued = len(batches(app))
    front.script = [FAILED]
    assert deliver_to(app, AGENCY, front.url) is not None
    beat = deliver_to(app, AGENCY, front.url)
    assert beat is not None
    assert (len(front.endpoint_calls()), beat["delivered"], beat["pending"]) == (1, 0, queued)
    assert RESULT_FAILURE not in beat  # nothing was tried
    prompt = deliver_to(app, AGENCY, front.url, ignore_schedule=True)
    assert prompt is not None
    assert (prompt["delivered"], prompt["pending"]) == (queued, 0)


def _gateway_sources(
    app: App, front: FrontedGateway, client: GatewayClient
) -> dict[str, GatewaySource | PlainFileSource]:
    """The probation gateway and a police feed file."""
    gateway = GatewaySource(app, front.url, AGENCY, client)
    return {AGENCY: gateway, Party.POLICE.value: PlainFileSource(Path("police.jsonl"))}


def test_a_run_delivers_promptly_to_each_gateway_it_read_from_and_tells_what_it_did(
    app: App, front: FrontedGateway, client: GatewayClient
) -> None:
    queued = batches(app)
    front.script = [FAILED]
    first = RunSummary(run_id=1, as_of=TODAY)
    deliver_to_gateways(app, _gateway_sources(app, front, client), first)
    assert first.delivered == {
        AGENCY: {"delivered": 0, "notices": 0, "failed": 1, "pending": len(queued)}
    }
    assert first.delivery_errors == {AGENCY: FAILED_SAYS}
    second = RunSummary(run_id=2, as_of=TODAY)
    deliver_to_gateways(app, _gateway_sources(app, front, client), second)  # within the back-off
    notices = sum(count for _, count, _, _ in queued)
    assert second.delivered == {
        AGENCY: {"delivered": len(queued), "notices": notices, "failed": 0, "pending": 0}
    }
    assert (second.delivery_errors, second.delivery_notes) == ({}, {})
    assert batches(app, Party.POLICE.value)[0][3] is None  # no gateway of its own was given


def test_a_run_leaves_an_agency_to_the_process_delivering_to_it(
    app: App, front: FrontedGateway, client: GatewayClient
) -> None:
    summary = RunSummary(run_id=1, as_of=TODAY)
    with delivery_lock(app.ledger.engine, AGENCY):
        deliver_to_gateways(app, _gateway_sources(app, front, client), summary)
    assert summary.delivery_notes == {AGENCY: DELIVERING_ELSEWHERE}
    assert (summary.delivery_errors, summary.delivered, front.endpoint_calls()) == ({}, {}, [])


def test_a_run_tells_a_receipt_signed_with_a_key_the_hub_lacks_and_what_to_import(
    app: App, tmp_path: Path, keys: Path
) -> None:
    """The gateway rotated its keys and the hub has not imported them: the envelopes
    still open (the old key is in its grace period), but no receipt verifies."""
    rotated = tmp_path / "gateway-keys"
    shutil.copytree(keys, rotated)
    rotate(rotated, Party.PROBATION, timedelta(days=7))
    with (
        probation_gateway(tmp_path, rotated, "rotated") as front,
        hub_client(front.url, Party.PROBATION, keys) as client,
    ):
        summary = RunSummary(run_id=1, as_of=TODAY)
        deliver_to_gateways(app, _gateway_sources(app, front, client), summary)
        assert len(front.endpoint_calls()) == 1
    told = summary.delivery_errors[AGENCY]
    assert told.startswith("the probation gateway's receipt does not verify: it is signed with")
    assert told.endswith("`arms-sync keys import --party probation RING`.")
    assert summary.delivered[AGENCY]["delivered"] == 0
    assert all(receipt is None for _, _, _, receipt in batches(app))


@pytest.mark.parametrize(
    ("asked_seconds", "later_seconds"),
    [(600, 60), (5, 2)],
    ids=["as-long-as-the-back-off", "shorter-than-the-back-off"],
)
def test_batches_a_gateway_asked_to_wait_for_say_until_when(
    tmp_path: Path,
    keys: Path,
    front: FrontedGateway,
    client: GatewayClient,
    asked_seconds: int,
    later_seconds: int,
) -> None:
    """A run, a deliver task and `status` tell when the held batches will next be tried:
    the end of the wait the gateway asked for, even when it is shorter than the back-off
    (a prompt pass keeps only the gateway's wait, not the later scheduled attempt)."""
    clock = Clock()
    with hub(tmp_path, keys, clock) as app:
        queue_notices(app, tmp_path)
        front.script = [asking_to_wait(asked_seconds)]
        first = RunSummary(run_id=1, as_of=TODAY)
        deliver_to_gateways(app, _gateway_sources(app, front, client), first)
        asked_until = clock.now + timedelta(seconds=asked_seconds)
        clock.now += timedelta(seconds=later_seconds)
        second = RunSummary(run_id=2, as_of=TODAY)
        deliver_to_gateways(app, _gateway_sources(app, front, client), second)
        result = deliver_to(app, AGENCY, front.url, ignore_schedule=True)

    due = asked_until.astimezone(UTC)
    assert second.delivery_errors == {
        AGENCY: "notices are still waiting for delivery, the next attempt not before "
        f"{due:%Y-%m-%d %H:%M:%S} UTC"
    }
    assert len(front.endpoint_calls()) == 1
    assert result is not None
    assert datetime.fromisoformat(result[RESULT_NEXT_ATTEMPT]) == due
