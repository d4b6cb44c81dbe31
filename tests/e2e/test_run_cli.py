"""`arms-sync run` as a user runs it: worked examples, broken lines, re-runs and shuffles."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import cast

import pytest

from tests.conftest import run_cli
from tests.feed_records import (
    Record,
    completed_assessment,
    person,
    run_args,
    write_feeds,
)

pytestmark = pytest.mark.e2e


def _person(agency: str, pid: str, pnc: str) -> Record:
    return person(agency, pid, pnc=pnc, cro=None)


def _worked_example(tmp_path: Path, police_day: str, custody: bool) -> tuple[Path, Path]:
    pnc = "1990/0004242E"
    probation: list[Record] = [
        _person("probation", "W900000", pnc),
        {
            "type": "supervision",
            "agency": "probation",
            "id": "WS-0",
            "person_id": "W900000",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-03-01",
            "end": "2027-02-28",
            "updated_at": "2026-01-01T00:00:00Z",
        },
        completed_assessment("probation", "WA-0", "W900000", "2025-04-20"),
    ]
    if custody:
        probation.append(
            {
                "type": "custody",
                "agency": "probation",
                "id": "WC-0",
                "person_id": "W900000",
                "start": "2025-05-01",
                "end": "2025-06-15",
                "updated_at": "2026-01-01T00:00:00Z",
            }
        )
    police: list[Record] = [
        _person("police", "WEX-0", pnc),
        {
            "type": "registration",
            "agency": "police",
            "id": "WR-0",
            "person_id": "WEX-0",
            "start": "2019-01-01",
            "end": None,
            "updated_at": "2026-01-01T00:00:00Z",
        },
        completed_assessment("police", "WPA-0", "WEX-0", police_day),
    ]
    return write_feeds(tmp_path, probation, police)


def _run(
    cwd: Path, probation: Path, police: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`arms-sync run` over a pair of feed files, as of the examples' date."""
    return run_cli(*run_args(probation, police), cwd=cwd, env=env)


def _same_deployment(source: Path, target: Path) -> None:
    """Give `target`'s ledger the at-rest key of `source`'s: subject ids are keyed with it."""
    shutil.copy2(source / "arms-sync.db.key", target / "arms-sync.db.key")


def _run_and_report(tmp_path: Path, probation: Path, police: Path) -> dict[str, object]:
    _run(tmp_path, probation, police)
    report = run_cli("report", "duplicates", "--format", "json", cwd=tmp_path).stdout
    return json.loads(report)  # type: ignore[no-any-return]


def _flags(report: dict[str, object]) -> list[dict[str, object]]:
    """The report's flags: a JSON list of objects, as the report's contract shows."""
    return cast(list[dict[str, object]], report["flags"])


def _kinds(report: dict[str, object]) -> set[tuple[object, object, object]]:
    return {(f["kind"], f["assessment_id"], f["redundant"]) for f in _flags(report)}


def test_worked_example_1_police_assessment_is_redundant_duplicate(tmp_path: Path) -> None:
    report = _run_and_report(tmp_path, *_worked_example(tmp_path, "2025-05-10", custody=False))
    assert _kinds(report) == {
        ("assessed_by_non_owner", "WPA-0", None),
        ("duplicate", "WPA-0", True),
        ("duplicate", "WA-0", False),
    }
    police_duplicate = next(
        f for f in _flags(report) if f["kind"] == "duplicate" and f["agency"] == "police"
    )
    assert police_duplicate["owner_at_reference_date"] == "probation"
    assert police_duplicate["rule_at_reference_date"] == "PROB-SEXUAL"
    assert police_duplicate["counterpart"] == {
        "agency": "probation",
        "assessment_id": "WA-0",
        "reference_date": "2025-04-20",
        "redundant": False,
    }


def _years_later(feed: Path, years: int) -> Path:
    """The feed with every date and time moved `years` later, all else kept."""
    text = re.sub(
        r'"(\d{4})-(\d\d-\d\d)',
        lambda found: f'"{int(found.group(1)) + years}-{found.group(2)}',
        feed.read_text(encoding="utf-8"),
    )
    feed.write_text(text, encoding="utf-8")
    return feed


def test_worked_example_1_dated_years_ahead_flags_the_same(tmp_path: Path) -> None:
    """`--as-of` fixes "today": assessments completed by then are kept, whatever the clock."""
    feeds = _worked_example(tmp_path, "2025-05-10", custody=False)
    probation, police = (_years_later(feed, 6) for feed in feeds)
    run_cli(*run_args(probation, police, as_of="2032-11-28"), cwd=tmp_path)
    report = json.loads(run_cli("report", "duplicates", "--format", "json", cwd=tmp_path).stdout)
    assert _kinds(report) == {
        ("assessed_by_non_owner", "WPA-0", None),
        ("duplicate", "WPA-0", True),
        ("duplicate", "WA-0", False),
    }
    assert run_cli("rejects", "--json", cwd=tmp_path).stdout == ""


def test_worked_example_2_before_the_licence_is_a_handover(tmp_path: Path) -> None:
    report = _run_and_report(tmp_path, *_worked_example(tmp_path, "2024-11-02", custody=False))
    assert report["flags"] == []


def test_worked_example_3_recall_to_custody_means_no_owner(tmp_path: Path) -> None:
    report = _run_and_report(tmp_path, *_worked_example(tmp_path, "2025-05-10", custody=True))
    assert _kinds(report) == {
        ("assessed_without_owner", "WPA-0", None),
        ("duplicate", "WPA-0", True),
        ("duplicate", "WA-0", False),
    }


