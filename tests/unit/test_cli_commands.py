"""The entry point's commands: all listed, each loaded only when it is used."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sync.cli.context import CommonOption
from sync.cli.main import COMMANDS, cli, main
from tests.conftest import REPO


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])

    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line}
    assert listed == set(COMMANDS)


def test_every_command_loads_and_takes_the_common_options_after_its_name() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert command is not None
        assert command.name == name
        assert {"--db", "--config"} <= {opt for p in command.params for opt in p.opts}
        assert all(isinstance(p, CommonOption) for p in command.params if "--db" in p.opts)


@pytest.mark.parametrize(("name", "default"), [("worker", False), ("beat", False), ("run", True)])
def test_only_commands_that_may_use_sqlite_offer_it_as_the_default_ledger(
    name: str, default: bool
) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    [db] = [param for param in command.params if "--db" in param.opts]
    assert isinstance(db, click.Option)
    assert ("else SQLite arms-sync.db here" in str(db.help)) is default
    assert ("postgresql://" in str(db.help)) is not default


def _options_without_help(command: click.Command, path: str) -> Iterator[str]:
    """`command option` for each visible option of `command` and its subcommands with no help."""
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None
            yield from _options_without_help(sub, f"{path} {name}")
        return
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and not param.help:
            yield f"{path} {param.opts[0]}"


def test_every_option_of_every_command_says_what_it_is_for() -> None:
    assert list(_options_without_help(cli, "arms-sync")) == []


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["expor"])

    assert result.exit_code == 2
    assert "No such command 'expor'" in result.output


def test_a_command_that_needs_no_ledger_does_not_load_the_ledger_code() -> None:
    probe = (
        "import sys; from sync.cli.main import main\n"
        "try:\n    main(['keys', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('sqlalchemy', 'sync.app', 'celery') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_an_error_raised_in_lower_case_is_shown_as_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ring.json").write_text("not a key ring")

    with pytest.raises(SystemExit) as exited:
        main(["keys", "list", "--dir", str(tmp_path)])

    assert exited.value.code == 2
    shown = capsys.readouterr().err.strip()
    assert shown.startswith("Error: The key ring ")
    assert shown.endswith(" is not a key ring (it is damaged or another kind of file).")


@pytest.mark.parametrize(
    ("command", "option"),
    [(["keys", "list"], "--dir"), (["envelope", "verify", "sealed.jsonl"], "--keys")],
)
def test_a_missing_key_directory_is_asked_for_by_the_command_s_own_option(
    command: list[str], option: str, tmp_path: Path
) -> None:
    (tmp_path / "sealed.jsonl").write_text("")
    with_path = [str(tmp_path / part) if part == "sealed.jsonl" else part for part in command]
    result = CliRunner(env={"ARMS_SYNC_KEYS_DIR": None, "ARMS_SYNC_CONFIG": None}).invoke(
        cli, with_path
    )

    assert result.exit_code == 2
    assert f"no key directory: pass {option}, set ARMS_SYNC_KEYS_DIR" in result.output
