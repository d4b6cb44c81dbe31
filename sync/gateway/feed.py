"""The feed a gateway serves: a plain JSON Lines file, read page by page through cursors.

The file is indexed once (the byte span of every non-blank line) and pages are
read from disk on demand, so memory holds offsets, not records. A cursor is
the record offset encoded as base64url of `v1:<offset>`; clients treat it as
opaque and send back the `next` they were given.
"""

from __future__ import annotations

import base64
import binascii
import threading
from pathlib import Path

CURSOR_PREFIX = "v1:"
START_OFFSET = 0


class CursorError(ValueError):
    """A cursor that this feed did not issue, or that points past its end."""


def encode_cursor(offset: int) -> str:
    """The opaque cursor for a record offset."""
    raw = f"{CURSOR_PREFIX}{offset}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> int:
    """The record offset of a cursor, or `CursorError`."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise CursorError("the cursor is not one this gateway issued.") from None
    number = text.removeprefix(CURSOR_PREFIX)
    if not text.startswith(CURSOR_PREFIX) or not number.isdigit():
        raise CursorError("the cursor is not one this gateway issued.")
    return int(number)


def _index_lines(path: Path) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    with path.open("rb") as stream:
        for line in stream:
            if line.strip():
                spans.append((position, position + len(line)))
            position += len(line)
    return spans


class FeedFile:
    """A JSON Lines feed on disk, indexed once, read a page at a time; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._spans = _index_lines(path)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._spans)

    def page(self, offset: int, limit: int) -> list[bytes]:
        """Up to `limit` records from `offset`, each ending in a newline."""
        if offset > len(self._spans):
            raise CursorError("the cursor points past the end of the feed.")
        chosen = self._spans[offset : offset + limit]
        if not chosen:
            return []
        start, end = chosen[0][0], chosen[-1][1]
        with self._lock, self.path.open("rb") as stream:
            stream.seek(start)
            block = stream.read(end - start)
        # Split at line feeds only, as the lines were indexed: a carriage return
        # inside a record is JSON whitespace, not the end of a line.
        return [line.strip() + b"\n" for line in block.split(b"\n") if line.strip()]
