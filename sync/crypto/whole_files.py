"""Writing a file whole or not at all: a private mode from its first byte, then into place.

Key files are written to a temporary file in the same folder, its mode set
before any byte is written, flushed to disk, and only then given their name:
either replacing what was there (atomic rename) or only if nothing was
(`link`, which fails with `FileExistsError`), so that two processes racing to
make the same key never overwrite each other. No reader ever sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_key_file(path: Path, data: bytes, mode: int, *, exclusive: bool) -> None:
    """Write `data` to `path` with `mode`; if `exclusive`, `FileExistsError` when it exists."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if exclusive:
            os.link(temporary, path)
        else:
            Path(temporary).replace(path)
    finally:
        Path(temporary).unlink(missing_ok=True)
