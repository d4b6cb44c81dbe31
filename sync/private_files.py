"""Files that may hold personal data: readable by their owner only, written whole.

Exports, reports, opened envelopes and SQLite ledgers hold names, dates of
birth, identifiers or who is linked to whom. Each is written to a new file of
its own beside the target (created exclusively, mode 0600, under a random
name) and then renamed over the target: a reader never sees half a file, a
failed write leaves the old file as it was, and a link planted at the target's
name is replaced, never followed. An SQLite ledger is made the same way, empty,
before SQLite first opens it, so SQLite's own files (journal, WAL) take its mode.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PRIVATE_FILE_MODE = 0o600


@contextmanager
def private_file(target: Path) -> Iterator[BinaryIO]:
    """A binary stream whose content becomes `target` (mode 0600) when the block ends well.

    On an error inside the block, or while writing, nothing is put in place and
    the partial file is removed. `OSError`s reach the caller. A target that is a
    stream (a pipe, a terminal, `/dev/stdout`) stores nothing: it is written
    straight into, never replaced.
    """
    if _is_stream(target):
        with target.open("wb") as stream:
            yield stream
        return
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _is_stream(target: Path) -> bool:
    """Whether `target` (followed through links) is a pipe, socket or device, not a file."""
    try:
        mode = target.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def write_private_file(target: Path, content: bytes) -> None:
    """Write `content` as `target`: whole, owner-only, never through a link at its name."""
    with private_file(target) as stream:
        stream.write(content)


def create_private_file(path: Path) -> None:
    """Make `path` an empty owner-only file if nothing is there yet (never through a link)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        os.close(os.open(path, flags, PRIVATE_FILE_MODE))
    except FileExistsError:
        return
