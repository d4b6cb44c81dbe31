"""Standard output's write failures are told apart from a reader that left."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.cli.standard_output import StandardOutputFailure, mark_standard_output_failures


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """A pipe's read and write descriptors, closed after the test."""
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for descriptor in (read_end, write_end):
        with contextlib.suppress(OSError):  # closed by the test
            os.close(descriptor)


def stdout_on(descriptor: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `sys.stdout` a text file on `descriptor`, then mark its failures."""
    text = io.TextIOWrapper(io.FileIO(descriptor, "w", closefd=False), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", text)
    mark_standard_output_failures()


def test_what_is_written_reaches_the_descriptor_in_its_encoding(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = pipe
    stdout_on(write_end, monkeypatch)
    print("café")
    sys.stdout.flush()
    assert sys.stdout.encoding == "utf-8"
    assert os.read(read_end, 100) == "café\n".encode()


def test_a_full_disk_is_a_standard_output_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    with Path("/dev/full").open("wb", buffering=0) as full:
        stdout_on(full.fileno(), monkeypatch)
        sys.stdout.write("a line\n")
        with pytest.raises(StandardOutputFailure) as failure:
            sys.stdout.flush()
    assert failure.value.errno == errno.ENOSPC


def test_a_reader_that_left_is_a_broken_pipe_not_a_failure(
    pipe: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = pipe
    os.close(read_end)
    stdout_on(write_end, monkeypatch)
    sys.stdout.write("a line\n")
    with pytest.raises(BrokenPipeError) as failure:
        sys.stdout.flush()
    assert not isinstance(failure.value, StandardOutputFailure)


def test_an_output_without_a_descriptor_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()
    monkeypatch.setattr(sys, "stdout", captured)
    mark_standard_output_failures()
    assert sys.stdout is captured
