"""A feed source that pulls an agency gateway page by page, resuming from the saved cursor.

Each page is one unit: its records, its envelope's `msg_id` and the next
cursor commit together, so a page is applied at most once and an interrupted
pull resumes where it stopped. Pages are live exchange: the clock-skew window
applies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

from sync.app import App
from sync.crypto.replay import ReplayGuard
from sync.errors import ConfigurationError
from sync.feeds.jsonl import FeedItem, validate_stream
from sync.feeds.models import FeedContext
from sync.feeds.pages import PageOpener
from sync.gateway.client import GatewayClient
from sync.gateway.retry import RetryPolicy
from sync.ingest import Unit
from sync.ledger.cursors import load_cursor


def gateway_client(app: App, base_url: str, agency: str) -> GatewayClient:
    """A client for one agency's gateway, configured from settings."""
    settings = app.settings
    if not settings.gateway_allow_plain_http:
        require_tls_off_this_machine(base_url)
    if settings.gateway_client_secret is None:
        raise ConfigurationError(
            "Gateway access needs a client secret: set ARMS_SYNC_GATEWAY_CLIENT_SECRET."
        )
    return GatewayClient(
        base_url,
        agency=agency,
        client_id=settings.gateway_client_id,
        client_secret=settings.gateway_client_secret.get_secret_value(),
        keyring=app.require_keyring(),
        timeout=(settings.http_timeout_seconds, settings.http_timeout_seconds),
        retry=RetryPolicy(
            max_attempts=settings.gateway_retry_attempts,
            base_delay=settings.gateway_retry_base_seconds,
            max_delay=settings.gateway_retry_max_seconds,
        ),
        ca_bundle=settings.gateway_ca_bundle,
    )


def require_tls_off_this_machine(base_url: str) -> None:
    """Refuse a plain `http://` gateway URL unless the gateway runs on this machine.

    The client secret and bearer tokens must never cross a network in clear.
    """
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not _is_this_machine(parts.hostname or ""):
        raise ConfigurationError(
            "A gateway off this machine must be reached over https (plain http is "
            "allowed only for 127.0.0.1, ::1 or localhost, or with "
            "ARMS_SYNC_GATEWAY_ALLOW_PLAIN_HTTP on a private test network)."
        )


def _is_this_machine(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    """A gateway source for `run --probation-feed URL` / `--police-feed URL`."""
    return GatewaySource(app, spec.rstrip("/"), agency, gateway_client(app, spec, agency))
