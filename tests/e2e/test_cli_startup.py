"""What a reading command loads: only what it uses.

Cron jobs and scripts start `arms-sync` often, and each start imports the
package afresh. A command that reads an SQLite ledger needs neither the
PostgreSQL dialect, nor the probabilistic matcher (only a run links), nor the
HTML templates (only an HTML report renders them). A run needs no synthetic
data generator, though the same command group offers `synth` and `demo`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.e2e.cli_ledger import ledger
from tests.feed_records import AS_OF, completed_assessment, person, run_args, write_feeds

pytestmark = pytest.mark.e2e
__all__ = ["ledger"]  # fixture from tests.e2e.cli_ledger

UNUSED_BY_READERS = (
    "sqlalchemy.dialects.postgresql",
    "sync.core.matching",
    "rapidfuzz",
    "jinja2",
)
UNUSED_BY_RUNS = ("sqlalchemy.dialects.postgresql", "sync.synth.stream", "jinja2")
# Runs the command in this interpreter and prints, at exit, which of the
# modules named in argv[1] it had imported.
LOADED_AT_EXIT = """
import atexit, json, sys
watched = json.loads(sys.argv[1])
atexit.register(lambda: print(json.dumps(sorted(set(watched) & set(sys.modules)))))
sys.argv = ["arms-sync", *sys.argv[2:]]
from sync.cli.main import main
main()
"""
READERS = [
    ("export", "ownership", "--as-of", AS_OF),
    ("export", "links"),
    ("rejects",),
    ("report", "duplicates", "--format", "csv"),
    ("audit", "verify"),
]


def loaded_by(
    url: str, *command: str, watched_modules: Sequence[str] = UNUSED_BY_READERS
) -> list[str]:
    """Which of `watched_modules` the command, run on the ledger at `url`, imported."""
    watched = json.dumps(list(watched_modules))
    result = subprocess.run(
        [sys.executable, "-c", LOADED_AT_EXIT, watched, "--db", url, *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-500:]
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_a_reading_command_on_an_sqlite_ledger_loads_only_what_it_uses(
    ledger: str, command: tuple[str, ...]
) -> None:
    assert loaded_by(ledger, *command) == []


def test_the_html_report_loads_its_templates(ledger: str) -> None:
    assert loaded_by(ledger, "report", "duplicates", "--format", "html") == ["jinja2"]


def test_a_daily_run_on_an_sqlite_ledger_loads_neither_the_generator_nor_the_dialect(
    tmp_path: Path,
) -> None:
    probation, police = write_feeds(
        tmp_path,
        [person("probation", "D000001")],
        [person("police", "P-1"), completed_assessment("police", "PA-1", "P-1", "2026-05-01")],
    )
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    # The first run makes the ledger, through Alembic, which loads every dialect's DDL.
    loaded_by(url, *run_args(probation, police))
    loaded = loaded_by(url, *run_args(probation, police), watched_modules=UNUSED_BY_RUNS)
    assert loaded == []