BROKEN_PROBATION_LINES = [
    "this is not json",
    json.dumps(
        {
            "type": "prison_visit",
            "agency": "probation",
            "id": "V-1",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    ),
    json.dumps(
        {
            "type": "supervision",
            "agency": "probation",
            "id": "BAD-DATE",
            "person_id": "W900000",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-02-30",
            "end": "2026-01-01",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    ),
    json.dumps(
        {
            "type": "supervision",
            "agency": "probation",
            "id": "BACKWARDS",
            "person_id": "W900000",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-06-01",
            "end": "2025-05-01",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    ),
    json.dumps(
        {
            "type": "assessment",
            "agency": "police",
            "id": "WRONG-AGENCY",
            "person_id": "W900000",
            "started_on": "2025-04-01",
            "completed_on": "2025-04-02",
            "status": "completed",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    ),
    json.dumps({**_person("probation", "not-a-crn", "1990/0004242E")}),
    json.dumps(
        {
            "type": "assessment",
            "agency": "probation",
            "id": "BEFORE-YEAR-ONE",
            "person_id": "W900000",
            "started_on": "2025-04-01",
            "status": "in_progress",
            "updated_at": "0001-01-01T00:00:00+01:00",
        }
    ),
]
BROKEN_POLICE_LINES = [
    json.dumps(
        {
            "type": "supervision",
            "agency": "police",
            "id": "POLICE-SUP",
            "person_id": "WEX-0",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-03-01",
            "end": "2027-02-28",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    ),
]


def test_broken_lines_are_rejected_with_reasons_and_change_nothing_else(tmp_path: Path) -> None:
    clean_dir, broken_dir = tmp_path / "clean", tmp_path / "broken"
    clean_dir.mkdir()
    broken_dir.mkdir()
    probation, police = _worked_example(clean_dir, "2025-05-10", custody=False)
    clean_report = _run_and_report(clean_dir, probation, police)
    clean_timeline = run_cli("export", "timeline", cwd=clean_dir).stdout

    broken_probation = broken_dir / "probation.jsonl"
    lines = probation.read_text().splitlines()
    broken_probation.write_text("\n".join([lines[0], *BROKEN_PROBATION_LINES, *lines[1:]]) + "\n")
    broken_police = broken_dir / "police.jsonl"
    broken_police.write_text(police.read_text() + "\n".join(BROKEN_POLICE_LINES) + "\n")

    _same_deployment(clean_dir, broken_dir)
    run = _run(broken_dir, broken_probation, broken_police)
    assert "8 rejected records" in run.stdout
    rejects = [
        json.loads(line)
        for line in run_cli("rejects", "--json", cwd=broken_dir).stdout.splitlines()
    ]
    reasons = {(r["agency"], r["position"]): r["reason"] for r in rejects}
    assert reasons == {
        ("probation", "line 2"): "not valid JSON",
        ("probation", "line 3"): "type: missing or unknown record type",
        ("probation", "line 4"): reasons[("probation", "line 4")],
        ("probation", "line 5"): "supervision.end: must not be before start",
        ("probation", "line 6"): "assessment.agency: does not match the feed it arrived in",
        ("probation", "line 7"): "person.id (crn): must be one letter and six digits",
        ("probation", "line 8"): (
            "assessment.updated_at: must fall between the years 0001 and 9999 once in UTC"
        ),
        ("police", "line 4"): "supervision.type: a supervision record only comes from probation",
    }
    assert reasons[("probation", "line 4")].startswith("supervision.start:")
    broken_report = json.loads(
        run_cli("report", "duplicates", "--format", "json", cwd=broken_dir).stdout
    )
    assert _kinds(broken_report) == _kinds(clean_report)
    assert run_cli("export", "timeline", cwd=broken_dir).stdout == clean_timeline


def _exports(cwd: Path) -> str:
    return (
        "".join(
            run_cli("export", *what, cwd=cwd).stdout
            for what in (["ownership", "--as-of", "2025-05-10"], ["timeline"], ["links"])
        )
        + run_cli("report", "duplicates", "--format", "json", cwd=cwd).stdout
    )


def test_rerun_and_shuffled_feeds_give_byte_identical_exports(
    examples_dir: Path, tmp_path: Path
) -> None:
    first, shuffled = tmp_path / "first", tmp_path / "shuffled"
    first.mkdir()
    shuffled.mkdir()
    feeds = {a: examples_dir / f"{a}.jsonl" for a in ("probation", "police")}
    _run(first, feeds["probation"], feeds["police"])
    once = _exports(first)
    _run(first, feeds["probation"], feeds["police"])
    assert _exports(first) == once

    rng = random.Random(7)
    for path in feeds.values():
        lines = path.read_text().splitlines()
        rng.shuffle(lines)
        (shuffled / path.name).write_text("\n".join(lines) + "\n")
    _same_deployment(first, shuffled)
    _run(shuffled, shuffled / "probation.jsonl", shuffled / "police.jsonl")
    assert _exports(shuffled) == once


def test_the_debug_switch_leaves_library_logging_quiet(tmp_path: Path) -> None:
    probation, police = _worked_example(tmp_path, "2025-05-10", custody=False)
    run = _run(tmp_path, probation, police, env={"ARMS_SYNC_DEBUG": "1"})
    log_lines = [
        line for line in run.stderr.splitlines() if line.split(" ")[0] in {"DEBUG", "INFO"}
    ]
    assert all(line.split(" ")[1].startswith("sync") for line in log_lines), log_lines
    assert "EXAMPLE" not in run.stderr
