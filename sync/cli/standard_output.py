"""Standard output that tells its own write failures from any other `OSError`.

An export or report redirected to a full disk fails inside whichever library
wrote the line (Click, Rich, a binary copy). The command line refuses that in
one sentence naming the standard output, as it does a file given with `--out`,
rather than as an unexpected failure; for that it must know the error came
from standard output.
"""

from __future__ import annotations

import io
import os
import sys


class StandardOutputFailure(OSError):
    """A write to standard output failed (a full disk, a closed terminal)."""


class _StandardOutputFile(io.RawIOBase):
    """The raw file under standard output, marking each failed write."""

    def __init__(self, descriptor: int) -> None:
        super().__init__()
        self._descriptor = descriptor

    def writable(self) -> bool:
        """Always: it is written, never read."""
        return True

    def fileno(self) -> int:
        """The descriptor written to."""
        return self._descriptor

    def isatty(self) -> bool:
        """Whether it is a terminal (progress and colours depend on it)."""
        return os.isatty(self._descriptor)

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        """Write `data`; a failure other than a closed pipe is a `StandardOutputFailure`."""
        try:
            return os.write(self._descriptor, data)
        except BrokenPipeError:
            raise  # the reader left (`| head`): not a failure to report
        except OSError as error:
            raise StandardOutputFailure(error.errno, error.strerror) from error


def mark_standard_output_failures() -> None:
    """Replace `sys.stdout` by the same output whose write failures are marked.

    Encoding, error handling and line buffering stay as Python chose them. Left
    as it is when standard output is not a file descriptor (under a test runner).
    """
    current = sys.stdout
    if not isinstance(current, io.TextIOWrapper):
        return
    try:
        descriptor = current.fileno()
    except (OSError, ValueError):
        return
    current.flush()
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(_StandardOutputFile(descriptor)),
        encoding=current.encoding,
        errors=current.errors,
        line_buffering=current.line_buffering,
    )
