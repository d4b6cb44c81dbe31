"""A feed file that starts with a UTF-8 byte order mark reads like one without."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sync.feeds.files import PlainFileSource, is_sealed_file
from sync.feeds.jsonl import UTF8_BOM, Accepted
from sync.feeds.models import FeedContext
from tests.feed_records import person

PERSON = person("probation", "X123456")


def test_a_byte_order_mark_is_not_part_of_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes(UTF8_BOM + (json.dumps(PERSON) + "\n").encode() * 2)
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]
    items = list(unit.items)

    assert [type(item) for item in items] == [Accepted, Accepted]
    assert [item.position for item in items] == ["line 1", "line 2"]
    assert not is_sealed_file(path)
