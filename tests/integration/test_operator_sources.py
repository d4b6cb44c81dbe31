"""Which operator a command takes, and where a refused name is said to come from.

`CliState.operator` takes `--operator` first, else the configured operator:
ARMS_SYNC_OPERATOR (read whatever its case, as the settings read it) or the
settings file. A refusal names the source that supplied the name, and never
the name itself; a blank `--operator` is as if left out, so the audit log
names the configured operator, not the system account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.app import App
from sync.audit.log import audit_log_for
from sync.cli.context import CliState
from sync.cli.main import cli
from sync.errors import UsageError
from sync.settings import Settings

pytestmark = pytest.mark.integration
FAR_TOO_LONG = "q" * 95
FROM_VARIABLE = "The operator set in ARMS_SYNC_OPERATOR must be plain text"
FROM_FILE = "The operator named in the settings file must be plain text"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliState]:
    """A command's state on a SQLite ledger of its own, no operator configured anywhere."""
    for name in ("ARMS_SYNC_OPERATOR", "arms_sync_operator", "ARMS_SYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    cli_state = CliState(db=f"sqlite:///{tmp_path / 'arms-sync.db'}")
    yield cli_state
    cli_state.close()


def _refusal(state: CliState, given: str | None = None) -> str:
    with pytest.raises(UsageError) as refused:
        state.operator(given)
    message = str(refused.value)
    assert FAR_TOO_LONG not in message
    return message


@pytest.mark.parametrize("variable", ["ARMS_SYNC_OPERATOR", "arms_sync_operator"])
def test_a_bad_name_in_the_variable_is_refused_naming_the_variable_whatever_its_case(
    state: CliState, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """The settings read the variable in any case, so the refusal names it, not the file."""
    monkeypatch.setenv(variable, FAR_TOO_LONG)
    assert _refusal(state).startswith(FROM_VARIABLE)


def test_a_bad_name_in_the_file_is_refused_naming_the_file(tmp_path: Path, state: CliState) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[arms_sync]\noperator = "{FAR_TOO_LONG}"\n')
    state.config = settings
    assert _refusal(state).startswith(FROM_FILE)


def test_a_blank_option_falls_back_to_the_configured_name(
    state: CliState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARMS_SYNC_OPERATOR", " jsmith ")
    assert state.operator("  ") == "jsmith"
    assert state.operator(" aroe ") == "aroe"


@pytest.fixture
def sqlite_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty SQLite ledger (made as a run makes it), jsmith the configured operator."""
    for name in ("arms_sync_operator", "ARMS_SYNC_CONFIG", "ARMS_SYNC_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARMS_SYNC_OPERATOR", "jsmith")
    url = f"sqlite:///{tmp_path / 'arms-sync.db'}"
    App(Settings(database_url=url)).close()
    return url


def _actors(url: str) -> list[str]:
    app = App(Settings(database_url=url))
    try:
        return [json.loads(line)["actor"] for line in audit_log_for(app.engine).export_lines()]
    finally:
        app.close()


@pytest.mark.parametrize(
    "command",
    [("reconcile", "list"), ("ledger", "reencrypt")],
    ids=["listing", "re-encryption"],
)
def test_a_blank_option_leaves_the_configured_operator_named_in_the_audit_log(
    sqlite_ledger: str, command: tuple[str, ...]
) -> None:
    """`--operator " "` is as if left out: the entry names the configured operator, never
    the system account the command runs under."""
    before = _actors(sqlite_ledger)
    result = CliRunner().invoke(cli, ["--db", sqlite_ledger, *command, "--operator", " "])
    assert result.exit_code == 0, result.output
    assert _actors(sqlite_ledger)[len(before) :][-1] == "operator:jsmith"
