"""The common options `--db` and `--config`, before or after the command.

`spec/cli.md` calls `--db` and `--config` common options: scripts put them
before the command (`arms-sync --db URL export timeline`) or after it
(`arms-sync export timeline --db URL`); the one nearer the command wins, and
one given on the command line wins over the environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import click
import pytest

from tests.conftest import run_cli
from tests.e2e.cli_ledger import DEFAULT_LEDGER, empty, ledger, refusal, run_args
from tests.e2e.test_reconcile_cli import arms_sync
from tests.feed_records import AS_OF

pytestmark = pytest.mark.e2e

READ_COMMANDS = [
    ("export", "ownership", "--as-of", AS_OF),
    ("export", "timeline"),
    ("export", "links"),
    ("report", "duplicates", "--format", "json"),
    ("reconcile", "list", "--json", "--all"),
    ("audit", "verify"),
    ("rejects",),
]
__all__ = ["empty", "ledger"]  # fixtures from tests.e2e.cli_ledger


@pytest.fixture(scope="module")
def config(ledger: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A settings file naming the ledger."""
    path = tmp_path_factory.mktemp("config") / "arms-sync.toml"
    path.write_text(f'database_url = "{ledger}"\n')
    return path


# -- either position -----------------------------------------------------------


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_db_after_the_command_reads_the_same_ledger(
    ledger: str, empty: Path, command: tuple[str, ...]
) -> None:
    before = arms_sync("--db", ledger, *command, cwd=empty)
    after = arms_sync(*command, "--db", ledger, cwd=empty)
    assert after.stdout == before.stdout
    assert after.stdout.strip()


def test_db_between_a_group_and_its_command(ledger: str, empty: Path) -> None:
    before = arms_sync("--db", ledger, "export", "timeline", cwd=empty)
    between = arms_sync("export", "--db", ledger, "timeline", cwd=empty)
    assert between.stdout == before.stdout


def test_run_takes_db_after_the_command(tmp_path: Path) -> None:
    args = run_args(tmp_path)
    before = arms_sync("--db", f"sqlite:///{tmp_path / 'before.db'}", *args, cwd=tmp_path)
    after = arms_sync(*args, "--db", f"sqlite:///{tmp_path / 'after.db'}", cwd=tmp_path)
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert (tmp_path / "after.db").is_file()
    assert not (tmp_path / DEFAULT_LEDGER).exists()


@pytest.mark.parametrize(
    "command",
    [("export", "timeline"), ("reconcile", "list", "--json", "--all"), ("audit", "verify")],
)
def test_config_after_the_command_reads_the_same_ledger(
    config: Path, empty: Path, command: tuple[str, ...]
) -> None:
    before = arms_sync("--config", str(config), *command, cwd=empty)
    after = arms_sync(*command, "--config", str(config), cwd=empty)
    assert after.stdout == before.stdout
    assert after.stdout.strip()


