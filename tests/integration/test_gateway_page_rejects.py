"""Identical bad lines on different pages of a gateway's feed are each kept as a reject.

`feed-v1.md`: a bad line is rejected with its reason and kept, never dropped.
Each page of a pull is committed on its own, yet a line repeated on a later
page is a further copy, not the same reject again. The reference gateway
serves on 127.0.0.1 from a thread of the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sync.app import App
from sync.cycle import run_cycle
from sync.gateway_source import GatewaySource
from sync.settings import load_settings
from tests.feed_records import person
from tests.integration.test_gateway_retry_after import (
    AGENCY,
    LONG_WAIT,
    TODAY,
    Clock,
    Served,
    client,
    serve,
)

__all__ = ["serve"]  # the fixture, shared with the Retry-After tests

PAGE_SIZE = 2
IMPOSSIBLE_DATE = "1970-13-01"


def _write_feed(path: Path) -> None:
    """A bad line opening each of three pages, the same bytes every time."""
    bad = person(AGENCY.value, "X000000", date_of_birth=IMPOSSIBLE_DATE)
    good = [person(AGENCY.value, f"X00000{number}") for number in (1, 2)]
    lines = [bad, good[0], bad, good[1], bad]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_a_bad_line_repeated_on_later_pages_is_kept_once_per_copy(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    _write_feed(tmp_path / "feed.jsonl")  # the feed the gateway will serve
    served = serve(LONG_WAIT)
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        keys_dir=served.keys,
        gateway_page_size=PAGE_SIZE,
    )
    app = App(settings, clock=Clock())
    try:
        app.ledger.ensure_schema()
        with client(served) as hub_client:
            source = GatewaySource(app, served.url, AGENCY.value, hub_client)
            summary = run_cycle(app, {AGENCY.value: source}, TODAY)
        counts = summary.feeds[AGENCY.value]
        assert (counts.units, counts.read, counts.accepted, counts.rejected) == (3, 5, 2, 3)
        rejects = app.ledger.list_rejects()
        assert [reject["record_id"] for reject in rejects] == ["X000000"] * 3
        assert len({reject["position"] for reject in rejects}) == 3
        assert all("date_of_birth" in reject["reason"] for reject in rejects)
    finally:
        app.close()
