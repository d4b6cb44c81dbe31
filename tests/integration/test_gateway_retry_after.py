"""`Retry-After` over real HTTP on loopback: honoured by the client and by the outbox.

The reference gateway serves on 127.0.0.1 from a thread of the test, with a
scripted fault injector in place of the random one, so the test says which
call answers 503 and with what `Retry-After`. A wait the client is willing to
make inside one call is slept before the retry; a longer one ends the call at
once with an error carrying the wait, and the outbox schedules the batch's
next attempt no sooner than that (checked with an injected clock), even for a
cycle's prompt pass. A feed pull given such a wait does not call the gateway
again before it, whichever run asks, unless an operator clears the wait (audited).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.audit.log import audit_log_for
from sync.crypto import KeyRing, Party
from sync.crypto.replay import InMemoryReplayGuard
from sync.cycle import RunSummary, run_cycle
from sync.distributed.status import AgencyFreshness, agency_freshness
from sync.errors import RetryAfterError
from sync.feeds.files import PlainFileSource
from sync.feeds.models import FeedContext
from sync.gateway.client import GatewayClient
from sync.gateway.faults import Fault, FaultInjector
from sync.gateway.retry import RetryPolicy
from sync.gateway_source import WAIT_CLEARED_PURPOSE, GatewaySource, clear_feed_wait
from sync.ledger import schema
from sync.ledger.moments import as_utc
from sync.settings import load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.integration.delivering import deliver_outbox
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, make_keys, write_feed
from tests.integration.gateway_thread import base_url, gateway_config, serving

pytestmark = pytest.mark.integration

AGENCY = Party.PROBATION
TODAY = date(2026, 11, 28)
LONG_WAIT = 120
SHORT_WAIT = 1
RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=30.0)
HALF = 0.5
FEED_RECORDS = 20


class ScriptedFaults(FaultInjector):
    """Answers the calls that faults may hit, in order, with the scripted faults, then none."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(retry_after_seconds=retry_after_seconds)
        self.script: list[Fault | None] = []
        self.calls = 0
        self._script_lock = threading.Lock()

    def draw(self) -> Fault | None:
        """The next scripted fault, counting the call."""
        with self._script_lock:
            self.calls += 1
            return self.script.pop(0) if self.script else None


@dataclass
class Served:
    """A reference gateway serving on loopback, its scripted faults, and the hub's keys."""

    url: str
    faults: ScriptedFaults
    hub: KeyRing
    keys: Path


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[int], Served]]:
    """Starts the probation gateway on 127.0.0.1, answering 503 with the given
    `Retry-After` when scripted, its notices kept in `gateway-state`; stopped after the
    test."""
    keys = tmp_path / "keys"
    keyrings = make_keys(keys)
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, AGENCY.value, FEED_RECORDS)
    with ExitStack() as started:

        def start(retry_after: int) -> Served:
            config = gateway_config(AGENCY, keyrings[AGENCY], feed, tmp_path / "gateway-state")
            faults = ScriptedFaults(retry_after)
            server = started.enter_context(serving(config, faults))
            return Served(base_url(server), faults, keyrings[Party.HUB], keys)

        yield start


def client(served: Served, sleep: Callable[[float], None] = time.sleep) -> GatewayClient:
    """The hub's client for the gateway (a quarter-second jitter draw)."""
    return GatewayClient(
        served.url,
        agency=AGENCY,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        keyring=served.hub,
        timeout=(2.0, 5.0),
        retry=RETRY,
        sleep=sleep,
        rand=lambda: 0.25,
    )


def test_a_wait_longer_than_a_call_waits_ends_the_call_with_that_wait(
    serve: Callable[[int], Served],
) -> None:
    served = serve(LONG_WAIT)
    slept: list[float] = []
    served.faults.script = [None, Fault.UNAVAILABLE]
    with client(served, slept.append) as hub_client, pytest.raises(RetryAfterError) as caught:
        hub_client.fetch_page(None, 10)
    assert caught.value.retry_after == LONG_WAIT
    assert slept == []
    assert served.faults.calls == 2
    assert "probation gateway" in str(caught.value)


