"""A rejected line keeps its type and id only when they look like a type and an id, and the
id not like personal data typed into the wrong field (a name, a date, a PNC or CRO)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sync.feeds.jsonl import Rejected, validate_line
from sync.feeds.models import FeedContext
from sync.ledger.store import reject_order

POLICE = FeedContext("police", date(2026, 11, 28))


def _rejected(record_type: object, record_id: object) -> Rejected:
    raw = json.dumps({"type": record_type, "agency": "police", "id": record_id}).encode()
    item = validate_line(raw, "line 1", POLICE)
    assert isinstance(item, Rejected)
    return item


@pytest.mark.parametrize(
    ("record_type", "record_id", "kept"),
    [
        ("assessment", "PA-1", ("assessment", "PA-1")),
        ("person", " GMP-12 ", ("person", "GMP-12")),
        ("assessment", "ELLIS David", ("assessment", None)),
        ("assessment", "1972-03-20 ELLIS", ("assessment", None)),
        ("assessment", 12345, ("assessment", None)),
        ("person", "ELLIS", ("person", None)),
        ("person", "1972-03-20", ("person", None)),
        ("person", "20/03/1972", ("person", None)),
        ("person", "2001/0000123Z", ("person", None)),
        ("person", "20010000123z", ("person", None)),
        ("person", "123456/01Z", ("person", None)),
        ("person", "SF01/123Z", ("person", None)),
        ("person", "02/1Z", ("person", None)),
        ("assessment", "A" + "1" * 63, ("assessment", "A" + "1" * 63)),
        ("assessment", "A" + "1" * 64, ("assessment", None)),
        ("person", "X12345", ("person", "X12345")),
        ("assessment", "RAS00042127", ("assessment", "RAS00042127")),
        ("ELLIS", "PA-1", (None, "PA-1")),
        (None, None, (None, None)),
    ],
)
def test_only_what_looks_like_a_type_and_an_id_is_kept(
    record_type: object, record_id: object, kept: tuple[str | None, str | None]
) -> None:
    item = _rejected(record_type, record_id)
    assert (item.record_type, item.record_id) == kept


def test_rejects_are_listed_in_the_order_of_their_lines() -> None:
    positions = ["line 10", "line 2", "page 2 line 1", "page 10 line 3", "line 1", "page 2 line 10"]
    rows = [{"first_seen": 1, "agency": "police", "source": "f", "position": p} for p in positions]
    ordered = [row["position"] for row in sorted(rows, key=reject_order)]
    assert ordered == [
        "line 1",
        "line 2",
        "line 10",
        "page 2 line 1",
        "page 2 line 10",
        "page 10 line 3",
    ]
