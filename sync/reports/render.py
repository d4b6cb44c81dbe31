"""Picks the renderer for a report format named on the command line: `json`, `csv` or `html`."""

from __future__ import annotations

from collections.abc import Callable

from sync.errors import UsageError
from sync.reports.models import DuplicateReport
from sync.reports.render_csv import render_csv
from sync.reports.render_json import render_json


def render_html(report: DuplicateReport) -> bytes:
    """The HTML page; its renderer (and Jinja) is loaded only for a page to render."""
    from sync.reports.render_html import render_html as render_page

    return render_page(report)


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
