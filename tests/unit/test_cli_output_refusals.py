"""The CLI's output files and folders, periods and command plumbing: what is written or refused."""

from __future__ import annotations

import errno
import os
from datetime import date
from pathlib import Path

import click
import pytest

from sync.cli.context import (
    LazyCommandsGroup,
    attach_common_options,
    cannot_write,
    output_folder,
    require_period,
    write_lines,
    writing,
)
from sync.errors import UsageError

OUT = Path("SAMPLE.jsonl")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.ENOENT, "the folder does not exist"),
        (errno.ENOTDIR, "a part of its path is not a folder"),
        (errno.EISDIR, "it is a folder"),
        (errno.EEXIST, "a file of that name is in the way"),
        (errno.EACCES, "permission denied"),
        (errno.EPERM, "permission denied"),
        (errno.EROFS, "the file system is read-only"),
        (errno.ENOSPC, "the disk is full"),
        (errno.EDQUOT, "the disk quota is used up"),
        (errno.EIO, os.strerror(errno.EIO).lower()),
        (None, "the system refused"),
    ],
)
def test_an_output_that_cannot_be_written_is_refused_with_its_path_and_reason(
    code: int | None, reason: str
) -> None:
    """The refusal is a usage error (exit 2) naming the path and why, in one sentence."""
    error = OSError(code, "ignored") if code is not None else OSError("ignored")

    refused = cannot_write(OUT, error)

    assert isinstance(refused, UsageError)
    assert refused.exit_code == 2
    assert str(refused) == f"Cannot write {OUT}: {reason}."


def test_any_os_error_while_writing_becomes_the_refusal() -> None:
    """Not only a missing folder: a permission error is refused the same way."""
    refusal = r"^Cannot write SAMPLE.jsonl: permission denied\.$"
    with pytest.raises(UsageError, match=refusal), writing(OUT):
        raise PermissionError(errno.EACCES, "denied")


def test_lines_written_to_a_file_end_each_with_a_line_break_and_are_disclosed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file gets every line, each ending in a line break; only then is it disclosed."""
    out = tmp_path / "SAMPLE.jsonl"
    told: list[Path] = []

    write_lines(['{"id": "X123"}', '{"id": "X124"}'], out, told.append)

    assert out.read_bytes() == b'{"id": "X123"}\n{"id": "X124"}\n'
    assert told == [out]
    assert capsys.readouterr().out == ""


def test_lines_without_a_file_go_to_standard_output_and_are_not_disclosed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without `--out` the lines are printed and no file is recorded as written."""
    told: list[Path] = []

    write_lines(["X123", "X124"], None, told.append)

    assert capsys.readouterr().out == "X123\nX124\n"
    assert told == []


def test_lines_for_a_file_in_a_missing_folder_are_refused_and_not_disclosed(
    tmp_path: Path,
) -> None:
    """An output in a folder that does not exist is a one-sentence refusal."""
    out = tmp_path / "missing" / "SAMPLE.jsonl"
    told: list[Path] = []

    with pytest.raises(UsageError) as refused:
        write_lines(["X123"], out, told.append)

    assert str(refused.value) == f"Cannot write {out}: the folder does not exist."
    assert told == []


def test_an_output_folder_is_made_with_its_parents(tmp_path: Path) -> None:
    """`--out a/b` makes both folders."""
    folder = tmp_path / "SAMPLE" / "REVIEW"

    assert output_folder(folder) == folder
    assert folder.is_dir()


def test_a_period_of_one_day_is_accepted() -> None:
    """`--from D --to D` is a period of one day, not a reversed one."""
    require_period(date(2026, 11, 28), date(2026, 11, 28))


def test_a_reversed_period_is_refused_naming_both_ends() -> None:
    """The refusal quotes both options and their dates."""
    with pytest.raises(UsageError) as refused:
        require_period(date(2026, 11, 29), date(2026, 11, 28))

    assert str(refused.value) == (
        "The period's start (--from 2026-11-29) is after its end (--to 2026-11-28)."
    )


def test_a_command_with_its_own_db_option_is_not_given_the_common_one() -> None:
    """A command defining `--db` itself is a programming error, found when it is attached."""

    @click.command("SAMPLE")
    @click.option("--db")
    def sample(db: str | None) -> None:
        """A command with its own ledger option."""

    with pytest.raises(RuntimeError, match="SAMPLE defines --db or --config of its own"):
        attach_common_options(sample)


def test_a_lazy_command_that_is_not_a_command_is_refused() -> None:
    """A command table naming something other than a click command fails loudly."""
    group = LazyCommandsGroup(lazy_commands={"sample": "sync.cli.main:COMMANDS"})

    with pytest.raises(TypeError, match="is not a click command"):
        group.get_command(click.Context(group), "sample")
