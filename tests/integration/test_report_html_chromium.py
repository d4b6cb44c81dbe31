"""The HTML report in a real browser: headless Chromium renders and screenshots it, error-free.

Console messages are read from Chromium's own log (`--enable-logging=stderr
--v=0`), where every message a page writes to its console, including
Content-Security-Policy refusals and uncaught exceptions, appears as a
`:CONSOLE` line naming the page as its source. The report has no scripts, so any
such line from the report page is a failure; a control page with a deliberate
error proves the check can see one.
"""

from __future__ import annotations

import fcntl
import shutil
import struct
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

from sync.reports import FlagRow, ReportFilters
from sync.reports.models import AgencyName
from sync.reports.render_html import render_html
from tests.unit.test_report_factories import (
    ReportPage,
    assessment_flag,
    duplicate_pair,
    person_record_flag,
    report_of,
)

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)
WINDOW = (1280, 2000)
BROWSER_TIMEOUT_SECONDS = 120
INSTALL_TIMEOUT_SECONDS = 900
MIN_SCREENSHOT_BYTES = 30_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AREAS = ("Greater Manchester", "Lancashire", "Merseyside", "Cumbria")


def _installed_chromium() -> str | None:
    return shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The Chromium binary, installed with apt-get when it is missing.

    Test processes running side by side (pytest-xdist) install it one at a
    time, under a lock file in the directory their temporary folders share.
    """
    found = _installed_chromium()
    if found is not None:
        return found
    lock_file = tmp_path_factory.getbasetemp().parent / "chromium-install.lock"
    with lock_file.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _installed_chromium() or _install_chromium()


def _install_chromium() -> str:
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
                env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            )
        except (OSError, subprocess.SubprocessError):
            pytest.fail(
                "Chromium is not installed at /usr/bin/chromium and apt-get could not install it."
            )
    return CHROMIUM


def _browse(
    chromium: str, page: Path, profile: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """Chromium run once on a local file with the test's flags."""
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_SECONDS,
    )


def _console_lines(stderr: str, page: Path) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line and page.as_uri() in line]


def _rows() -> list[FlagRow]:
    """About forty subjects over fourteen months, in four areas, with every kind of flag."""
    rows: list[FlagRow] = []
    start = date(2025, 1, 6)
    for n in range(40):
        day = start + timedelta(days=11 * n)
        area = AREAS[n % len(AREAS)]
        redundant: AgencyName = "police" if n % 3 else "probation"
        rows += duplicate_pair(
            f"SUB-{n:03d}",
            police=(f"PA-{n}", day),
            probation=(f"A-{n}", day - timedelta(days=20)),
            redundant=redundant,
            area=area,
            state="closed" if n % 7 == 0 else "open",
        )
    rows.append(
        assessment_flag("in_progress_by_non_owner", subject_id="SUB-900", status="in_progress")
    )
    rows.append(assessment_flag("assessed_without_owner", subject_id="SUB-901", area="Cumbria"))
    rows.append(person_record_flag("SUB-902", area="<b>Merseyside</b>"))
    return rows


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rendered report with a period, so the previous-period comparison shows."""
    filters = ReportFilters(date_from=date(2025, 7, 1), date_to=date(2026, 2, 28))
    page = tmp_path_factory.mktemp("report") / "duplicates.html"
    page.write_bytes(render_html(report_of(_rows(), filters)))
    return page


def test_screenshot_is_a_full_non_blank_page(
    chromium: str, report_page: Path, tmp_path: Path
) -> None:
    shot = tmp_path / "report.png"

    _browse(
        chromium,
        report_page,
        tmp_path / "profile",
        f"--screenshot={shot}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    )

    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == WINDOW
    assert len(data) > MIN_SCREENSHOT_BYTES


def test_rendered_page_has_the_figures_and_the_chart(
    chromium: str, report_page: Path, tmp_path: Path
) -> None:
    result = _browse(chromium, report_page, tmp_path / "profile", "--dump-dom")

    dom = ReportPage(result.stdout.encode())
    assert int(dom.by_id["figure-total"]["data-value"] or 0) > 0
    assert {
        "figure-redundant-completed",
        "figure-hours-lost",
        "estimate-note",
        "previous-period",
    } <= dom.by_id.keys()
    assert dom.by_id["chart-duplicates-by-month"]["role"] == "img"
    assert {bar["data-agency"] for bar in dom.bars} == {"probation", "police"}
    assert "<b>" not in result.stdout
    assert _console_lines(result.stderr, report_page) == []


def test_console_check_sees_a_broken_page(chromium: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><title>x</title><script>undefinedFunction()</script>")

    result = _browse(chromium, broken, tmp_path / "profile", "--dump-dom")

    assert any("Uncaught" in line for line in _console_lines(result.stderr, broken))
