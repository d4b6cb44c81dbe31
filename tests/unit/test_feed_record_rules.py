"""Feed-v1 rules at the edge that a bad line meets: agencies, types, controls, dates, ids."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sync.feeds.files import PlainFileSource
from sync.feeds.jsonl import Rejected, is_another_agencys, validate_line, validate_record
from sync.feeds.models import FeedContext, PersonRecord
from tests.feed_records import completed_assessment, merge, person

TODAY = date(2026, 11, 28)
PROBATION = FeedContext("probation", TODAY)
POLICE = FeedContext("police", TODAY)
STAMP = "2026-11-01T09:00:00Z"


def _line(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _rejected(raw: bytes, context: FeedContext = PROBATION) -> Rejected:
    item = validate_line(raw, "line 1", context)
    assert isinstance(item, Rejected)
    return item


def test_a_supervision_in_the_police_feed_is_rejected() -> None:
    raw = _line(
        type="supervision",
        agency="police",
        id="S-1",
        person_id="LAN-1",
        kind="licence",
        offence="sexual",
        start="2025-06-01",
        end="2027-05-31",
        updated_at=STAMP,
    )
    assert _rejected(raw, POLICE).reason == (
        "supervision.type: a supervision record only comes from probation"
    )


def test_a_deletion_of_a_custody_in_the_police_feed_is_rejected() -> None:
    raw = _line(type="custody", agency="police", id="C-1", updated_at=STAMP, deleted=True)
    assert "custody" in _rejected(raw, POLICE).reason


@pytest.mark.parametrize("field", ["id", "area"])
def test_a_del_character_in_an_id_or_area_rejects_the_line(field: str) -> None:
    record = person("police", "LAN-1", **{field: "LAN\x7f1"})
    reason = _rejected(json.dumps(record).encode(), POLICE).reason
    assert reason.startswith(f"person.{field}: must be text of 1 to ")
    assert reason.endswith(", without control characters")


@pytest.mark.parametrize(("pnc", "cro"), [(2002, None), (None, 65656), (["02/73319Z"], None)])
def test_an_identifier_that_is_not_a_string_is_set_aside_with_a_warning(
    pnc: object, cro: object
) -> None:
    record = validate_record(
        json.dumps(person("probation", "X123456", pnc=pnc, cro=cro)).encode(), PROBATION
    )
    assert isinstance(record, PersonRecord)
    assert (record.pnc, record.cro) == (None, None)
    field = "pnc" if pnc is not None else "cro"
    assert record.warnings == (f"{field}: not a string, set aside",)


@pytest.mark.parametrize("status", ["in_progress", "cancelled"])
def test_an_unfinished_assessment_completed_before_it_started_is_rejected(status: str) -> None:
    raw = json.dumps(
        completed_assessment(
            "probation", "A-1", "X123456", "2025-06-10", completed_on="2025-06-01", status=status
        )
    ).encode()
    assert _rejected(raw).reason == "assessment.completed_on: must not be before started_on"


@pytest.mark.parametrize("status", ["in_progress", "cancelled"])
def test_an_unfinished_assessment_completed_after_today_is_rejected(status: str) -> None:
    raw = json.dumps(
        completed_assessment(
            "probation", "A-1", "X123456", "2026-11-01", completed_on="2026-11-29", status=status
        )
    ).encode()
    assert _rejected(raw).reason == (
        "assessment.completed_on: must not be after today (or a later --as-of)"
    )


def test_a_line_without_a_type_names_the_missing_type() -> None:
    raw = _line(agency="probation", id="X123456", updated_at=STAMP)
    assert _rejected(raw).reason == "type: missing or unknown record type"


def test_a_rejected_merge_keeps_its_type_and_id() -> None:
    raw = json.dumps(merge("probation", "M-1", "X123456", "X123456")).encode()
    item = _rejected(raw)
    assert (item.record_type, item.record_id) == ("merge", "M-1")


@pytest.mark.parametrize("record_id", ["PA 1", "12.03.1972", "1.3.72"])
def test_an_id_with_a_space_or_shaped_like_a_dotted_date_is_not_kept(record_id: str) -> None:
    raw = _line(type="assessment", agency="police", id=record_id)
    assert _rejected(raw, POLICE).record_id is None


def test_only_a_record_of_the_other_agency_counts_as_another_agencys() -> None:
    wrong_feed = _rejected(json.dumps(person("police", "LAN-1")).encode())
    bad_gender = _rejected(json.dumps(person("probation", "X123456", gender="Q")).encode())
    many_faults = _rejected(json.dumps(person("police", "LAN-1", gender="Q")).encode())
    assert is_another_agencys(wrong_feed)
    assert not is_another_agencys(bad_gender)
    assert is_another_agencys(many_faults)


def test_a_rejected_line_of_a_file_is_kept_without_its_line_end(tmp_path: Path) -> None:
    bad = json.dumps(person("probation", "X123456", gender="Q")).encode()
    path = tmp_path / "probation.jsonl"
    path.write_bytes(bad + b"\r\n" + b"  " + bad + b" \n")
    (unit,) = PlainFileSource(path).units(PROBATION, guard=None)  # type: ignore[arg-type]
    items = list(unit.items)
    assert all(isinstance(item, Rejected) for item in items)
    assert [item.raw for item in items if isinstance(item, Rejected)] == [bad, bad]
