"""Gateway clients come from the App: built once per process, reused pass after pass.

Real gateway processes on 127.0.0.1 (which say, when stopped, how many
requests each endpoint received), a real PostgreSQL ledger, the stages and
the delivery beat's pass driven in process. A pull and the deliveries after it
share one client and one bearer token; a token that expires, or that the
gateway no longer knows (it restarted), is fetched again and delivery goes on.
Closing the App closes its clients' connections; another App has its own,
and so has each thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from sync.app import App
from sync.crypto import Party
from sync.delivery import deliver_to
from sync.distributed.cycles import start_cycle
from sync.distributed.stages import execute
from sync.gateway.client import GatewayClient
from sync.ledger import schema
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import RULES, batches, run_until_deliver
from tests.e2e.test_workers import TODAY
from tests.integration.gateway_process import RunningGateway, request_counts, start_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

hub = deliver_stage.hub
keys = deliver_stage.keys
small_feeds = shared.small_feeds
AGENCY = "probation"
# The client fetches a token again 10 s before it expires: one of 10 s is spent at once.
SPENT_AT_ONCE_TTL = "10"
HELD_BACK = timedelta(days=1)
ESTABLISHED = "01"
SOCKET_LINK = "socket:["

Launch = Callable[..., RunningGateway]


@pytest.fixture
def launch(tmp_path: Path, keys: Path, small_feeds: Path) -> Iterator[Launch]:
    """Starts probation gateway processes (one state folder), all stopped after the test."""
    started: list[RunningGateway] = []

    def start(*extra: str, port: int = 0) -> RunningGateway:
        running = start_gateway(
            agency=Party.PROBATION,
            feed=small_feeds / f"{AGENCY}.jsonl",
            keys=keys,
            state=tmp_path / "gateway-state",
            cwd=tmp_path,
            extra=extra,
            port=port,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def hold_back_all_but_first(app: App) -> int:
    """Every waiting batch but the oldest waits a day: a beat pass delivers one. How many wait."""
    table = schema.outbox
    with app.ledger.engine.begin() as conn:
        first = conn.execute(
            select(func.min(table.c.position)).where(table.c.agency == AGENCY)
        ).scalar_one()
        conn.execute(
            update(table)
            .where(table.c.agency == AGENCY, table.c.position > first)
            .values(next_attempt_at=app.clock() + HELD_BACK)
        )
    return batches(app, delivered=False)


def release_all(app: App) -> None:
    """Every waiting batch is due now."""
    with app.ledger.engine.begin() as conn:
        conn.execute(update(schema.outbox).values(next_attempt_at=app.clock()))


def two_beat_passes(app: App, url: str, between: Callable[[], None] = lambda: None) -> None:
    """The delivery beat's pass twice: the oldest batch, then (after `between`) the rest."""
    waiting = hold_back_all_but_first(app)
    assert waiting >= 2
    first = deliver_to(app, AGENCY, url)
    assert first is not None
    assert (first["delivered"], batches(app, delivered=False)) == (1, waiting - 1)
    between()
    release_all(app)
    second = deliver_to(app, AGENCY, url)
    assert second is not None
    assert second["delivered"] == waiting - 1
    assert batches(app, delivered=False) == 0


