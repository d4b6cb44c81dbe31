"""Feed files on disk: which are sealed, what a file source says of itself, files refused whole."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sync.crypto.keyring import load_keyring
from sync.crypto.keys import Party
from sync.crypto.replay import InMemoryReplayGuard
from sync.errors import InputRefused, UsageError
from sync.feeds.files import PlainFileSource, SealedFileSource, is_sealed_file
from sync.feeds.jsonl import Accepted
from sync.feeds.models import FeedContext
from tests.feed_records import person
from tests.unit.test_feed_line_breaks import keys, sealed

CONTEXT = FeedContext("probation", date(2026, 11, 28))
NOW = datetime.now(UTC)
__all__ = ["keys"]  # the fixture, shared with the line-break tests

LINES = [json.dumps(person("probation", f"X00000{n}")).encode() for n in (1, 2, 3)]


def _sealed_source(keys: Path, path: Path) -> SealedFileSource:
    return SealedFileSource(path, load_keyring(keys, Party.HUB), lambda: NOW)


def _read_ids(source: PlainFileSource | SealedFileSource) -> list[str]:
    (unit,) = source.units(CONTEXT, InMemoryReplayGuard())
    items = list(unit.items)
    assert all(isinstance(item, Accepted) for item in items)
    return [item.version.rid for item in items if isinstance(item, Accepted)]


def test_a_sealed_file_is_told_by_its_first_non_blank_line(keys: Path, tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b"\n  \n" + b"".join(page + b"\n" for page in sealed(keys, LINES, 1)))
    assert is_sealed_file(path)
    path.write_bytes(b"\n" + b"".join(line + b"\n" for line in LINES))
    assert not is_sealed_file(path)


@pytest.mark.parametrize("content", [b"", b"\n \n"], ids=["empty", "blank"])
def test_an_empty_file_is_not_sealed(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(content)
    assert not is_sealed_file(path)


def test_a_file_source_is_named_by_its_file_alone_and_is_not_live(
    keys: Path, tmp_path: Path
) -> None:
    path = tmp_path / "nested" / "feed.jsonl"
    plain, sealed = PlainFileSource(path), _sealed_source(keys, path)
    assert (plain.name, plain.live, plain.sealed) == ("feed.jsonl", False, False)
    assert (sealed.name, sealed.live, sealed.sealed) == ("feed.jsonl", False, True)


def test_blank_lines_between_the_pages_of_a_sealed_file_are_skipped(
    keys: Path, tmp_path: Path
) -> None:
    path = tmp_path / "feed.sealed.jsonl"
    path.write_bytes(b"\n".join(sealed(keys, LINES, 1)).replace(b"\n", b"\n\n  \n") + b"\n\n")
    assert _read_ids(_sealed_source(keys, path)) == ["X000001", "X000002", "X000003"]


def test_a_sealed_file_cut_short_before_its_last_page_is_refused(
    keys: Path, tmp_path: Path
) -> None:
    path = tmp_path / "feed.sealed.jsonl"
    path.write_bytes(b"".join(page + b"\n" for page in sealed(keys, LINES, 1)[:2]))
    with pytest.raises(InputRefused, match="cut short"):
        _read_ids(_sealed_source(keys, path))


@pytest.mark.parametrize("kept", [20, 200], ids=["in-its-header", "in-its-content"])
def test_a_sealed_file_cut_short_in_its_first_page_is_refused_not_read_as_plain(
    keys: Path, tmp_path: Path, kept: int
) -> None:
    path = tmp_path / "feed.sealed.jsonl"
    path.write_bytes(b"\n" + sealed(keys, LINES, 1)[0][:kept])
    with pytest.raises(InputRefused) as refused:
        is_sealed_file(path)
    assert str(refused.value) == (
        "The feed file feed.sealed.jsonl begins as a sealed envelope, but its first line is "
        "cut short or damaged; nothing from it was read: ask its agency for the file again."
    )


def test_a_plain_feed_whose_first_line_is_broken_is_still_a_plain_feed(tmp_path: Path) -> None:
    """Its broken line is rejected and kept, as any bad line is."""
    path = tmp_path / "feed.jsonl"
    path.write_bytes(LINES[0][:30] + b"\n" + LINES[1] + b"\n")
    assert not is_sealed_file(path)


def test_a_utf32_big_endian_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes(("\ufeff" + LINES[0].decode() + "\n").encode("utf-32-be"))
    with pytest.raises(UsageError, match="not UTF-8 text"):
        _read_ids(PlainFileSource(path))


def test_records_parted_by_a_carriage_return_and_spaces_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "probation.jsonl"
    path.write_bytes(LINES[0] + b" \r\t" + LINES[1] + b"\r")
    with pytest.raises(UsageError, match="carriage returns alone"):
        _read_ids(PlainFileSource(path))


def test_a_missing_feed_file_or_a_folder_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as missing:
        _read_ids(PlainFileSource(tmp_path / "absent.jsonl"))
    assert str(missing.value) == "The feed file absent.jsonl does not exist."
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(UsageError) as directory:
        _read_ids(PlainFileSource(folder))
    assert str(directory.value) == "The feed path folder.jsonl is a folder, not a file."