def test_a_wait_within_reach_is_slept_then_the_call_succeeds(
    serve: Callable[[int], Served],
) -> None:
    served = serve(SHORT_WAIT)
    served.faults.script = [None, Fault.UNAVAILABLE]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with client(served, sleep) as hub_client:
        page = hub_client.fetch_page(None, 10)
    assert slept == [SHORT_WAIT]
    assert page.envelope is not None
    assert served.faults.calls == 3


class Clock:
    """A clock the test moves by hand, from now (so envelopes pass the skew check)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def empty_hub(served: Served, tmp_path: Path, clock: Clock) -> App:
    """A hub on a new SQLite ledger, with the keys the gateway knows."""
    settings = load_settings(
        None, database_url=f"sqlite:///{tmp_path / 'hub.db'}", keys_dir=served.keys
    )
    app = App(settings, clock=clock)
    app.ledger.ensure_schema()
    return app


def hub_app(served: Served, tmp_path: Path, clock: Clock) -> App:
    """A hub on an SQLite ledger, one in-process run stored (notice batches in its outbox)."""
    app = empty_hub(served, tmp_path, clock)
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=40, seed=7, today=TODAY))
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    run_cycle(app, sources, TODAY)
    return app


def first_batch(app: App) -> tuple[int, datetime, str | None, bool]:
    """The oldest probation batch: attempts, next attempt time, last error, delivered."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        row = conn.execute(
            select(
                table.c.attempts,
                table.c.next_attempt_at,
                table.c.last_error,
                table.c.delivered_at.is_not(None),
            )
            .where(table.c.agency == AGENCY.value)
            .order_by(table.c.position)
            .limit(1)
        ).one()
    when = as_utc(row[1])
    return int(row[0]), when, row[2], bool(row[3])


