"""What the command line writes that holds personal data is its owner's alone.

The ledger, exports and reports are made mode 0600, written whole, and a link
planted at an output's name is replaced rather than followed (so no command can
be made to overwrite another file, or to leave personal data readable by all).
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import completed_assessment, person, run_args, write_feeds

pytestmark = pytest.mark.e2e


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("private")
    feeds = write_feeds(
        folder,
        [person("probation", "X000001", pnc="1990/0004242E")],
        [
            person("police", "LAN-1", pnc="1990/0004242E"),
            completed_assessment("police", "PA-1", "LAN-1", "2025-01-02"),
        ],
    )
    run_cli(*run_args(*feeds), cwd=folder)
    return folder


def test_the_ledger_is_made_owner_only(synced: Path) -> None:
    assert mode(synced / "arms-sync.db") == 0o600


def test_an_empty_file_open_to_others_becomes_an_owner_only_ledger(tmp_path: Path) -> None:
    """A run making its ledger in an empty file someone made beforehand (`touch`) takes it."""
    ledger = tmp_path / "arms-sync.db"
    ledger.touch()
    ledger.chmod(0o644)
    feeds = write_feeds(tmp_path, [person("probation", "X000001")], [person("police", "LAN-1")])

    run_cli(*run_args(*feeds), cwd=tmp_path)

    assert ledger.stat().st_size > 0
    assert mode(ledger) == 0o600


def test_a_ledger_open_to_others_is_made_owner_only_when_next_opened(
    synced: Path, tmp_path: Path
) -> None:
    ledger_files = ["arms-sync.db", "arms-sync.db.key"]
    for name in ledger_files:
        shutil.copy(synced / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)  # as an earlier version, or a careless copy, left it

    result = run_cli("export", "ownership", "--as-of", "2026-11-28", cwd=tmp_path)

    assert {name: mode(tmp_path / name) for name in ledger_files} == dict.fromkeys(
        ledger_files, 0o600
    )
    (warning,) = result.stderr.splitlines()
    # Worded as the command's own warnings are; the logger's name is for ARMS_SYNC_DEBUG=1.
    assert warning.startswith("Warning: These ledger files were open to other users; ")
    assert "arms-sync.db, " in warning
    assert "arms-sync.db.key" in warning

    for name in ledger_files:
        (tmp_path / name).chmod(0o644)
    debugged = run_cli("export", "links", cwd=tmp_path, env={"ARMS_SYNC_DEBUG": "1"})
    assert debugged.stderr.startswith("WARNING sync.app: These ledger files were open")


@pytest.mark.parametrize(
    "command",
    [
        ("export", "links"),
        ("export", "ownership"),
        ("report", "duplicates", "--format", "csv"),
    ],
)
def test_an_output_is_owner_only_and_replaces_a_link_at_its_name(
    synced: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("another file", encoding="utf-8")
    out = tmp_path / "out"
    out.symlink_to(victim)

    run_cli("--db", f"sqlite:///{synced / 'arms-sync.db'}", *command, "--out", str(out), cwd=synced)

    assert victim.read_text(encoding="utf-8") == "another file"
    assert not out.is_symlink()
    assert mode(out) == 0o600
    assert out.stat().st_size > 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "victim.txt"]
