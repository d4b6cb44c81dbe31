"""`arms-sync run`'s progress: a status line on a terminal, nothing when piped.

The run's stderr is given a pseudo-terminal, as an operator's shell would; its
stdout stays a pipe, as when the summary is saved to a file.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from tests.conftest import CLI, run_cli

pytestmark = pytest.mark.e2e

AS_OF = "2026-11-28"
# A fast run can pass its first stages between two refreshes; the status line is
# drawn once more as it closes, so the stage under way at the end always shows.
LAST_STAGE = "Linking records, deciding ownership and flags, storing the decisions"
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"


def _run_args(examples: Path) -> list[str]:
    return [
        "run",
        "--police-feed",
        str(examples / "police.jsonl"),
        "--probation-feed",
        str(examples / "probation.jsonl"),
        "--as-of",
        AS_OF,
    ]


def _read_until_closed(descriptor: int) -> bytes:
    """Everything written to a pseudo-terminal until its last writer has gone."""
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:  # Linux reports the closed far side as EIO
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str, bytes]:
    """Exit status, stdout (a pipe) and what reached the terminal on stderr."""
    terminal, far_side = pty.openpty()
    fcntl.ioctl(far_side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        with subprocess.Popen(
            [*CLI, *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=far_side,
        ) as process:
            os.close(far_side)
            shown = _read_until_closed(terminal)
            assert process.stdout is not None
            summary = process.stdout.read().decode("utf-8")
            status = process.wait(timeout=120)
    finally:
        os.close(terminal)
    return status, summary, shown


def test_a_terminal_shows_the_stage_under_way_and_gets_its_cursor_back(
    tmp_path: Path, examples_dir: Path
) -> None:
    """The status line names the run's stage; the summary on stdout carries no drawing.

    The same run with stderr piped (a log file, a scheduler) writes nothing there.
    """
    on_terminal, piped = tmp_path / "terminal", tmp_path / "piped"
    on_terminal.mkdir()
    piped.mkdir()

    status, summary, shown = _run_on_a_terminal(_run_args(examples_dir), on_terminal)
    plain = run_cli(*_run_args(examples_dir), cwd=piped)

    assert status == 0
    assert LAST_STAGE.encode() in shown
    assert shown.rindex(SHOW_CURSOR) > shown.rindex(HIDE_CURSOR)
    assert summary == plain.stdout
    assert "\x1b" not in summary
    assert summary.startswith("probation: read 44 records")
    assert plain.stderr == ""  # piped: no status line, no control codes
