"""`arms-sync synth`: a seed gives the same files whatever day the command runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.app import App
from sync.cli.context import CliState
from sync.cli.run_cmds import synth
from sync.settings import Settings

pytestmark = pytest.mark.integration

FILES = ("probation.jsonl", "police.jsonl", "truth.jsonl")


def _synth_on(day: datetime, out: Path, *options: str) -> str:
    """`synth` run by a process whose clock reads `day`."""
    state = CliState()
    state._app = App(Settings(database_url="sqlite://"), clock=lambda: day)
    args = ["--subjects", "20", "--seed", "7", "--out", str(out), *options]
    result = CliRunner().invoke(synth, args, obj=state)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    "later", [datetime(2027, 3, 1, 9, tzinfo=UTC), datetime(2031, 12, 31, 23, tzinfo=UTC)]
)
def test_a_seed_gives_the_same_files_on_any_day(tmp_path: Path, later: datetime) -> None:
    _synth_on(datetime(2026, 11, 28, 9, tzinfo=UTC), tmp_path / "first")
    output = _synth_on(later, tmp_path / "again")

    for name in FILES:
        same = (tmp_path / "first" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
        assert same, name  # the files hold synthetic people: never print them
    assert "(as of 2026-11-28, seed 7)" in output


def test_as_of_still_dates_the_data(tmp_path: Path) -> None:
    day = datetime(2026, 11, 28, 9, tzinfo=UTC)
    _synth_on(day, tmp_path / "default")
    _synth_on(day, tmp_path / "later", "--as-of", "2027-06-30")

    police = "police.jsonl"
    assert (tmp_path / "default" / police).read_bytes() != (
        tmp_path / "later" / police
    ).read_bytes()