def test_commands_without_a_ledger_accept_the_common_options(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    unused = f"sqlite:///{tmp_path / 'unused.db'}"
    arms_sync(
        "keys", "generate", "--party", "hub", "--dir", str(keys), "--db", unused, cwd=tmp_path
    )
    listed = arms_sync("keys", "list", "--dir", str(keys), "--json", "--db", unused, cwd=tmp_path)
    assert {json.loads(line)["party"] for line in listed.stdout.splitlines()} == {"hub"}


def _walk(command: click.Command, path: str = "arms-sync") -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        context = click.Context(command, info_name=path)
        for name in command.list_commands(context):  # loads the lazily loaded commands
            sub = command.get_command(context, name)
            assert sub is not None, name
            yield from _walk(sub, f"{path} {name}")


def test_every_command_takes_each_common_option_once() -> None:
    from sync.cli.main import cli

    commands = dict(_walk(cli))
    assert {"arms-sync reconcile link", "arms-sync keys generate", "arms-sync audit verify"} <= set(
        commands
    )
    for path, command in commands.items():
        names = [name for param in command.params for name in param.opts]
        assert names.count("--db") == 1, path
        assert names.count("--config") == 1, path
        with click.Context(command, info_name=path) as ctx:
            shown = command.get_help(ctx)
        assert "--db URL" in shown, path
        assert "--config FILE" in shown, path


# -- precedence ----------------------------------------------------------------


def test_the_db_after_the_command_wins(ledger: str, empty: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    expected = arms_sync("--db", ledger, "export", "timeline", cwd=empty).stdout
    chosen = arms_sync(
        "--db", f"sqlite:///{other}", "export", "timeline", "--db", ledger, cwd=empty
    )
    assert chosen.stdout == expected
    assert not other.exists()
    inner = ("--db", f"sqlite:///{other}")
    refused = arms_sync("--db", ledger, "export", "timeline", *inner, cwd=empty, check=False)
    assert refusal(refused) == (
        f"Error: There is no ledger file {other}: run `arms-sync run` first, or check --db."
    )
    assert not other.exists()


def test_the_innermost_of_three_places_wins(ledger: str, empty: Path, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"
    expected = arms_sync("--db", ledger, "reconcile", "list", "--all", cwd=empty).stdout
    nested = arms_sync(
        "--db", missing, "reconcile", "--db", missing, "list", "--all", "--db", ledger, cwd=empty
    )
    assert nested.stdout == expected


def test_the_db_after_the_command_beats_the_environment(
    ledger: str, empty: Path, tmp_path: Path
) -> None:
    missing = f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"
    expected = arms_sync("--db", ledger, "export", "links", cwd=empty).stdout
    env = {"ARMS_SYNC_DATABASE_URL": missing}
    assert arms_sync("export", "links", "--db", ledger, cwd=empty, env=env).stdout == expected


def test_the_config_after_the_command_wins(config: Path, empty: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    expected = arms_sync("--config", str(config), "audit", "verify", cwd=empty).stdout
    chosen = arms_sync(
        "--config", str(missing), "audit", "verify", "--config", str(config), cwd=empty
    )
    assert chosen.stdout == expected
    refused = arms_sync(
        "--config", str(config), "audit", "verify", "--config", str(missing), cwd=empty, check=False
    )
    assert "missing.toml" in refusal(refused)


def test_a_misspelt_setting_variable_is_named_in_a_warning(tmp_path: Path) -> None:
    known = {"ARMS_SYNC_OPERATOR": "jsmith", "ARMS_SYNC_PULL_INTERVAL_SECONDS": "60"}
    misspelt = {"ARMS_SYNC_DATABSE_URL": f"sqlite:///{tmp_path / 'meant.db'}"}
    result = run_cli(
        "synth", "--subjects", "5", "--out", "f", cwd=tmp_path, env={**known, **misspelt}
    )
    assert result.stderr.splitlines() == [
        "Warning: ARMS_SYNC_DATABSE_URL is not a setting arms-sync knows; it is ignored "
        "(did you mean ARMS_SYNC_DATABASE_URL?)."
    ]
    key_dir = run_cli(
        "synth", "--subjects", "5", "--out", "f", cwd=tmp_path, env={"ARMS_SYNC_KEY_DIR": "keys"}
    )
    assert key_dir.stderr.splitlines() == [
        "Warning: ARMS_SYNC_KEY_DIR is not a setting arms-sync knows; it is ignored "
        "(did you mean ARMS_SYNC_KEYS_DIR?)."
    ]


def test_a_run_dated_after_today_is_warned_of_and_still_runs(tmp_path: Path) -> None:
    ahead = (date.today() + timedelta(days=400)).isoformat()
    result = run_cli(*run_args(tmp_path), "--as-of", ahead, cwd=tmp_path)
    assert json.loads(result.stdout)["as_of"] == ahead
    [warning] = result.stderr.splitlines()
    assert warning.startswith(f"Warning: --as-of {ahead} is after today (")
    assert warning.endswith(
        "in England and Wales); the run decides as of that day, and so do the duplicate "
        "report and manual acts after it."
    )
    report = run_cli("report", "duplicates", "--format", "json", cwd=tmp_path).stdout
    assert json.loads(report)["as_of"] == ahead
    assert run_cli(*run_args(tmp_path), cwd=tmp_path).stderr == ""


def test_a_setting_variable_in_another_case_is_named_in_a_warning(tmp_path: Path) -> None:
    other_case = {"ARMS_SYNC_Window_Days": "3650", "arms_sync_misspelt_window": "1"}
    result = run_cli(*run_args(tmp_path), cwd=tmp_path, env=other_case)
    assert json.loads(result.stdout)["window_days"] == 3650  # the settings take it
    assert result.stderr.splitlines() == [
        "Warning: ARMS_SYNC_Window_Days is not written in upper case; write "
        "ARMS_SYNC_WINDOW_DAYS, the only name every command reads.",
        "Warning: arms_sync_misspelt_window is not a setting arms-sync knows; it is ignored.",
    ]
    both = {"ARMS_SYNC_WINDOW_DAYS": "100", "ARMS_SYNC_Window_Days": "90"}
    again = run_cli("synth", "--subjects", "5", "--out", "f", cwd=tmp_path, env=both)
    assert again.stderr.splitlines() == [
        "Warning: ARMS_SYNC_Window_Days is not written in upper case; write "
        "ARMS_SYNC_WINDOW_DAYS, the only name every command reads.",
    ]
