"""A feed source that pulls an agency gateway page by page, resuming from the saved cursor.

Each page is one unit: its records, its envelope's `msg_id` and the next
cursor commit together, so a page is applied at most once and an interrupted
pull resumes where it stopped. Pages are live exchange: the clock-skew window
applies. The client is the App's: a source never closes it.

A gateway that asks for a wait longer than a call makes (`RetryAfterError`)
is not called for its feed again before that time, by this process or any
other: the wait is kept in the ledger, and a pull before it ends at once with
the same error, naming the time, which the run records as that agency's feed
error. An operator who knows the gateway is back can clear the wait sooner
(`clear_feed_wait`, `arms-sync ledger clear-wait`); the act is audited.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sync.app import App
from sync.audit.chain import AuditKind
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import cli_actor
from sync.crypto.replay import ReplayGuard
from sync.errors import RetryAfterError
from sync.feeds.jsonl import FeedItem, validate_stream
from sync.feeds.models import FeedContext
from sync.feeds.pages import PageOpener
from sync.gateway.client import GatewayClient
from sync.gateway_clients import gateway_host_port
from sync.ingest import Unit
from sync.ledger.cursors import (
    FeedPosition,
    clear_waits,
    end_pull,
    load_position,
    load_wait,
    save_wait,
)

WAIT_CLEARED_PURPOSE = "operations: a gateway's wait for its feed cleared before its time"


class GatewaySource:
    """An agency's feed served by its gateway."""

    def __init__(self, app: App, base_url: str, agency: str, client: GatewayClient) -> None:
        self.app = app
        self.base_url = base_url
        self.agency = agency
        self.client = client

    @property
    def name(self) -> str:
        """The gateway's host and port as the URL writes them (never credentials or paths).

        It names the source in progress lines, errors, the audit log and the
        ledger's cursor key, so a `user:password@` in the URL is left out.
        """
        return gateway_host_port(self.base_url)

    @property
    def live(self) -> bool:
        """A gateway is live: its failures leave the other agency's work to go on."""
        return True

    @property
    def sealed(self) -> bool:
        """A gateway's pages are envelopes, each checked for its sender."""
        return True

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """One unit per page, from the saved cursor on; an empty page ends the pull.

        Pages are numbered within the pull; an interrupted pull's numbering
        goes on where it stopped (`FeedPosition`).

        Raises `RetryAfterError` without calling the gateway while a wait it
        asked for lasts, and keeps the wait of a `RetryAfterError` it answers.
        """
        engine = self.app.ledger.engine
        self._refuse_while_asked_to_wait(load_wait(engine, self.agency, self.name))
        saved = load_position(engine, self.agency, self.name)
        cursor, before = (None, 0) if saved is None else (saved.cursor, saved.pull_pages)
        pages = self.client.pages(cursor, self.app.settings.gateway_page_size)
        try:
            for number, page in enumerate(pages, start=before + 1):
                if page.envelope is None:
                    break
                items = self._items(page.envelope, context, guard, number)
                yield Unit(items, position=FeedPosition(page.next, number))
            end_pull(engine, self.agency, self.name)
        except RetryAfterError as asked:
            now = self.app.clock()
            not_before = now + timedelta(seconds=asked.retry_after)
            save_wait(engine, self.agency, self.name, not_before, now)
            raise

    def _refuse_while_asked_to_wait(self, not_before: datetime | None) -> None:
        now = self.app.clock()
        if not_before is None or now >= not_before:
            return
        raise RetryAfterError(
            f"the {self.agency} gateway asked not to be called for its feed before "
            f"{not_before:%Y-%m-%d %H:%M:%S} UTC; it was not called.",
            (not_before - now).total_seconds(),
        )

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
            refuse_replayed=True,
        )
        return validate_stream(opener.placed_lines(envelope, page_number), context)


def gateway_source(spec: str, agency: str, app: App) -> GatewaySource:
    """A gateway source for `run --probation-feed URL` / `--police-feed URL`.

    Its client is the App's (this thread's for the gateway), which the App closes.
    """
    base_url = spec.rstrip("/")
    return GatewaySource(app, base_url, agency, app.gateway_client(base_url, agency))


def clear_feed_wait(app: App, agency: str, operator: str | None) -> datetime | None:
    """Let the next pull call the agency's gateway at once, though it asked to be left alone.

    Returns the time the wait that still lasted would have ended, or None when
    none lasted (waits already over are forgotten too, silently). Clearing a
    wait that lasted is recorded in the audit log under `operator` (else the
    configured one, else the system account).
    """
    now = app.clock()
    with app.ledger.engine.begin() as conn:
        lasting = [moment for moment in clear_waits(conn, agency) if moment > now]
        if not lasting:
            return None
        until = max(lasting)
        audit_log_for(app.ledger.engine).record(
            conn,
            kind=AuditKind.ALTERATION,
            actor=cli_actor(operator or app.settings.operator),
            purpose=WAIT_CLEARED_PURPOSE,
            detail=f"{agency} gateway; it had asked for no call before {until:%Y-%m-%d %H:%M} UTC",
        )
    return until
