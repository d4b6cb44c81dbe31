"""The report's files: every format written whole, then put in place, then audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sync.reports.duplicates import build_report
from sync.reports.files import write_report_files
from sync.reports.models import ReportFilters
from sync.reports.render import REPORT_FORMATS, render

REPORT = build_report(
    [], as_of=date(2026, 11, 28), window_days=180, hours_per_assessment=6.0, filters=ReportFilters()
)


def test_each_format_is_in_place_whole_before_it_is_audited(tmp_path: Path) -> None:
    folder = tmp_path / "reports" / "nightly"
    audited: list[tuple[Path, bytes]] = []

    written = write_report_files(
        REPORT, folder, "duplicates", lambda path: audited.append((path, path.read_bytes()))
    )

    assert written == [folder / f"duplicates.{fmt}" for fmt in REPORT_FORMATS]
    assert audited == [(path, render(REPORT, path.suffix[1:])) for path in written]
    assert sorted(folder.iterdir()) == sorted(written)


def test_a_report_written_again_replaces_the_last_one(tmp_path: Path) -> None:
    (tmp_path / "duplicates.json").write_text("an older report", encoding="utf-8")
    write_report_files(REPORT, tmp_path, "duplicates", lambda _path: None)
    assert (tmp_path / "duplicates.json").read_bytes() == render(REPORT, "json")
