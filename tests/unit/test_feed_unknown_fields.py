"""Unknown fields of a feed line: still ignored (feed-v1), but counted by name for the operator.

A name is shown only when it looks like a field name; any other is counted
without it, since a sender's field name could hold personal data.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from sync.cycle import RunSummary
from sync.feeds.jsonl import (
    OTHER_FIELD_NAME,
    Accepted,
    shown_field_name,
    validate_line,
)
from sync.feeds.models import FeedContext
from sync.feeds.parallel import received, validate_for_sending
from sync.ingest import COUNT_FIELDS, MAX_NAMED_UNKNOWN_FIELDS, IngestCounts
from tests.feed_records import person, registration

POLICE = FeedContext("police", date(2026, 11, 28))
OPEN_ENDED = registration("R-1", "P-1", "2019-01-01", None)


def accepted(record: dict[str, object]) -> Accepted:
    """The accepted item of one feed line holding `record`."""
    item = validate_line(json.dumps(record).encode(), "line 1", POLICE)
    assert isinstance(item, Accepted)
    return item


def test_a_misspelt_field_is_named_and_the_record_is_read_as_without_it() -> None:
    """`end_date` for `end`: accepted, open-ended as if it were absent, and named."""
    misspelt = {k: v for k, v in OPEN_ENDED.items() if k != "end"} | {"end_date": "2020-01-01"}
    item = accepted(misspelt)
    assert item.ignored == ("registration.end_date",)
    assert item.version == accepted(OPEN_ENDED).version
    assert item.version.payload is not None
    assert b"end_date" not in item.version.payload
    assert b"2020-01-01" not in item.version.payload


def test_a_line_without_unknown_fields_names_none() -> None:
    assert accepted(OPEN_ENDED).ignored == ()
    assert accepted(person("police", "P-1")).ignored == ()


def test_a_deletions_other_fields_are_never_reported() -> None:
    """A withdrawn record's content is never used, so its stray fields do not matter."""
    deleted = OPEN_ENDED | {"deleted": True, "end_date": "2020-01-01"}
    assert accepted(deleted).ignored == ()


@pytest.mark.parametrize("name", ["end_date", "middle_name", "address_line_2", "warnings"])
def test_a_name_like_a_field_name_is_shown(name: str) -> None:
    assert shown_field_name(name)
    assert accepted(OPEN_ENDED | {name: "x"}).ignored == (f"registration.{name}",)


@pytest.mark.parametrize(
    "name",
    [
        "SMITH",  # capitals
        "John Smith",  # a space
        "smith_1975",  # a birth year
        "d02011970",  # a date of birth
        "ref_123a",  # a PNC-like number, withheld by the record-id rule
        "a" * 41,  # too long
        "",  # no name at all
        "é_name",  # not ASCII
    ],
)
def test_a_name_that_may_hold_personal_data_is_counted_but_not_shown(name: str) -> None:
    assert not shown_field_name(name)
    item = accepted(OPEN_ENDED | {name: "x"})
    assert item.ignored == (OTHER_FIELD_NAME,)


def test_ignored_names_come_back_from_a_validation_worker_as_they_were() -> None:
    """The pool's flattened items keep the names, as they keep the version."""
    lines = [
        ("line 1", json.dumps(OPEN_ENDED | {"end_date": "2020-01-01"}).encode()),
        ("line 2", json.dumps(OPEN_ENDED).encode()),
    ]
    back = list(received(validate_for_sending(lines, POLICE)))
    assert [item.ignored for item in back if isinstance(item, Accepted)] == [
        ("registration.end_date",),
        (),
    ]


def test_counts_add_lines_per_name_and_other_names_apart() -> None:
    unit = IngestCounts()
    unit.note_ignored(("registration.end_date",))
    unit.note_ignored((OTHER_FIELD_NAME, OTHER_FIELD_NAME, "registration.end_date"))
    total = IngestCounts(unknown_fields={"person.middle_name": 4})
    total.add(unit)
    total.add(unit)
    assert total.unknown_fields == {"person.middle_name": 4, "registration.end_date": 4}
    assert total.unknown_other == 4


def test_names_beyond_the_limit_are_counted_among_other_names() -> None:
    counts = IngestCounts()
    names = [f"person.field_{n}" for n in range(MAX_NAMED_UNKNOWN_FIELDS + 2)]
    counts.note_ignored(names)
    counts.note_ignored(names[:1])
    assert len(counts.unknown_fields) == MAX_NAMED_UNKNOWN_FIELDS
    assert counts.unknown_fields[names[0]] == 2
    assert counts.unknown_other == 2


def test_the_audit_figures_leave_the_names_out() -> None:
    counts = IngestCounts(read=2, accepted=2, unknown_fields={"person.x": 1}, unknown_other=1)
    assert set(counts.figures()) == set(COUNT_FIELDS)
    assert "unknown_fields" not in COUNT_FIELDS


def test_counts_stored_as_a_task_result_read_back_the_same() -> None:
    """A distributed ingest task stores `asdict` of its counts as JSON; the commit reads
    them back into the summary, so the cycle tells them as `run` does."""
    counts = IngestCounts(read=3, accepted=3, unknown_fields={"registration.end_date": 1})
    stored = json.loads(json.dumps(dataclasses.asdict(counts)))
    assert IngestCounts.from_dict(stored) == counts
    assert IngestCounts.from_dict({"read": 1}) == IngestCounts(read=1)  # stored before


def test_the_run_summary_names_each_feeds_ignored_fields() -> None:
    summary = RunSummary(run_id=1, as_of=date(2026, 11, 28))
    summary.feeds = {
        "probation": IngestCounts(read=1, accepted=1),
        "police": IngestCounts(
            read=4,
            accepted=4,
            unknown_fields={"registration.end_date": 1, "person.middle_name": 3},
            unknown_other=2,
        ),
    }
    told = list(summary.lines())
    assert told[:3] == [
        "probation: read 1 record, accepted 1, rejected 0, with warnings 0",
        "police: read 4 records, accepted 4, rejected 0, with warnings 0",
        "police: unknown fields ignored: person.middle_name (3 lines), "
        "registration.end_date (1 line), 2 fields with other names",
    ]
    again = RunSummary.from_dict(json.loads(json.dumps(summary.as_dict())))
    assert list(again.lines()) == told


def test_one_field_with_another_name_is_told_in_the_singular() -> None:
    summary = RunSummary(run_id=1, as_of=date(2026, 11, 28))
    summary.feeds = {"police": IngestCounts(read=1, accepted=1, unknown_other=1)}
    assert "police: unknown fields ignored: 1 field with another name" in list(summary.lines())
