"""`arms-sync rejects` across runs: a bad line read again is listed where it was last read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import (
    completed_assessment,
    deleted_person,
    merge,
    person,
    run_args,
    write_feed,
)

pytestmark = pytest.mark.e2e

# A person line without a surname, forenames, gender or area: rejected.
BAD_LINE = {
    "type": "person",
    "agency": "probation",
    "id": "X000091",
    "updated_at": "2026-01-01T00:00:00Z",
}


def _rejects(db: list[str], cwd: Path) -> list[dict[str, object]]:
    listing = run_cli(*db, "rejects", "--json", cwd=cwd).stdout
    return [json.loads(line) for line in listing.splitlines()]


def _monday_run(db: list[str], folder: Path) -> tuple[Path, Path]:
    """A run over Monday's probation feed (a bad line, then a good one) and a police feed."""
    police = write_feed(folder / "police.jsonl", [person("police", "LAN-1")])
    monday = write_feed(folder / "monday.jsonl", [BAD_LINE, person("probation", "X000001")])
    run_cli(*db, *run_args(monday, police), cwd=folder)
    return monday, police


def test_a_bad_line_read_again_is_listed_once_at_its_latest_place(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    _monday, police = _monday_run(db, tmp_path)
    first = _rejects(db, tmp_path)
    assert [(row["source"], row["position"]) for row in first] == [("monday.jsonl", "line 1")]

    tuesday = write_feed(
        tmp_path / "tuesday.jsonl",
        [person("probation", "X000001"), person("probation", "X000002"), BAD_LINE],
    )
    run_cli(*db, *run_args(tuesday, police), cwd=tmp_path)
    again = _rejects(db, tmp_path)
    assert [(row["source"], row["position"]) for row in again] == [("tuesday.jsonl", "line 3")]
    assert again[0]["reason"] == first[0]["reason"]
    assert again[0]["first_seen"] == first[0]["first_seen"]
    assert datetime.fromisoformat(str(first[0]["first_seen"])).utcoffset() == timedelta(0)

    run_cli(*db, *run_args(tuesday, police), cwd=tmp_path)
    assert _rejects(db, tmp_path) == again


def test_identical_bad_lines_in_one_feed_are_each_listed_and_read_again_add_nothing(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    police = write_feed(tmp_path / "police.jsonl", [person("police", "LAN-1")])
    twice = write_feed(
        tmp_path / "twice.jsonl", [BAD_LINE, person("probation", "X000001"), BAD_LINE]
    )
    run_cli(*db, *run_args(twice, police), cwd=tmp_path)
    listed = _rejects(db, tmp_path)
    assert [(row["source"], row["position"]) for row in listed] == [
        ("twice.jsonl", "line 1"),
        ("twice.jsonl", "line 3"),
    ]

    run_cli(*db, *run_args(twice, police), cwd=tmp_path)
    assert _rejects(db, tmp_path) == listed

    once = write_feed(tmp_path / "once.jsonl", [person("probation", "X000001"), BAD_LINE])
    run_cli(*db, *run_args(once, police), cwd=tmp_path)
    places = [(row["source"], row["position"]) for row in _rejects(db, tmp_path)]
    assert sorted(places) == [("once.jsonl", "line 2"), ("twice.jsonl", "line 3")]


def test_an_orphan_is_listed_with_the_same_fields_as_a_rejected_line(tmp_path: Path) -> None:
    """Scripts reading `rejects --json` find `source` and `position` on every line."""
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    unknown_person = completed_assessment("police", "PA-1", "LAN-404", "2025-01-02")
    police = write_feed(tmp_path / "police.jsonl", [person("police", "LAN-1"), unknown_person])
    probation = write_feed(tmp_path / "probation.jsonl", [BAD_LINE, person("probation", "X000001")])
    run_cli(*db, *run_args(probation, police), cwd=tmp_path)

    rejected, orphan = _rejects(db, tmp_path)

    assert orphan["record_id"] == "PA-1"
    assert list(orphan) == list(rejected)
    assert (orphan["source"], orphan["position"], orphan["first_seen"]) == (None, None, None)


def test_a_merge_closing_a_loop_is_listed_as_such_not_as_a_missing_person(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    police = write_feed(
        tmp_path / "police.jsonl",
        [
            person("police", "LAN-1"),
            person("police", "LAN-2"),
            merge("police", "PM-1", "LAN-1", "LAN-2"),
            merge("police", "PM-2", "LAN-2", "LAN-1"),
            merge("police", "PM-3", "LAN-3", "LAN-4"),
        ],
    )
    probation = write_feed(tmp_path / "probation.jsonl", [person("probation", "X000001")])
    run_cli(*db, *run_args(probation, police), cwd=tmp_path)

    reasons = {row["record_id"]: row["reason"] for row in _rejects(db, tmp_path)}

    assert set(reasons) == {"PM-1", "PM-3"}
    assert "loop of merges" in str(reasons["PM-1"])
    assert "not in the feed" in str(reasons["PM-3"])


def test_an_orphan_says_whether_its_person_was_rejected_deleted_or_never_sent(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    unnamed = {key: value for key, value in person("police", "LAN-2").items() if key != "surname"}
    police = [
        person("police", "LAN-1"),
        unnamed,  # rejected: no surname
        completed_assessment("police", "PA-2", "LAN-2", "2025-01-02"),
        person("police", "LAN-3"),
        completed_assessment("police", "PA-3", "LAN-3", "2025-01-02"),
        completed_assessment("police", "PA-4", "LAN-404", "2025-01-02"),
        person("probation", "X000002"),  # the other agency's: rejected from this feed
    ]
    probation = [
        person("probation", "X000001"),
        completed_assessment("probation", "A-2", "X000002", "2025-01-02"),
    ]
    probation_feed = write_feed(tmp_path / "probation.jsonl", probation)
    monday = write_feed(tmp_path / "monday.jsonl", police)
    run_cli(*db, *run_args(probation_feed, monday), cwd=tmp_path)
    tuesday = write_feed(
        tmp_path / "tuesday.jsonl",
        [*police, deleted_person("police", "LAN-3", "2026-02-01T00:00:00Z")],
    )
    run_cli(*db, *run_args(probation_feed, tuesday), cwd=tmp_path)

    reasons = {
        row["record_id"]: row["reason"]
        for row in _rejects(db, tmp_path)
        if str(row["reason"]).startswith("orphan")
    }

    rejected = "orphan: refers to a person record whose line was rejected (see its reject)"
    assert reasons == {
        "PA-2": rejected,
        "A-2": rejected,
        "PA-3": "orphan: refers to a person record its agency deleted",
        "PA-4": "orphan: refers to a person record that is not in the feed",
    }


def test_a_rejected_line_corrected_in_a_later_run_is_marked_fixed(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    monday, police = _monday_run(db, tmp_path)
    [standing] = _rejects(db, tmp_path)
    assert standing["fixed_in_run"] is None

    corrected = {**person("probation", "X000091"), "updated_at": "2026-01-02T00:00:00Z"}
    tuesday = write_feed(tmp_path / "tuesday.jsonl", [corrected, person("probation", "X000001")])
    summary = json.loads(run_cli(*db, *run_args(tuesday, police), "--json", cwd=tmp_path).stdout)

    [fixed] = _rejects(db, tmp_path)
    assert fixed["record_id"] == "X000091"
    assert fixed["fixed_in_run"] == summary["run_id"]
    table = run_cli(*db, "rejects", cwd=tmp_path).stdout
    assert f"run {summary['run_id']}" in table
    assert "1 rejected (0 still standing, 1 since fixed), 0 orphaned" in table

    # The agency sends the bad line again: it stands again.
    run_cli(*db, *run_args(monday, police), cwd=tmp_path)
    [again] = _rejects(db, tmp_path)
    assert again["fixed_in_run"] is None


def test_lines_nested_too_deep_or_holding_nul_are_rejected_and_the_run_goes_on(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    nested = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    nul_id = {
        "type": "custody",
        "agency": "probation",
        "id": "C\u0000",
        "person_id": "X000001",
        "start": "2025-06-01",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    probation = write_feed(tmp_path / "probation.jsonl", [person("probation", "X000001"), nul_id])
    with probation.open("ab") as stream:
        stream.write(nested + b"\n")
    police = write_feed(tmp_path / "police.jsonl", [person("police", "LAN-1")])

    summary = json.loads(run_cli(*db, *run_args(probation, police), "--json", cwd=tmp_path).stdout)

    assert summary["feeds"]["probation"]["accepted"] == 1
    rejected = {str(row["position"]): str(row["reason"]) for row in _rejects(db, tmp_path)}
    assert rejected == {
        "line 2": "custody.id: must be text of 1 to 64 characters, without control characters",
        "line 3": "not valid JSON",
    }


def test_a_first_line_nested_too_deep_is_rejected_not_taken_for_an_envelope(
    tmp_path: Path,
) -> None:
    """The first line decides whether a file is sealed; one Python cannot parse is a bad line."""
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    probation = tmp_path / "probation.jsonl"
    probation.write_bytes(b"[" * 5_000 + b"]" * 5_000 + b"\n")
    with probation.open("a") as stream:
        stream.write(json.dumps(person("probation", "X000001")) + "\n")
    police = write_feed(tmp_path / "police.jsonl", [person("police", "LAN-1")])

    summary = json.loads(run_cli(*db, *run_args(probation, police), "--json", cwd=tmp_path).stdout)

    assert summary["feeds"]["probation"]["accepted"] == 1
    rejected = {str(row["position"]): str(row["reason"]) for row in _rejects(db, tmp_path)}
    assert rejected == {"line 1": "not valid JSON"}


def test_records_accepted_with_warnings_are_listed_on_request(
    ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    probation = write_feed(
        tmp_path / "probation.jsonl",
        [person("probation", "X000001", pnc="2018/0123456X"), person("probation", "X000002")],
    )
    police = write_feed(tmp_path / "police.jsonl", [person("police", "LAN-1", cro="000000/00Z")])
    told = run_cli(*db, *run_args(probation, police), cwd=tmp_path).stdout
    assert "2 records with warnings: see `arms-sync rejects --warnings`." in told
    listed = run_cli(*db, "rejects", "--warnings", "--json", cwd=tmp_path).stdout

    rows = [json.loads(line) for line in listed.splitlines()]
    assert rows == [
        {
            "agency": "police",
            "record_type": "person",
            "record_id": "LAN-1",
            "warnings": ["cro: placeholder value, treated as absent"],
        },
        {
            "agency": "probation",
            "record_type": "person",
            "record_id": "X000001",
            "warnings": ["pnc: check letter does not match, set aside"],
        },
    ]
    table = run_cli(*db, "rejects", "--warnings", cwd=tmp_path).stdout
    assert "2 records with warnings" in table
    assert "2018/0123456X" not in listed + table


@pytest.mark.parametrize("stray_in", ["probation", "police"])
def test_a_feed_holding_only_another_agencys_record_keeps_it_as_a_reject_and_the_run_goes_on(
    tmp_path: Path, stray_in: str
) -> None:
    """`feed-v1.md`: such a line is rejected, never dropped, and one bad line never stops a run."""
    own = "police" if stray_in == "probation" else "probation"
    own_person, stray = person(own, "X000001"), person(own, "X000002")
    feeds = {own: [own_person], stray_in: [stray]}
    probation = write_feed(tmp_path / "probation.jsonl", feeds["probation"])
    police = write_feed(tmp_path / "police.jsonl", feeds["police"])
    db = ["--db", f"sqlite:///{tmp_path / 'ledger.db'}"]
    summary = run_cli(*db, *run_args(probation, police), cwd=tmp_path).stdout
    read = {
        own: f"{own}: read 1 record, accepted 1, rejected 0, with warnings 0",
        stray_in: f"{stray_in}: read 1 record, accepted 0, rejected 1, with warnings 0",
    }
    changed = {own: 1, stray_in: 0}
    assert summary.splitlines()[:3] == [
        read["probation"],
        read["police"],
        "records changed (new, updated or deleted): "
        f"probation {changed['probation']}, police {changed['police']}",
    ]
    assert (
        f"{stray_in}: every record is another agency's and was kept as a reject; "
        "was the right file given?"
    ) in summary.splitlines()
    [reject] = _rejects(db, tmp_path)
    assert (reject["agency"], reject["source"], reject["position"]) == (
        stray_in,
        f"{stray_in}.jsonl",
        "line 1",
    )
    assert reject["reason"] == "person.agency: does not match the feed it arrived in"
    timeline = run_cli(*db, "export", "timeline", cwd=tmp_path).stdout.splitlines()
    [subject] = [json.loads(line) for line in timeline]
    assert subject["records"] == [{"agency": own, "person_id": "X000001"}]


def test_another_agencys_records_kept_as_rejects_are_fixed_once_their_own_feed_holds_them(
    ledger_url: str, tmp_path: Path
) -> None:
    """The police file given as probation's: its lines stand until police's feed gives them."""
    db = ["--db", ledger_url]
    police_records = [person("police", "LAN-1"), person("police", "LAN-2")]
    police = write_feed(tmp_path / "police.jsonl", police_records)
    probation = write_feed(tmp_path / "probation.jsonl", [person("probation", "X000001")])
    only_lan_1 = write_feed(tmp_path / "police-one.jsonl", police_records[:1])
    run_cli(*db, *run_args(police, only_lan_1), cwd=tmp_path)  # police's file given for both
    assert [(row["record_id"], row["fixed_in_run"]) for row in _rejects(db, tmp_path)] == [
        ("LAN-1", 1),  # police's own feed gave it in that run
        ("LAN-2", None),
    ]
    later = json.loads(run_cli(*db, *run_args(probation, police), "--json", cwd=tmp_path).stdout)
    assert [(row["record_id"], row["fixed_in_run"]) for row in _rejects(db, tmp_path)] == [
        ("LAN-1", 1),
        ("LAN-2", later["run_id"]),
    ]
    assert (
        "2 rejected (0 still standing, 2 since fixed)"
        in run_cli(*db, "rejects", cwd=tmp_path).stdout
    )