def test_the_outbox_tries_a_batch_again_no_sooner_than_the_gateway_asked(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    served = serve(LONG_WAIT)
    clock = Clock()
    app = hub_app(served, tmp_path, clock)
    try:
        asked_at = clock.now
        served.faults.script = [None, Fault.UNAVAILABLE]
        with client(served, lambda _s: pytest.fail("the client slept")) as hub_client:
            counts = deliver_outbox(app, AGENCY.value, hub_client, rand=lambda: HALF)
            assert (counts.delivered, counts.failed) == (0, 1)
            attempts, next_attempt, last_error, delivered = first_batch(app)
            assert (attempts, last_error, delivered) == (1, "RetryAfterError", False)
            assert next_attempt >= asked_at + timedelta(seconds=LONG_WAIT)
            calls = served.faults.calls
            # Neither a cycle's prompt pass nor the beat tries before the time asked for.
            clock.now = asked_at + timedelta(seconds=LONG_WAIT - 1)
            for prompt in (True, False):
                counts = deliver_outbox(app, AGENCY.value, hub_client, ignore_schedule=prompt)
                assert counts.delivered == 0
            assert served.faults.calls == calls
            clock.now = next_attempt
            counts = deliver_outbox(app, AGENCY.value, hub_client)
            assert counts.delivered > 0
            assert counts.pending == 0
    finally:
        app.close()


def pull_feed(app: App, served: Served, hub_client: GatewayClient) -> RunSummary:
    """An in-process run pulling the probation feed from the gateway alone."""
    source = GatewaySource(app, served.url, AGENCY.value, hub_client)
    return run_cycle(app, {AGENCY.value: source}, TODAY)


def probation_freshness(app: App) -> AgencyFreshness:
    """What `status` reads of the probation feed and deliveries."""
    [freshness] = [f for f in agency_freshness(app.ledger.engine) if f.agency == "probation"]
    return freshness


@dataclass
class AskedToWait:
    """A hub whose first pull the gateway answered with a long `Retry-After`."""

    app: App
    clock: Clock
    served: Served
    hub_client: GatewayClient
    asked_at: datetime
    first: RunSummary

    def pull(self) -> RunSummary:
        """An in-process run pulling the probation feed again."""
        return pull_feed(self.app, self.served, self.hub_client)


@contextmanager
def asked_to_wait(serve: Callable[[int], Served], tmp_path: Path) -> Iterator[AskedToWait]:
    """A hub on a new ledger, its first pull answered 503 with a 120 s wait (the client
    never sleeping on it); closed after the test."""
    served = serve(LONG_WAIT)
    clock = Clock()
    app = empty_hub(served, tmp_path, clock)
    try:
        asked_at = clock.now
        served.faults.script = [None, Fault.UNAVAILABLE]  # the token, then the first page
        with client(served, lambda _s: pytest.fail("the client slept")) as hub_client:
            first = pull_feed(app, served, hub_client)
            yield AskedToWait(app, clock, served, hub_client, asked_at, first)
    finally:
        app.close()


def test_a_feed_gateway_is_not_called_again_before_the_wait_it_asked_for(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    with asked_to_wait(serve, tmp_path) as hub:
        app, clock, served, asked_at = hub.app, hub.clock, hub.served, hub.asked_at
        assert "asked to wait 120 s" in hub.first.feed_errors[AGENCY.value]
        calls = served.faults.calls
        freshness = probation_freshness(app)
        assert freshness.pull_not_before is not None
        assert as_utc(freshness.pull_not_before) >= asked_at + timedelta(seconds=LONG_WAIT)
        assert freshness.last_pull is None  # a run that ended on the gateway's error

        # Later runs within the wait, from this process or another, leave the gateway alone.
        clock.now = asked_at + timedelta(seconds=LONG_WAIT - 1)
        summary = hub.pull()
        assert "it was not called" in summary.feed_errors[AGENCY.value]
        assert served.faults.calls == calls
        # The refusal carries the wait that is left, for whoever honours it.
        source = GatewaySource(app, served.url, AGENCY.value, hub.hub_client)
        with pytest.raises(RetryAfterError) as refused:
            next(iter(source.units(FeedContext("probation", TODAY), InMemoryReplayGuard())))
        left = (as_utc(freshness.pull_not_before) - clock.now).total_seconds()
        assert refused.value.retry_after == pytest.approx(left)
        assert 0 < refused.value.retry_after <= 1

        clock.now = asked_at + timedelta(seconds=LONG_WAIT)
        summary = hub.pull()
        assert summary.feed_errors == {}
        assert summary.feeds[AGENCY.value].read == FEED_RECORDS
        assert served.faults.calls > calls
        assert probation_freshness(app).last_pull is not None  # an in-process run's pull


def test_an_operator_clears_a_feed_wait_and_the_next_pull_calls_the_gateway(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    with asked_to_wait(serve, tmp_path) as hub:
        app = hub.app
        assert "asked to wait 120 s" in hub.first.feed_errors[AGENCY.value]
        asked_until = probation_freshness(app).pull_not_before
        assert asked_until is not None
        calls = hub.served.faults.calls

        hub.clock.now = hub.asked_at + timedelta(seconds=1)
        assert clear_feed_wait(app, "police", "a.clerk") is None  # not the police's wait
        assert clear_feed_wait(app, AGENCY.value, "a.clerk") == as_utc(asked_until)
        assert clear_feed_wait(app, AGENCY.value, "a.clerk") is None  # nothing left
        assert probation_freshness(app).pull_not_before is None
        summary = hub.pull()
        assert summary.feed_errors == {}
        assert summary.feeds[AGENCY.value].read == FEED_RECORDS
        assert hub.served.faults.calls > calls
        cleared = [
            entry
            for entry in audit_log_for(app.ledger.engine).entries()
            if entry.purpose == WAIT_CLEARED_PURPOSE
        ]
    assert [(entry.kind, entry.actor) for entry in cleared] == [("alteration", "operator:a.clerk")]
    assert cleared[0].detail == (
        f"probation gateway; it had asked for no call before "
        f"{as_utc(asked_until):%Y-%m-%d %H:%M} UTC"
    )
