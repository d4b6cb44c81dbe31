"""A gateway feed source on an SQLite ledger: pages are live exchange; its name holds no secret.

The reference gateway serves on 127.0.0.1 from a thread of the test and seals
each page as it is asked for it; the hub's clock is set apart from it to test
the clock-skew window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import RunSummary, run_cycle
from sync.gateway_source import GatewaySource
from sync.settings import load_settings
from tests.integration.test_gateway_retry_after import (
    AGENCY,
    FEED_RECORDS,
    LONG_WAIT,
    TODAY,
    Served,
    client,
    serve,
)

__all__ = ["serve"]  # the fixture, shared with the Retry-After tests

SKEW_SECONDS = 300


def _pull(served: Served, tmp_path: Path, hub_ahead_by: timedelta) -> RunSummary:
    """One run pulling the gateway, by a hub whose clock is `hub_ahead_by` ahead of it."""
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        keys_dir=served.keys,
        max_clock_skew_seconds=SKEW_SECONDS,
    )
    app = App(settings, clock=lambda: datetime.now(UTC) + hub_ahead_by)
    try:
        app.ledger.ensure_schema()
        with client(served) as hub_client:
            source = GatewaySource(app, served.url, AGENCY.value, hub_client)
            return run_cycle(app, {AGENCY.value: source}, TODAY)
    finally:
        app.close()


def test_a_page_sealed_within_the_clock_skew_window_is_applied(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    summary = _pull(serve(LONG_WAIT), tmp_path, timedelta(minutes=4))
    assert summary.feed_errors == {}
    assert summary.feeds[AGENCY.value].read == FEED_RECORDS


@pytest.mark.parametrize(
    "hub_ahead_by",
    [timedelta(minutes=6), -timedelta(minutes=6)],
    ids=["sealed-too-long-ago", "sealed-in-the-future"],
)
def test_a_page_sealed_outside_the_clock_skew_window_is_not_applied(
    serve: Callable[[int], Served], tmp_path: Path, hub_ahead_by: timedelta
) -> None:
    served = serve(LONG_WAIT)
    summary = _pull(served, tmp_path, hub_ahead_by)
    error = summary.feed_errors[AGENCY.value]
    host = served.url.removeprefix("http://")
    assert error.startswith(f"Page 1 of {host} cannot be opened")
    assert "clock-skew window" in error
    assert AGENCY.value not in summary.feeds


def test_a_gateway_source_s_name_never_holds_credentials(
    serve: Callable[[int], Served], tmp_path: Path
) -> None:
    served = serve(LONG_WAIT)
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 'hub.db'}")
    app = App(settings)
    try:
        with client(served) as hub_client:
            source = GatewaySource(
                app, "https://hub:synthetic-password@gateway.example:8443", AGENCY.value, hub_client
            )
            assert "synthetic-password" not in source.name
            assert source.name == "gateway.example:8443"
    finally:
        app.close()
