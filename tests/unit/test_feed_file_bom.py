"""A feed file that starts with a UTF-8 byte order mark reads like one without."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sync.errors import UsageError
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


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_feed_saved_as_utf16_or_utf32_is_refused_in_one_sentence(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "probation.jsonl"
    text = (json.dumps(PERSON) + "\n") * 2
    path.write_bytes(
        ("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding)
    )
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        list(unit.items)

    assert str(caught.value) == (
        "The feed file probation.jsonl is not UTF-8 text (it was saved as UTF-16 or UTF-32); "
        "save it as UTF-8."
    )


def test_a_feed_with_carriage_returns_alone_for_line_ends_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes((json.dumps(PERSON) + "\r").encode() * 3)
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        list(unit.items)

    assert str(caught.value) == (
        "The feed file probation.jsonl ends its lines with carriage returns alone; "
        "save it with line feeds (or CR LF)."
    )


def test_crlf_line_ends_read_as_line_feeds(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes((json.dumps(PERSON) + "\r\n").encode() * 2)
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]

    assert [type(item) for item in unit.items] == [Accepted, Accepted]
