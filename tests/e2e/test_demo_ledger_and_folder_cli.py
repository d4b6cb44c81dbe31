"""`arms-sync demo`: the ledger a settings file names, and a demo folder it cannot write in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def test_a_settings_file_naming_a_ledger_is_the_ledger_the_demo_uses(tmp_path: Path) -> None:
    """The settings file's database_url wins over the demo folder's own arms-sync.db."""
    named = tmp_path / "named.db"
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[arms_sync]\ndatabase_url = "sqlite:///{named}"\n', encoding="utf-8")
    out = tmp_path / "demo"

    result = run_cli(
        "--config", str(settings), "demo", "--subjects", "20", "--out", str(out), cwd=tmp_path
    )

    assert f"Ledger: file {named}" in result.stdout
    assert named.is_file()
    assert not (out / "arms-sync.db").exists()


def test_a_file_in_the_way_inside_the_demo_folder_is_a_usage_error(tmp_path: Path) -> None:
    """A file where the demo makes its feeds folder is refused (exit 2) naming the folder."""
    out = tmp_path / "demo"
    out.mkdir()
    (out / "feeds").write_text("SAMPLE\n", encoding="utf-8")

    result = run_cli("demo", "--subjects", "20", "--out", str(out), cwd=tmp_path, check=False)

    assert result.returncode == 2
    assert result.stderr == f"Error: Cannot write {out}: a file of that name is in the way.\n"
