"""`arms-sync report duplicates`: each filter option narrows the report it prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sync.cli.main import cli
from tests.feed_records import run_args
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.integration

# The test feeds give three open flags: a duplicate on each side of one subject
# (probation 2025-04-20 in NW, police 2025-05-10 in LANC) and the police
# assessment made by the agency that does not own the subject.
ALL = {
    ("duplicate", "probation", "2025-04-20"),
    ("duplicate", "police", "2025-05-10"),
    ("assessed_by_non_owner", "police", "2025-05-10"),
}


@pytest.fixture
def synced(ledger_url: str, tmp_path: Path) -> str:
    """The ledger after one run of the test feeds."""
    ran = CliRunner().invoke(cli, ["--db", ledger_url, *run_args(*write_feeds(tmp_path))])
    assert ran.exit_code == 0, ran.output
    return ledger_url


def _report(url: str, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        cli, ["--db", url, "report", "duplicates", "--format", "json", *options]
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _flags(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(f["kind"], f["agency"], f["reference_date"]) for f in report["flags"]}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), ALL),
        (("--kind", "duplicate"), {f for f in ALL if f[0] == "duplicate"}),
        (("--agency", "police"), {f for f in ALL if f[1] == "police"}),
        (("--for", "probation"), {("duplicate", "probation", "2025-04-20")}),
        (("--from", "2025-05-01", "--to", "2025-05-31"), {f for f in ALL if f[2] == "2025-05-10"}),
        (("--from", "2025-04-20", "--to", "2025-04-20"), {f for f in ALL if f[2] == "2025-04-20"}),
        (("--state", "closed"), set()),
        (("--state", "all"), ALL),
    ],
    ids=["none", "kind", "agency", "for", "period", "one-day", "closed", "all"],
)
def test_each_filter_option_narrows_the_flags(
    synced: str, options: tuple[str, ...], expected: set[tuple[str, str, str]]
) -> None:
    """`--kind`, `--agency`, `--for`, `--from`/`--to` and `--state` reach the report."""
    assert _flags(_report(synced, *options)) == expected


def test_the_report_states_the_period_it_was_asked_for(synced: str) -> None:
    """`from` and `to` in the JSON are the options given, the right way round."""
    report = _report(synced, "--from", "2025-05-01", "--to", "2025-05-31")

    assert (report["from"], report["to"]) == ("2025-05-01", "2025-05-31")


def test_a_csv_report_on_standard_output_has_no_byte_order_mark(
    synced: str, tmp_path: Path
) -> None:
    """Printed, the CSV starts with its header; the file keeps the same rows."""
    printed = CliRunner().invoke(cli, ["--db", synced, "report", "duplicates", "--format", "csv"])
    out = tmp_path / "SAMPLE.csv"
    written = CliRunner().invoke(
        cli, ["--db", synced, "report", "duplicates", "--format", "csv", "--out", str(out)]
    )

    assert (printed.exit_code, written.exit_code) == (0, 0)
    assert not printed.stdout.startswith("\ufeff")
    rows = out.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    assert rows == printed.stdout
