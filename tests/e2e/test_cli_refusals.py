"""Refusals with exit 2: bad usage, configuration and outputs that cannot be written.

Each is one sentence on stderr starting `Error:`, with no traceback, no
personal data and no password from a ledger URL (`spec/cli.md`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_ledger import empty, ledger, refusal
from tests.e2e.test_reconcile_cli import arms_sync

pytestmark = pytest.mark.e2e

PASSWORD = "secretpw"
__all__ = ["empty", "ledger"]  # fixtures from tests.e2e.cli_ledger


@pytest.mark.parametrize(
    "url",
    [
        "bogus://x",
        f"bogus://u:{PASSWORD}@127.0.0.1/x",
        f"postgresql://u:{PASSWORD}@127.0.0.1:notaport/x",
        f"not a url {PASSWORD}",
        f"mysql://u:{PASSWORD}@127.0.0.1/x",
        "",
    ],
)
def test_an_unusable_ledger_url_is_a_configuration_error(empty: Path, url: str) -> None:
    result = arms_sync("--db", url, "export", "timeline", cwd=empty, check=False)
    message = refusal(result)
    assert "ledger" in message.lower()
    assert PASSWORD not in result.stderr + result.stdout


def test_an_unreachable_ledger_server_is_one_sentence_without_the_password(empty: Path) -> None:
    url = f"postgresql://u:{PASSWORD}@127.0.0.1:1/x"
    result = arms_sync("export", "timeline", "--db", url, cwd=empty, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert PASSWORD not in result.stderr + result.stdout


def test_a_ledger_in_a_missing_folder_is_refused(empty: Path, tmp_path: Path) -> None:
    folder = tmp_path / "missing" / "dir"
    result = arms_sync(
        "--db", f"sqlite:///{folder / 'l.db'}", "export", "timeline", cwd=empty, check=False
    )
    message = refusal(result)
    assert f"the folder {folder} does not exist" in message
    assert not folder.exists()


def test_a_ledger_file_that_is_not_a_database_is_refused(empty: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not a database\n" * 100)
    result = arms_sync("export", "timeline", "--db", f"sqlite:///{text}", cwd=empty, check=False)
    assert "not an SQLite database" in refusal(result)
