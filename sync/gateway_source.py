"""A feed source that pulls an agency gateway page by page, resuming from the saved cursor.

Each page is one unit: its records, its envelope's `msg_id` and the next
cursor commit together, so a page is applied at most once and an interrupted
pull resumes where it stopped. Pages are live exchange: the clock-skew window
applies. The client is the App's: a source never closes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

from sync.app import App
from sync.crypto.replay import ReplayGuard
from sync.feeds.jsonl import FeedItem, validate_stream
from sync.feeds.models import FeedContext
from sync.feeds.pages import PageOpener
from sync.gateway.client import GatewayClient
from sync.ingest import Unit
from sync.ledger.cursors import load_cursor


class GatewaySource:
    """An agency's feed served by its gateway."""

    def __init__(self, app: App, base_url: str, agency: str, client: GatewayClient) -> None:
        self.app = app
        self.base_url = base_url
        self.agency = agency
        self.client = client

    @property
    def name(self) -> str:
        """The gateway's host and port (never credentials or paths)."""
        return urlsplit(self.base_url).netloc

    @property
    def live(self) -> bool:
        """A gateway is live: its failures leave the other agency's work to go on."""
        return True

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """One unit per page, from the saved cursor on; an empty page ends the pull."""
        cursor = load_cursor(self.app.ledger.engine, self.agency, self.name)
        pages = self.client.pages(cursor, self.app.settings.gateway_page_size)
        for page_number, page in enumerate(pages, start=1):
            if page.envelope is None:
                return
            yield Unit(self._items(page.envelope, context, guard, page_number), cursor=page.next)

    def _items(
        self, envelope: bytes, context: FeedContext, guard: ReplayGuard, page_number: int
    ) -> Iterator[FeedItem]:
        opener = PageOpener(
            self.agency,
            self.name,
            self.client.keyring,
            self.app.clock,
            timedelta(seconds=self.app.settings.max_clock_skew_seconds),
            guard,
        )
        return validate_stream(opener.placed_lines(envelope, page_number), context)


def gateway_source(spec: str, agency: str, app: App) -> GatewaySource:
    """A gateway source for `run --probation-feed URL` / `--police-feed URL`.

    Its client is the App's (this thread's for the gateway), which the App closes.
    """
    base_url = spec.rstrip("/")
    return GatewaySource(app, base_url, agency, app.gateway_client(base_url, agency))
