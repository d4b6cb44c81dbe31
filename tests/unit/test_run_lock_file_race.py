"""A run's lock file removed or replaced while it was being locked is never taken as held.

Two processes may race: one removes a dead run's lock file just as another
opens and locks it. A lock on a file that no longer bears the name locks
nothing anyone else would look at, so it must not count.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.ledger import run_locks


def _lock_then(meanwhile: Callable[[], None]) -> Callable[[int], bool]:
    """`_lock`, with `meanwhile` done between the open and the lock's answer."""
    real_lock = run_locks._lock

    def lock(descriptor: int) -> bool:
        taken = real_lock(descriptor)
        meanwhile()
        return taken

    return lock


def test_a_lock_file_is_held_while_its_name_stays_on_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db.run-1.lock"
    held = run_locks._lock_named_file(path)
    assert held is not None
    assert not _another_could_lock(path)
    held.release()
    assert not path.exists()  # removed while still held, so no one locks a dead run's file


def _another_could_lock(path: Path) -> bool:
    """Whether another open file description could take `path`'s lock now."""
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


def test_a_lock_file_removed_while_being_locked_is_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db.run-1.lock"
    monkeypatch.setattr(run_locks, "_lock", _lock_then(path.unlink))
    assert run_locks._lock_named_file(path) is None


def test_a_lock_file_replaced_while_being_locked_is_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db.run-1.lock"

    def replace() -> None:
        path.unlink()
        path.touch()

    monkeypatch.setattr(run_locks, "_lock", _lock_then(replace))
    assert run_locks._lock_named_file(path) is None
