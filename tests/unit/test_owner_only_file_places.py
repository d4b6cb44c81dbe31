"""Where an owner-only output goes: a new file beside the target, or a stream named as it."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

import pytest

from sync.owner_only_files import owner_only_file, write_owner_only_file, writes_through


def test_the_content_is_written_beside_the_target_before_it_takes_the_name(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out" / "export.jsonl"
    target.parent.mkdir()
    with owner_only_file(target) as stream:
        stream.write(b"content\n")
        partial = [path.name for path in target.parent.iterdir()]
        assert len(partial) == 1
        assert partial[0].startswith(".export.jsonl.")
    assert [path.name for path in target.parent.iterdir()] == ["export.jsonl"]
    assert target.read_bytes() == b"content\n"


def test_a_relative_name_of_a_system_stream_is_written_into(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--out stdout` given in `/dev` names `/dev/stdout` (checked without writing)."""
    monkeypatch.chdir("/dev")
    assert writes_through(Path("stdout"))
    assert writes_through(Path("fd/1"))


@pytest.mark.parametrize("name", ["/devices.jsonl", "/process-report.html", "/dev-notes/out.csv"])
def test_a_name_merely_beginning_like_a_system_folder_is_replaced(name: str) -> None:
    assert not writes_through(Path(name))


def test_a_socket_named_as_the_target_is_never_replaced(tmp_path: Path) -> None:
    target = tmp_path / "sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(target))
        assert writes_through(target)
        with contextlib.suppress(OSError):  # a socket cannot be opened as a file
            write_owner_only_file(target, b"content\n")
        assert stat.S_ISSOCK(target.lstat().st_mode)
        assert sorted(path.name for path in tmp_path.iterdir()) == ["sock"]
    finally:
        listener.close()


def test_a_character_device_named_as_the_target_is_written_into(tmp_path: Path) -> None:
    """A terminal or null device outside `/dev` (a container's bind mount, say)."""
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs privileges this user lacks")
    assert writes_through(device)
    write_owner_only_file(device, b"content\n")
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["null"]


def test_a_stream_named_by_the_system_is_added_to_not_emptied(tmp_path: Path) -> None:
    """`--out /dev/stdout >> all.jsonl`: the file the stream leads to keeps what it held."""
    kept = tmp_path / "all.jsonl"
    kept.write_bytes(b"earlier line\n")
    with kept.open("ab") as appended:
        write_owner_only_file(Path(f"/proc/self/fd/{appended.fileno()}"), b"new line\n")
    assert kept.read_bytes() == b"earlier line\nnew line\n"
