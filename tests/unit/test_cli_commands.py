"""The entry point's commands: all listed, each loaded only when it is used."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from sync.cli.context import CommonOption
from sync.cli.main import COMMANDS, cli
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
