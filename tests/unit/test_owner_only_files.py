"""Files that may hold personal data: owner-only, whole or not at all, never through a link."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.owner_only_files import (
    create_owner_only_file,
    owner_only_file,
    restrict_to_owner,
    write_owner_only_file,
    writes_through,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_file_is_written_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "export.jsonl"
    write_owner_only_file(target, b"content\n")
    assert target.read_bytes() == b"content\n"
    assert mode(target) == 0o600
    assert list(tmp_path.iterdir()) == [target]


def test_a_link_planted_at_the_name_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"not yours")
    target = tmp_path / "export.jsonl"
    target.symlink_to(victim)

    write_owner_only_file(target, b"content\n")

    assert victim.read_bytes() == b"not yours"
    assert not target.is_symlink()
    assert (target.read_bytes(), mode(target)) == (b"content\n", 0o600)


def test_a_write_that_fails_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_bytes(b"last night's report")

    def write_half_then_fail() -> None:
        with owner_only_file(target) as stream:
            stream.write(b"half of tonight's")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        write_half_then_fail()

    assert target.read_bytes() == b"last night's report"
    assert list(tmp_path.iterdir()) == [target]


def test_an_empty_owner_only_file_is_made_once_and_kept_after(tmp_path: Path) -> None:
    ledger = tmp_path / "arms-sync.db"
    create_owner_only_file(ledger)
    ledger.write_bytes(b"kept")
    create_owner_only_file(ledger)
    assert (ledger.read_bytes(), mode(ledger)) == (b"kept", 0o600)


def test_a_ledger_named_through_a_link_is_made_where_it_leads_owner_only(tmp_path: Path) -> None:
    """As SQLite would make it, but never readable by all."""
    elsewhere = tmp_path / "elsewhere.db"
    link = tmp_path / "arms-sync.db"
    link.symlink_to(elsewhere)
    create_owner_only_file(link)
    assert link.is_symlink()
    assert (elsewhere.read_bytes(), mode(elsewhere)) == (b"", 0o600)


def test_a_link_to_a_pipe_planted_at_the_name_is_replaced_not_followed(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    target = tmp_path / "export.jsonl"
    target.symlink_to(pipe)
    # A reader, so that a write that did follow the link fails the test, not hangs it.
    threading.Thread(target=pipe.read_bytes, daemon=True).start()

    write_owner_only_file(target, b"content\n")

    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert not target.is_symlink()
    assert (target.read_bytes(), mode(target)) == (b"content\n", 0o600)


@pytest.mark.parametrize(
    "name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "/dev/../dev/stderr"]
)
def test_the_system_s_own_stream_names_are_written_into_never_replaced(name: str) -> None:
    """`--out /dev/stdout` with the output redirected to a file: that file gets it, and
    `/dev/stdout` stays the system's link. (Checked without writing: replacing a
    system name by mistake would harm the machine the tests run on.)"""
    assert writes_through(Path(name))


def test_a_link_elsewhere_is_replaced_whatever_it_leads_to(tmp_path: Path) -> None:
    link = tmp_path / "out.jsonl"
    link.symlink_to("/dev/stdout")
    assert not writes_through(link)
    assert not writes_through(tmp_path / "new.jsonl")


def test_a_pipe_named_as_the_target_is_written_into_not_replaced(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()

    write_owner_only_file(pipe, b"content\n")
    reader.join(timeout=10)

    assert received == [b"content\n"]
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["pipe"]


@given(st.integers(min_value=0o400, max_value=0o777))
def test_restricting_takes_only_group_and_others_permissions_away(start: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "arms-sync.db"
        target.touch()
        target.chmod(start)

        changed = restrict_to_owner(target)

        assert mode(target) == start & 0o700
        assert changed == bool(start & 0o077)


def test_restricting_a_file_that_is_not_there_changes_nothing(tmp_path: Path) -> None:
    assert restrict_to_owner(tmp_path / "arms-sync.db-wal") is False
    assert list(tmp_path.iterdir()) == []


def test_the_whole_content_is_on_disk_before_the_file_takes_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_bytes(b"last night's report")
    synced: list[tuple[bytes, bytes]] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        real_fsync(descriptor)
        on_disk = os.pread(descriptor, 1 << 16, 0)
        synced.append((on_disk, target.read_bytes()))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_owner_only_file(target, b"tonight's report")
    # Synced once, whole, while the name still held the old file: a crash at any
    # moment leaves one whole file or the other at the name, never an empty one.
    assert synced == [(b"tonight's report", b"last night's report")]
    assert target.read_bytes() == b"tonight's report"