def open_connections(url: str) -> int:
    """This process's established TCP connections to the gateway at `url` (Linux `/proc`)."""
    port = urlsplit(url).port
    sockets = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except FileNotFoundError:
            continue
        if target.startswith(SOCKET_LINK):
            sockets.add(target.removeprefix(SOCKET_LINK).rstrip("]"))
    count = 0
    for line in Path("/proc/self/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if fields[3] == ESTABLISHED and remote_port == port and fields[9] in sockets:
            count += 1
    return count


def test_a_pull_and_the_delivery_after_it_share_one_client_and_one_token(
    hub: Callable[..., App], launch: Launch, small_feeds: Path
) -> None:
    gateway = launch()
    app = hub()
    feeds = {AGENCY: gateway.url, "police": str(small_feeds / "police.jsonl")}
    _cycle_id, queue = start_cycle(app, feeds, {AGENCY: gateway.url}, TODAY)
    while queue:
        queue.extend(execute(app, RULES, queue.pop(0), "test"))
    assert batches(app, delivered=True) > 0
    assert batches(app, delivered=False) == 0
    counts = request_counts(gateway)
    assert counts["feed"] > 0
    assert counts["notices"] == batches(app, delivered=True)
    assert counts["token"] == 1
    assert app.gateway_client(gateway.url + "/", AGENCY) is app.gateway_client(gateway.url, AGENCY)


def test_two_delivery_passes_share_one_client_and_one_token(
    hub: Callable[..., App], launch: Launch, small_feeds: Path
) -> None:
    gateway = launch()
    app = hub()
    run_until_deliver(app, small_feeds, gateway.url)
    two_beat_passes(app, gateway.url)
    counts = request_counts(gateway)
    assert counts["notices"] == batches(app, delivered=True)
    assert (counts["token"], counts["bad-token"]) == (1, 0)
    assert app.gateway_client(gateway.url, AGENCY) is app.gateway_client(gateway.url, AGENCY)


def test_an_expired_token_is_fetched_again_and_delivery_goes_on(
    hub: Callable[..., App], launch: Launch, small_feeds: Path
) -> None:
    gateway = launch("--token-ttl", SPENT_AT_ONCE_TTL)
    app = hub()
    run_until_deliver(app, small_feeds, gateway.url)
    client = app.gateway_client(gateway.url, AGENCY)
    two_beat_passes(app, gateway.url)
    assert app.gateway_client(gateway.url, AGENCY) is client
    counts = request_counts(gateway)
    # Each token had expired (for the client) by the next call: one token per delivery.
    assert counts["token"] == counts["notices"] == batches(app, delivered=True)
    assert counts["bad-token"] == 0


def test_a_token_the_restarted_gateway_refuses_is_fetched_again_and_delivery_goes_on(
    hub: Callable[..., App], launch: Launch, small_feeds: Path
) -> None:
    first = launch()
    app = hub()
    run_until_deliver(app, small_feeds, first.url)
    restarted: list[RunningGateway] = []

    def restart() -> None:
        assert request_counts(first)["token"] == 1
        restarted.append(launch(port=urlsplit(first.url).port))

    two_beat_passes(app, first.url, restart)
    [second] = restarted
    assert second.url == first.url
    counts = request_counts(second)
    # The kept token was refused once (the restart revoked it), then one new token served.
    assert (counts["bad-token"], counts["token"]) == (1, 1)
    assert counts["notices"] == batches(app, delivered=True)  # the refused one, and the rest


def test_closing_the_app_closes_its_gateway_connections(
    hub: Callable[..., App], launch: Launch, small_feeds: Path
) -> None:
    gateway = launch()
    app = hub()
    run_until_deliver(app, small_feeds, gateway.url)
    counts = deliver_to(app, AGENCY, gateway.url)
    assert counts is not None
    assert counts["delivered"] > 0
    assert open_connections(gateway.url) == 1  # kept for the next pass
    app.close()
    assert open_connections(gateway.url) == 0


def test_another_app_has_clients_of_its_own(
    hub: Callable[..., App], launch: Launch, small_feeds: Path
) -> None:
    gateway = launch()
    app = hub()
    run_until_deliver(app, small_feeds, gateway.url)
    other = hub()
    waiting = hold_back_all_but_first(app)
    ours = deliver_to(app, AGENCY, gateway.url)
    release_all(app)
    theirs = deliver_to(other, AGENCY, gateway.url)
    assert ours is not None
    assert theirs is not None
    assert (ours["delivered"], theirs["delivered"]) == (1, waiting - 1)
    assert open_connections(gateway.url) == 2  # one each, kept for their next passes
    assert request_counts(gateway)["token"] == 2
    assert app.gateway_client(gateway.url, AGENCY) is not other.gateway_client(gateway.url, AGENCY)


def test_each_thread_has_its_own_client_closed_once_the_thread_has_ended(
    hub: Callable[..., App], launch: Launch
) -> None:
    gateway = launch()
    app = hub()
    theirs: list[GatewayClient] = []

    def in_a_thread() -> None:
        client = app.gateway_client(gateway.url, AGENCY)
        assert app.gateway_client(gateway.url, AGENCY) is client
        assert client.received_notices() == []
        theirs.append(client)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert len(theirs) == 1
    assert open_connections(gateway.url) == 1
    ours = app.gateway_client(gateway.url, AGENCY)
    assert ours is not theirs[0]
    assert open_connections(gateway.url) == 0  # the ended thread's client was closed
    assert ours.received_notices() == []
    assert request_counts(gateway)["token"] == 2
