"""A gateway that serves an old page where a new one belongs: refused, nothing skipped.

The hub stores each page with the cursor after it, so a page already applied,
served again for a later cursor, would move the cursor past records never
read. Over real HTTP on 127.0.0.1, a reference gateway whose feed endpoint
answers every later page with its first page's very envelope makes the pull
stop with a feed error, the cursor left where it was; once the gateway serves
its pages again, the next run reads every record the first run did not, and
numbers its pages where the first run stopped: a rejected line on the feed's
third page is placed on page 3, not on the resumed pull's second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.crypto import Party, load_keyring
from sync.cycle import RunSummary, run_cycle
from sync.gateway.client import GatewayClient
from sync.gateway.retry import RetryPolicy
from sync.gateway.server import ROUTES, Route
from sync.gateway.service import Gateway, Reply, Request
from sync.gateway_source import GatewaySource
from sync.ledger import schema
from sync.settings import load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, make_keys
from tests.integration.gateway_thread import base_url, gateway_config, serving

pytestmark = pytest.mark.integration

AGENCY = Party.PROBATION
TODAY = date(2026, 11, 28)
SUBJECTS = 6
PAGE_SIZE = 5
BAD_LINE = "this line is not JSON"
BAD_LINE_INDEX = 2 * PAGE_SIZE + 1  # the second line of the third page


class ReplayingFeed:
    """The reference gateway's feed endpoint, answering later pages with the first while told to."""

    def __init__(self) -> None:
        self.replaying = True
        self._first: Reply | None = None

    def __call__(self, gateway: Gateway, request: Request) -> Reply:
        """The first page's very reply for any later cursor while replaying."""
        reply = Gateway.feed_page(gateway, request)
        if self._first is None:
            self._first = reply
        if self.replaying and request.query.get("since"):
            return self._first
        return reply


@contextmanager
def replaying_gateway(
    keys: Path, feed: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, ReplayingFeed]]:
    """The probation reference gateway serving `feed` on loopback, its feed replaying; its URL."""
    replaying = ReplayingFeed()
    monkeypatch.setitem(ROUTES, ("GET", "/feed"), Route("feed", replaying))
    with serving(gateway_config(AGENCY, load_keyring(keys, AGENCY), feed, state)) as server:
        yield base_url(server), replaying


@pytest.fixture
def hub_and_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[App, GatewayClient, ReplayingFeed]]:
    """A hub on SQLite and a probation gateway serving on loopback, its feed replaying."""
    keys = tmp_path / "keys"
    keyrings = make_keys(keys)
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=SUBJECTS, seed=7, today=TODAY))
    insert_bad_line(feeds / "probation.jsonl")
    served = replaying_gateway(keys, feeds / "probation.jsonl", tmp_path / "state", monkeypatch)
    with served as (url, replaying):
        settings = load_settings(
            None,
            database_url=f"sqlite:///{tmp_path / 'hub.db'}",
            keys_dir=keys,
            gateway_page_size=PAGE_SIZE,
        )
        app = App(settings)
        client = GatewayClient(
            url,
            agency=AGENCY,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            keyring=keyrings[Party.HUB],
            timeout=(2.0, 5.0),
            retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.1),
        )
        try:
            app.ledger.ensure_schema()
            yield app, client, replaying
        finally:
            client.close()
            app.close()


def insert_bad_line(feed: Path) -> None:
    """Put `BAD_LINE` into the feed at `BAD_LINE_INDEX`."""
    lines = feed.read_text().splitlines()
    assert len(lines) > 3 * PAGE_SIZE
    lines.insert(BAD_LINE_INDEX, BAD_LINE)
    feed.write_text("".join(f"{line}\n" for line in lines))


def pull(app: App, client: GatewayClient) -> RunSummary:
    """One run over the probation gateway alone."""
    source = GatewaySource(app, client.base_url, AGENCY.value, client)
    return run_cycle(app, {AGENCY.value: source}, TODAY)


def pull_pages(app: App) -> int:
    """The number of the page the saved cursor follows within its pull (0: the pull ended)."""
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(schema.feed_cursors.c.pull_pages)).scalar_one())


def records_held(app: App) -> int:
    """How many records the hub's ledger holds."""
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.records)).scalar_one())


def test_a_page_served_again_for_a_later_cursor_is_refused_and_nothing_is_skipped(
    hub_and_gateway: tuple[App, GatewayClient, ReplayingFeed],
    tmp_path: Path,
) -> None:
    app, client, feed = hub_and_gateway
    text = (tmp_path / "feeds" / "probation.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in text if line != BAD_LINE]
    lines = len(text)
    assert lines > 2 * PAGE_SIZE

    first = pull(app, client)
    assert "Page 2 of" in first.feed_errors[AGENCY.value]
    assert "already applied" in first.feed_errors[AGENCY.value]
    assert records_held(app) == PAGE_SIZE
    applied = first.feeds[AGENCY.value]  # the page read before the refusal is counted
    assert (applied.read, applied.units) == (PAGE_SIZE, 1)

    feed.replaying = False
    second = pull(app, client)
    assert second.feed_errors == {}
    assert second.feeds[AGENCY.value].read == lines - PAGE_SIZE
    assert records_held(app) == len({(record["type"], record["id"]) for record in records})


def test_a_resumed_pull_places_a_rejected_line_on_the_page_it_is_on_in_the_feed(
    hub_and_gateway: tuple[App, GatewayClient, ReplayingFeed],
) -> None:
    app, client, feed = hub_and_gateway
    assert pull(app, client).feed_errors  # stopped at page 2, page 1 applied
    assert pull_pages(app) == 1

    feed.replaying = False
    assert pull(app, client).feed_errors == {}
    assert pull_pages(app) == 0  # the pull ended: the next one numbers from page 1

    with app.ledger.engine.connect() as conn:
        positions = conn.execute(select(schema.rejects.c.position)).scalars().all()
    assert positions == ["page 3 line 2"]
