"""Write the duplicate report as files: every format, each file whole or not at all.

Shared by the nightly report and the demo. Each file is written owner-only
beside its final name first and then put in place (`sync.owner_only_files`), so a
reader never finds half a report; the caller audits each file as a disclosure
once it is in place.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sync.owner_only_files import write_owner_only_file
from sync.reports.models import DuplicateReport
from sync.reports.render import REPORT_FORMATS, render


def write_report_files(
    report: DuplicateReport, folder: Path, stem: str, audit_written: Callable[[Path], None]
) -> list[Path]:
    """Write `<stem>.<format>` in `folder` for every format; the paths written, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in REPORT_FORMATS:
        path = folder / f"{stem}.{fmt}"
        write_owner_only_file(path, render(report, fmt))
        audit_written(path)
        written.append(path)
    return written
