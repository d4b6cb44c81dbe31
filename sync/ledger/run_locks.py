"""Locks that say an in-process run's process is alive: released by the OS or the database.

While an in-process run is in flight, its process holds the run's lock; when
the process dies, however it dies, the lock goes with it. So a `running` run
whose lock can be taken has no process left, and is recorded as interrupted.

- PostgreSQL: a session-level advisory lock on (run-lock space, run id), held
  on a connection of its own for the run's life; the server drops it when the
  connection ends.
- SQLite file: an exclusive `flock` on `<database file>.run-<id>.lock` beside
  the database; the kernel drops it when the process's descriptor closes.
  The file is removed when the run ends (or when a dead run is recorded).
- SQLite in memory: the database lives and dies with its one process, so each
  of its runs is alive while it can be read; nothing is locked.

`hold_ledger_task_lock` holds the same kind of lock for a ledger-wide task that
must never run twice at once (re-encrypting the ledger).

A run's lock is taken inside the transaction that inserts its row, so no
other process ever sees the run without its lock held.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from sync.errors import LedgerError
from sync.ledger.location import is_memory_database, sqlite_path

LOCK_SPACE_BYTES = 4
RUN_LOCK_SPACE = int.from_bytes(
    hashlib.sha256(b"arms-sync/run").digest()[:LOCK_SPACE_BYTES], "big", signed=True
)
# idle_session_timeout (PostgreSQL 14+) would end the idle lock connection mid-run.
IDLE_SESSION_TIMEOUT_SINCE = (14,)
TASK_KEY_BYTES = 3
LOCK_FILE_MODE = 0o644
LOCK_FILE_ATTEMPTS = 3

InsertRun = Callable[[Connection], int]


class HeldRunLock(Protocol):
    """A run lock this process holds."""

    def release(self) -> None:
        """Let the lock go (and tidy up what it left)."""
        ...


class RunLocks(Protocol):
    """How one ledger's runs hold and test their liveness locks."""

    def start(self, engine: Engine, insert: InsertRun) -> tuple[int, HeldRunLock]:
        """Insert a run's row with `insert` and hold its lock from before the row commits."""
        ...

    def take_if_free(self, conn: Connection, run_id: int) -> HeldRunLock | None:
        """The run's lock if no live process holds it (until `release`), else `None`."""
        ...

    def hold_task(self, engine: Engine, task: str) -> HeldRunLock | None:
        """An exclusive lock on a ledger-wide task (until `release`), or None if held."""
        ...


class _Nothing:
    """A lock that holds nothing."""

    def release(self) -> None:
        """Nothing to let go."""


class MemoryRunLocks:
    """Runs of an in-memory SQLite ledger: alive as long as their database is."""

    def start(self, engine: Engine, insert: InsertRun) -> tuple[int, HeldRunLock]:
        """Insert the run's row; nothing to lock."""
        with engine.begin() as conn:
            return insert(conn), _Nothing()

    def take_if_free(self, conn: Connection, run_id: int) -> HeldRunLock | None:
        """Never free: the process that can read the run is the one running it."""
        return None

    def hold_task(self, engine: Engine, task: str) -> HeldRunLock | None:
        """Nothing to lock: no other process can reach the database."""
        return _Nothing()


class _AdvisorySession:
    """A PostgreSQL connection holding one run's session-level advisory lock."""

    def __init__(self, conn: Connection, run_id: int | None = None) -> None:
        self.conn = conn
        self.run_id = run_id

    def release(self) -> None:
        """Unlock at once, then end the session (no setting of it leaks into the pool)."""
        try:
            if self.run_id is not None:
                _advisory(self.conn, "pg_advisory_unlock", self.run_id)
        except SQLAlchemyError:
            pass  # the session ends below all the same, and its lock with it
        finally:
            self.conn.invalidate()
            self.conn.close()


class PostgresRunLocks:
    """Run locks as PostgreSQL advisory locks keyed (run-lock space, run id)."""

    def start(self, engine: Engine, insert: InsertRun) -> tuple[int, HeldRunLock]:
        """Insert the run's row and take its session lock on a connection kept for the run."""
        conn = engine.connect()
        try:
            _keep_session_while_idle(conn)
            with conn.begin():
                run_id = insert(conn)
                if not _advisory(conn, "pg_try_advisory_lock", run_id):
                    raise LedgerError(f"The lock of the new run {run_id} is already taken.")
        except BaseException:
            _AdvisorySession(conn).release()
            raise
        return run_id, _AdvisorySession(conn, run_id)

    def take_if_free(self, conn: Connection, run_id: int) -> HeldRunLock | None:
        """The run's lock for the rest of `conn`'s transaction, if no session holds it."""
        return _Nothing() if _advisory(conn, "pg_try_advisory_xact_lock", run_id) else None

    def hold_task(self, engine: Engine, task: str) -> HeldRunLock | None:
        """The task's session lock, in the run locks' space under a negative key."""
        digest = hashlib.sha256(f"arms-sync/{task}".encode()).digest()
        key = -1 - int.from_bytes(digest[:TASK_KEY_BYTES], "big")  # run ids are positive
        conn = engine.connect()
        _keep_session_while_idle(conn)
        if _advisory(conn, "pg_try_advisory_lock", key):
            conn.commit()
            return _AdvisorySession(conn, key)
        _AdvisorySession(conn).release()
        return None


