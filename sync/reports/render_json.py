"""Renders the duplicate-assessment report as JSON: the `spec/cli.md` shape, UTF-8, one line.

Keys keep the models' field order, so the same report always gives the same
bytes; text is written as UTF-8, not `\\u` escapes, and the file ends with a
newline.
"""

from __future__ import annotations

from sync.reports.models import DuplicateReport


def render_json(report: DuplicateReport) -> bytes:
    """The report as UTF-8 JSON bytes ending in a newline."""
    return report.model_dump_json().encode("utf-8") + b"\n"
