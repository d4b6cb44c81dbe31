"""Picks the renderer for a report format named on the command line: `json`, `csv` or `html`."""

from __future__ import annotations

from collections.abc import Callable

from sync.errors import UsageError
from sync.reports.models import DuplicateReport
from sync.reports.render_csv import render_csv
from sync.reports.render_html import render_html
from sync.reports.render_json import render_json

RENDERERS: dict[str, Callable[[DuplicateReport], bytes]] = {
    "json": render_json,
    "csv": render_csv,
    "html": render_html,
}
REPORT_FORMATS = tuple(RENDERERS)


def render(report: DuplicateReport, fmt: str) -> bytes:
    """The report in format `fmt`; `UsageError` for a format that does not exist."""
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise UsageError("the report format must be json, csv or html")
    return renderer(report)
