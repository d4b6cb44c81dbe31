"""A feed file that starts with a UTF-8 byte order mark reads like one without."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from sync.errors import UsageError
from sync.feeds.files import PlainFileSource, is_sealed_file
from sync.feeds.jsonl import UTF8_BOM, Accepted, Rejected
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


UTF16_OR_32 = (
    "The feed file probation.jsonl is not UTF-8 text (it was saved as UTF-16 or UTF-32); "
    "save it as UTF-8."
)
CR_ALONE = (
    "The feed file probation.jsonl ends its lines with carriage returns alone; "
    "save it with line feeds (or CR LF)."
)
LINE = json.dumps(PERSON)


@pytest.mark.parametrize(
    ("content", "sentence"),
    [
        (((LINE + "\n") * 2).encode("utf-16"), UTF16_OR_32),
        (("\ufeff" + (LINE + "\n") * 2).encode("utf-16-be"), UTF16_OR_32),
        (((LINE + "\n") * 2).encode("utf-32"), UTF16_OR_32),
        ((LINE + "\r").encode() * 3, CR_ALONE),
    ],
    ids=["utf-16", "utf-16-be", "utf-32", "cr-alone"],
)
def test_a_feed_file_that_cannot_be_read_as_lines_is_refused_in_one_sentence(
    tmp_path: Path, content: bytes, sentence: str
) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes(content)
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        list(unit.items)

    assert str(caught.value) == sentence


def _zipped(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("probation.jsonl", content)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("compress", "kind"),
    [(gzip.compress, "gzip"), (_zipped, "zip"), (bz2.compress, "bzip2"), (lzma.compress, "xz")],
    ids=["gzip", "zip", "bzip2", "xz"],
)
def test_a_compressed_feed_file_is_refused_naming_its_kind(
    tmp_path: Path, compress: Callable[[bytes], bytes], kind: str
) -> None:
    """Read as it is, its bytes would be rejected line by line as not JSON: refused whole."""
    path = tmp_path / "probation.jsonl"
    path.write_bytes(compress(((LINE + "\n") * 2).encode()))
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as caught:
        list(unit.items)

    assert str(caught.value) == (
        f"The feed file probation.jsonl is compressed ({kind}); decompress it and give the "
        "JSON Lines file."
    )


def test_a_text_line_that_starts_like_a_bzip2_file_is_read_as_a_line(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes(b"BZh9 export header\n" + (LINE + "\n").encode())
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]

    assert [type(item) for item in unit.items] == [Rejected, Accepted]


def test_a_first_record_holding_a_compressed_signature_within_it_is_read(tmp_path: Path) -> None:
    """A signature counts only at the very start of the file, not inside a record."""
    path = tmp_path / "probation.jsonl"
    noted = {**PERSON, "note": "BZh91AY&SY\x1f\x8b PK\x03\x04"}
    path.write_bytes((json.dumps(noted) + "\n" + LINE + "\n").encode())
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]

    assert [type(item) for item in unit.items] == [Accepted, Accepted]


def test_crlf_line_ends_read_as_line_feeds(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes((json.dumps(PERSON) + "\r\n").encode() * 2)
    context = FeedContext("probation", date(2026, 11, 28))

    (unit,) = PlainFileSource(path).units(context, guard=None)  # type: ignore[arg-type]

    assert [type(item) for item in unit.items] == [Accepted, Accepted]
