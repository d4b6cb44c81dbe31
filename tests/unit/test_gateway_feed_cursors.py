"""The reference gateway's feed file and cursors: non-blank lines are records; cursors its own."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sync.gateway.feed import CursorError, FeedFile, decode_cursor, encode_cursor


def _cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("offset", [0, 1, 7, 10_000, 123_456_789])
def test_a_cursor_is_base64url_of_v1_and_the_offset_and_reads_back(offset: int) -> None:
    cursor = encode_cursor(offset)
    assert cursor == _cursor_of(f"v1:{offset}")
    assert "=" not in cursor
    assert decode_cursor(cursor) == offset


@pytest.mark.parametrize(
    "cursor",
    [_cursor_of("12"), _cursor_of("v2:3"), _cursor_of("v1:"), _cursor_of("v1:+4"), "***", "v1:3"],
)
def test_a_cursor_not_issued_by_a_gateway_is_refused(cursor: str) -> None:
    with pytest.raises(CursorError, match="not one this gateway issued"):
        decode_cursor(cursor)


@pytest.fixture
def feed(tmp_path: Path) -> FeedFile:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b'{"n": 1}\n\n   \n{"n": 2}\r\n{"n": 3}\n\n{"n": 4}')
    return FeedFile(path)


def test_blank_lines_are_not_records(feed: FeedFile) -> None:
    assert len(feed) == 4
    assert feed.page(0, 10) == [b'{"n": 1}\n', b'{"n": 2}\n', b'{"n": 3}\n', b'{"n": 4}\n']
    assert feed.page(1, 2) == [b'{"n": 2}\n', b'{"n": 3}\n']


def test_the_end_of_the_feed_is_an_empty_page_and_beyond_it_is_refused(feed: FeedFile) -> None:
    assert feed.page(4, 10) == []
    with pytest.raises(CursorError, match="past the end"):
        feed.page(5, 10)
