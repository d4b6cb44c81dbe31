"""A synced ledger and helpers for the CLI tests of common options and refusals."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_reconcile_cli import arms_sync
from tests.feed_records import run_args as feed_run_args
from tests.integration.test_audit_log import write_feeds

DEFAULT_LEDGER = "arms-sync.db"


def run_args(folder: Path) -> list[str]:
    """`run` over the test feeds written into `folder`, as of AS_OF, with a JSON summary."""
    return [*feed_run_args(*write_feeds(folder)), "--json"]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an SQLite ledger after one run of the test feeds."""
    folder = tmp_path_factory.mktemp("ledger")
    url = f"sqlite:///{folder / 'ledger.db'}"
    arms_sync("--db", url, *run_args(folder), cwd=folder)
    return url


@pytest.fixture
def empty(tmp_path: Path) -> Iterator[Path]:
    """An empty working folder; no default ledger may appear in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    yield folder
    assert not (folder / DEFAULT_LEDGER).exists()


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The one line of a refusal with exit 2 (and nothing else on stderr)."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    assert lines[0].endswith("."), lines[0]
    return lines[0]
