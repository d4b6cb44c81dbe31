"""The entry point's exit statuses, one-sentence errors and warnings of unknown variables."""

from __future__ import annotations

import os

import click
import pytest

from sync.cli.main import (
    COMMANDS,
    INTERRUPTED,
    cli,
    main,
    warn_of_unknown_variables,
    where_it_failed,
)
from sync.errors import Interrupted


def _exit_and_stderr(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int | str | None, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code, capsys.readouterr().err


def _clear_setting_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("ARMS_SYNC_"):
            monkeypatch.delenv(name)


def test_a_missing_command_names_every_command_and_where_they_are_described(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no command the error lists them all, in order, and points to the help."""
    code, err = _exit_and_stderr([], capsys)

    assert code == 2
    assert err == (
        f"Error: Missing command: one of {', '.join(sorted(COMMANDS))} "
        "(`arms-sync --help` describes them).\n"
    )


def test_a_click_sentence_that_already_ends_is_not_given_a_second_full_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A date in the wrong form is refused with exit 2 in exactly one sentence."""
    code, err = _exit_and_stderr(["export", "ownership", "--as-of", "2026-2-3"], capsys)

    assert code == 2
    assert err == "Error: Invalid value for '--as-of': must be a date in the form YYYY-MM-DD.\n"


@pytest.mark.parametrize("day", ["2026-02-30", "2026-11-31", "2025-02-29", "2026-13-01"])
def test_a_date_in_the_right_form_that_names_no_day_says_so(
    capsys: pytest.CaptureFixture[str], day: str
) -> None:
    """Not "must be in the form YYYY-MM-DD": it is; the day does not exist."""
    code, err = _exit_and_stderr(["export", "ownership", "--as-of", day], capsys)

    assert code == 2
    assert err == (
        f"Error: Invalid value for '--as-of': {day} is in the form YYYY-MM-DD "
        "but names no day of the calendar.\n"
    )


def test_an_abort_exits_1_with_a_word_saying_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A prompt answered no (or closed) is a failure (exit 1), not a usage error."""

    def aborted(*_args: object, **_kwargs: object) -> None:
        raise click.Abort

    monkeypatch.setattr(cli, "main", aborted)
    code, err = _exit_and_stderr(["keys", "list"], capsys)

    assert (code, err) == (1, "Aborted.\n")


def test_ctrl_c_exits_130_with_one_sentence_saying_what_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Click turns Ctrl-C into an abort caused by the interrupt; the shell's status for it."""

    def interrupted(*_args: object, **_kwargs: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise click.Abort from interrupt

    monkeypatch.setattr(cli, "main", interrupted)
    code, err = _exit_and_stderr(["keys", "list"], capsys)

    assert (code, err) == (130, f"{INTERRUPTED}\n")


def test_an_interrupted_wait_says_what_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def stopped(*_args: object, **_kwargs: object) -> None:
        raise Interrupted("stopped waiting: cycle 7 goes on in the workers.")

    monkeypatch.setattr(cli, "main", stopped)
    code, err = _exit_and_stderr(["status"], capsys)

    assert (code, err) == (130, "Stopped waiting: cycle 7 goes on in the workers.\n")


def test_a_click_error_that_is_not_about_usage_keeps_its_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A click failure other than bad usage exits 1 with its message as a sentence."""

    def fails(*_args: object, **_kwargs: object) -> None:
        raise click.ClickException("the output could not be closed")

    monkeypatch.setattr(cli, "main", fails)
    code, err = _exit_and_stderr(["keys", "list"], capsys)

    assert (code, err) == (1, "Error: The output could not be closed.\n")


def test_a_failure_whose_causes_loop_is_told_once_each() -> None:
    """An exception chain that refers back to itself still gives a finite stack."""
    first = ValueError("SAMPLE")
    second = KeyError("REVIEW")
    first.__context__ = second
    second.__context__ = first

    stack = where_it_failed(first)

    assert stack.count("builtins.ValueError") == 1
    assert stack.count("builtins.KeyError") == 1


def test_the_stack_follows_a_failure_raised_while_handling_another() -> None:
    """An exception raised inside an `except` (no `from`) names the one it was handling."""
    try:
        try:
            raise KeyError("SAMPLE")
        except KeyError:
            raise ValueError("REVIEW")  # noqa: B904
    except ValueError as error:
        stack = where_it_failed(error)

    assert stack.splitlines()[-1] == "builtins.KeyError"
    assert "caused by or while handling:" in stack


@pytest.mark.parametrize(
    "name",
    [
        "ARMS_SYNC_DATABASE_URL",
        "ARMS_SYNC_CONFIG",
        "ARMS_SYNC_DEBUG",
        "ARMS_SYNC_WORKER_TEST_TASKS",
        "ARMS_SYNC_BROKER_URL",
        "ARMS_SYNC_TEST_SAMPLE_URL",
    ],
)
def test_a_variable_arms_sync_reads_is_not_warned_of(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Settings, workers' settings, the variables read by name and the suite's own pass quietly."""
    _clear_setting_variables(monkeypatch)
    monkeypatch.setenv(name, "1")
    monkeypatch.setenv("ARMS_SYNC_WINDOW_DAYS", "180")

    warn_of_unknown_variables()

    assert capsys.readouterr().err == ""


def test_a_known_name_with_a_lower_case_prefix_is_warned_of(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`arms_sync_database_url` is named, with the one spelling every command reads."""
    _clear_setting_variables(monkeypatch)
    monkeypatch.setenv("arms_sync_database_url", "sqlite:///SAMPLE.db")

    warn_of_unknown_variables()

    assert capsys.readouterr().err == (
        "Warning: arms_sync_database_url is not written in upper case; write "
        "ARMS_SYNC_DATABASE_URL, the only name every command reads.\n"
    )


def test_an_exit_status_a_command_asks_for_is_the_process_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ctx.exit(3)` inside a command ends the process with 3, not with success."""

    @click.command()
    @click.pass_context
    def asks_for_three(ctx: click.Context) -> None:
        ctx.exit(3)

    monkeypatch.setattr(cli, "commands", {**cli.commands, "asks-for-three": asks_for_three})
    code, err = _exit_and_stderr(["asks-for-three"], capsys)

    assert code == 3
    assert err == ""


def test_help_ends_with_success(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` prints the help and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("Usage: arms-sync")
