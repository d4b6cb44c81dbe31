"""Files that may hold personal data: readable by their owner only, written whole.

Exports, reports, opened envelopes and SQLite ledgers hold names, dates of
birth, identifiers or who is linked to whom. Each is written to a new file of
its own beside the target (created exclusively, mode 0600, under a random
name), flushed to disk, and then renamed over the target: a reader never sees
half a file, a failed write or a crash leaves the old file as it was, and a
link planted at the target's name is replaced, never followed. An SQLite
ledger is made empty and owner-only before SQLite first opens it (where a link
at its name leads, as SQLite would make it), so SQLite's own files (journal,
WAL) take its mode; one made readable by others (by an earlier version, or a
copy) is made owner-only when opened.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

OWNER_ONLY_MODE = 0o600
GROUP_AND_OTHERS_BITS = 0o077
# Where the system names its streams (`/dev/stdout` links to `/proc/self/fd/1`):
# an output named there is written into, never replaced by a file of ours.
SYSTEM_STREAM_FOLDERS = ("/dev/", "/proc/")


@contextmanager
def owner_only_file(target: Path) -> Iterator[BinaryIO]:
    """A binary stream whose content becomes `target` (mode 0600) when the block ends well.

    On an error inside the block, or while writing, nothing is put in place and
    the partial file is removed. `OSError`s reach the caller. The system's own
    names of streams (`/dev/stdout`, `/dev/fd/1`, anything under `/dev` or
    `/proc`) and a pipe, terminal or socket named itself (not through a link)
    store nothing: they are written straight into, at their end, never replaced.
    """
    if writes_through(target):
        # Appending: `--out /dev/stdout >> all.jsonl` reopens that file, and "wb"
        # would empty it (and a file `>` gave the command would lose what came first).
        with target.open("ab") as stream:
            yield stream
        return
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    partial = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())  # on disk before it has the name: a crash leaves no
        partial.replace(target)  # empty or half file where a whole one was
    finally:
        partial.unlink(missing_ok=True)


def writes_through(target: Path) -> bool:
    """Whether `target` is written into rather than replaced (see `owner_only_file`).

    A link elsewhere is never followed, whatever it leads to: it is replaced.
    """
    if os.path.normpath(target.absolute()).startswith(SYSTEM_STREAM_FOLDERS):
        return True
    try:
        mode = target.lstat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def write_owner_only_file(target: Path, content: bytes) -> None:
    """Write `content` as `target`: whole, owner-only, never through a link at its name."""
    with owner_only_file(target) as stream:
        stream.write(content)


def create_owner_only_file(path: Path) -> None:
    """Make `path` an empty owner-only file if it does not exist yet; an existing one is
    left as it is. A ledger named through a link is made where the link leads, as
    SQLite would make it, but owner-only."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, OWNER_ONLY_MODE))


def restrict_to_owner(path: Path) -> bool:
    """Take every permission of group and others off an existing file; whether any was there.

    A file that is not there, or whose mode this user may not change (another
    user's), is left as it is and reported unchanged.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & GROUP_AND_OTHERS_BITS:
            return False
        path.chmod(mode & ~GROUP_AND_OTHERS_BITS)
    except OSError:
        return False
    return True