def _advisory(conn: Connection, function: str, run_id: int) -> bool:
    """Call an advisory-lock function on the run's key; whether it succeeded."""
    statement = text(f"SELECT {function}(:space, :run_id)")
    return bool(conn.execute(statement, {"space": RUN_LOCK_SPACE, "run_id": run_id}).scalar())


def _keep_session_while_idle(conn: Connection) -> None:
    """Turn off the idle-session timeout, should the server set one, for this session."""
    version = conn.dialect.server_version_info or ()
    if version >= IDLE_SESSION_TIMEOUT_SINCE:
        conn.exec_driver_sql("SET idle_session_timeout = 0")
        conn.commit()


class _LockFile:
    """An open lock file this process holds an exclusive `flock` on."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self.descriptor = descriptor

    def release(self) -> None:
        """Remove the file while still holding it, then let it go."""
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.descriptor)


class FileRunLocks:
    """Run locks as `flock`ed files beside an SQLite database file (a local file system)."""

    def __init__(self, database: Path) -> None:
        self.database = database

    def lock_path(self, run_id: int) -> Path:
        """Where run `run_id`'s lock file lives."""
        return self.database.with_name(f"{self.database.name}.run-{run_id}.lock")

    def start(self, engine: Engine, insert: InsertRun) -> tuple[int, HeldRunLock]:
        """Insert the run's row and lock its file before the row commits."""
        held: _LockFile | None = None
        try:
            with engine.begin() as conn:
                run_id = insert(conn)
                held = self._create(run_id)
        except BaseException:
            if held is not None:
                held.release()
            raise
        return run_id, held

    def _create(self, run_id: int) -> _LockFile:
        """Create (or reuse a stale) lock file and lock the very file its path names."""
        path = self.lock_path(run_id)
        for _attempt in range(LOCK_FILE_ATTEMPTS):
            held = _lock_named_file(path)
            if held is not None:
                return held
        raise LedgerError(f"The lock file of the new run {run_id} cannot be held.")

    def hold_task(self, engine: Engine, task: str) -> HeldRunLock | None:
        """The task's lock file `<database file>.<task>.lock`, locked, or None if held."""
        return _lock_named_file(self.database.with_name(f"{self.database.name}.{task}.lock"))

    def take_if_free(self, conn: Connection, run_id: int) -> HeldRunLock | None:
        """The run's lock file, locked, if no live process holds it; a missing file is free."""
        path = self.lock_path(run_id)
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return _Nothing()
        except OSError:
            return None
        if _lock(descriptor):
            return _LockFile(path, descriptor)
        os.close(descriptor)
        return None


def _lock_named_file(path: Path) -> _LockFile | None:
    """The file `path` (made if missing), locked, unless it is held or was just removed."""
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, LOCK_FILE_MODE)
    if _lock(descriptor) and _still_named(path, descriptor):
        return _LockFile(path, descriptor)
    os.close(descriptor)
    return None


def _lock(descriptor: int) -> bool:
    """Whether an exclusive `flock` on the descriptor was free (it is then held)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_named(path: Path, descriptor: int) -> bool:
    """Whether `path` still names the open file (no one removed it meanwhile)."""
    try:
        named = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def run_locks_for(engine: Engine) -> RunLocks:
    """The run locks that fit the engine's database."""
    if engine.dialect.name == "postgresql":
        return PostgresRunLocks()
    if is_memory_database(engine.url):
        return MemoryRunLocks()
    path = sqlite_path(engine.url)
    if path is None:
        raise LedgerError(f"A {engine.dialect.name} ledger has no run locks arms-sync can hold.")
    return FileRunLocks(path.resolve())


def hold_ledger_task_lock(engine: Engine, task: str) -> HeldRunLock | None:
    """An exclusive lock on one ledger-wide task (`task` a short name), or None if held.

    For a task that must never run twice at once on one ledger (re-encrypting
    it, delivering to one agency): a PostgreSQL session-level advisory lock on
    a connection of its own, or a `flock`ed file `<database file>.<task>.lock`;
    released like a run's.
    """
    return run_locks_for(engine).hold_task(engine, task)
