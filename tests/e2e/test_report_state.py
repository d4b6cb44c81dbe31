"""`report duplicates` lists the flags that hold now unless asked for closed ones too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.e2e.test_run_cli import _run, _worked_example
from tests.feed_records import AS_OF, person, run_args, write_feed

pytestmark = pytest.mark.e2e


def _report(cwd: Path, *options: str) -> dict[str, object]:
    output = run_cli("report", "duplicates", "--format", "json", *options, cwd=cwd).stdout
    return json.loads(output)  # type: ignore[no-any-return]


def _listed(report: dict[str, object]) -> set[tuple[str, str, str]]:
    flags = report["flags"]
    assert isinstance(flags, list)
    return {(f["kind"], f["assessment_id"], f["state"]) for f in flags}


_DELETION_KEY = {
    "type": "assessment",
    "agency": "police",
    "id": "WPA-0",
    "deleted": True,
    "updated_at": "2026-02-01T00:00:00Z",
}
_DELETED_FIELDS = {
    "person_id": "WEX-0",
    "started_on": "2025-05-10",
    "completed_on": "2025-05-10",
    "status": "completed",
}


def _delete_police_assessment(tmp_path: Path, key_only: bool) -> Path:
    """The police feed of a later run: worked example 1's police assessment deleted."""
    deletion = _DELETION_KEY if key_only else {**_DELETION_KEY, **_DELETED_FIELDS}
    return write_feed(tmp_path / "police-later.jsonl", [deletion])


@pytest.mark.parametrize("key_only", [False, True], ids=["full-record", "key-only"])
def test_a_deleted_assessment_leaves_the_default_report_and_its_hours(
    tmp_path: Path, key_only: bool
) -> None:
    probation, police = _worked_example(tmp_path, "2025-05-10", custody=False)
    _run(tmp_path, probation, police)
    assert _report(tmp_path)["summary"]["redundant_completed"] == 1  # type: ignore[index]

    later = _run(tmp_path, probation, _delete_police_assessment(tmp_path, key_only))
    assert "police: read 1 record, accepted 1, rejected 0" in later.stdout

    now = _report(tmp_path)
    assert _listed(now) == set()
    assert now["summary"]["redundant_completed"] == 0  # type: ignore[index]
    assert now["summary"]["hours_lost_estimate"] == 0  # type: ignore[index]
    history = {
        ("assessed_by_non_owner", "WPA-0", "closed"),
        ("duplicate", "WPA-0", "closed"),
        ("duplicate", "WA-0", "closed"),
    }
    assert _listed(_report(tmp_path, "--state", "closed")) == history
    assert _listed(_report(tmp_path, "--state", "all")) == history
    assert _listed(_report(tmp_path, "--state", "open")) == set()


def _config(tmp_path: Path, window_days: int) -> Path:
    path = tmp_path / f"window-{window_days}.toml"
    path.write_text(f"[arms_sync]\nwindow_days = {window_days}\n")
    return path


@pytest.mark.parametrize("window_days", [0, 15])
def test_the_report_states_the_window_its_flags_were_decided_with(
    tmp_path: Path, window_days: int
) -> None:
    probation, police = _worked_example(tmp_path, "2025-05-10", custody=False)
    config = str(_config(tmp_path, window_days))
    run_cli("--config", config, *run_args(probation, police, AS_OF), cwd=tmp_path)

    report = _report(tmp_path)  # settings at report time: the default window

    assert report["window_days"] == window_days
    # The worked example's assessments are 20 days apart: no pair in either window.
    assert ("duplicate", "WPA-0", "open") not in _listed(report)
    assert ("assessed_by_non_owner", "WPA-0", "open") in _listed(report)


def _run_with_two_records_of_one_person(folder: Path, as_of: str) -> None:
    """A run, dated `as_of`, over two probation records sharing a PNC (a person-record flag)."""
    twins = [person("probation", pid, pnc="2002/0073319Z") for pid in ("X000001", "X000002")]
    probation = write_feed(folder / "probation.jsonl", twins)
    police = write_feed(folder / "police.jsonl", [])
    run_cli(*run_args(probation, police, as_of=as_of), cwd=folder)


def test_a_duplicate_person_record_is_filed_under_the_as_of_date_of_the_run_that_raised_it(
    tmp_path: Path,
) -> None:
    """A run dated in the past (`--as-of`) files its new person-record flags on that date."""
    _run_with_two_records_of_one_person(tmp_path, "2026-03-31")
    flags = _report(tmp_path, "--to", "2026-03-31")["flags"]
    assert isinstance(flags, list)
    [flag] = flags
    assert (flag["kind"], flag["person_ids"]) == ("duplicate_person_record", ["X000001", "X000002"])
    assert _report(tmp_path, "--from", "2026-04-01")["flags"] == []
    [month] = _report(tmp_path)["summary"]["by_month"]  # type: ignore[index]
    assert (month["month"], month["flags"]) == ("2026-03", {"duplicate_person_record": 1})


def test_a_run_dated_ahead_files_a_duplicate_person_record_no_later_than_the_day_it_ran(
    tmp_path: Path,
) -> None:
    _run_with_two_records_of_one_person(tmp_path, "2099-06-30")
    assert len(_report(tmp_path)["flags"]) == 1  # type: ignore[arg-type]
    assert _report(tmp_path, "--from", "2099-01-01")["flags"] == []
