"""A pool of processes that validates long feeds, the items still in the file's order.

Validating a line (parsing, canonical identifiers, the stored form) is pure
CPU work, so a national feed is cut into chunks that worker processes
validate while this process writes what comes back to the ledger. At most a
few chunks are in flight at once, so memory stays bounded however long the
feed is. Workers start only when a feed is long enough to need them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import islice
from typing import Any

from sync.feeds.jsonl import (
    Accepted,
    FeedItem,
    PlacedLine,
    Rejected,
    offer_pool,
    validate_placed,
    withdraw_pool,
)
from sync.feeds.models import FeedContext
from sync.ledger.store import RecordVersion

CHUNK_LINES = 2_000
CHUNKS_IN_FLIGHT_PER_PROCESS = 2
# More workers than this gain little: the writing process is the bound by then.
MAX_DEFAULT_PROCESSES = 4
# Workers start from a clean server process, not a fork of this one: the
# parent may hold database connections and threads that a fork would copy.
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
# Where a process cannot be watched through a pidfd, how often a worker looks.
PARENT_POLL_SECONDS = 1.0

log = logging.getLogger(__name__)


class ProcessLinePool:
    """Validates chunks of lines in worker processes, started on first use."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def validate(self, lines: Iterator[PlacedLine], context: FeedContext) -> Iterator[FeedItem]:
        """The items of `lines`, in order, validated by the workers."""
        executor = self._started()
        in_flight: deque[Future[list[_SentItem]]] = deque()
        limit = self.processes * CHUNKS_IN_FLIGHT_PER_PROCESS
        while True:
            while len(in_flight) < limit:
                chunk = list(islice(lines, CHUNK_LINES))
                if not chunk:
                    break
                in_flight.append(executor.submit(validate_for_sending, chunk, context))
            if not in_flight:
                return
            yield from received(in_flight.popleft().result())

    @property
    def started(self) -> bool:
        """Whether worker processes are running."""
        return self._executor is not None

    def close(self) -> None:
        """Stop the workers (cancelling chunks not yet started)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _started(self) -> ProcessPoolExecutor:
        if self._executor is None:
            context = multiprocessing.get_context(_START_METHOD)
            if _START_METHOD == "forkserver":
                context.set_forkserver_preload(["sync.feeds.jsonl"])
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=end_with_parent,
                initargs=(os.getpid(),),
            )
            log.info("feed validation: %d worker processes started", self.processes)
        return self._executor


def end_with_parent(parent_pid: int) -> None:
    """In a worker: end this process when the process that started the pool ends.

    A run that is killed cannot stop its workers, and they would wait for work
    for ever (each holds the writing end of its own task queue, and the
    forkserver stays while they live). A thread watches the parent instead.
    Ctrl-C on a terminal reaches every process of the command: a worker ignores
    it, since the parent stops the pool (or, gone, is seen gone by the watch),
    rather than print a traceback of its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_when_gone, args=(parent_pid,), name="parent-watch", daemon=True
    ).start()


def _exit_when_gone(pid: int) -> None:
    """Block until process `pid` has ended, then end this process at once."""
    try:
        handle = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    except OSError:  # gone already, or a kernel without pidfds: the loop below tells
        handle = None
    if handle is not None:
        select.select([handle], [], [])  # readable once the process has ended
    else:
        while _alive(pid):
            time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    return True


# An accepted item as a worker sends it: its position, its version's fields and
# the names of its ignored fields as plain tuples, which pickle several times
# faster than named tuples.
_SentItem = tuple[str, tuple[Any, ...], tuple[str, ...]] | Rejected


def validate_for_sending(lines: list[PlacedLine], context: FeedContext) -> list[_SentItem]:
    """`validate_placed` in a worker, accepted items flattened for the trip back."""
    return [
        item if isinstance(item, Rejected) else (item.position, tuple(item.version), item.ignored)
        for item in validate_placed(lines, context)
    ]


def received(sent: list[_SentItem]) -> Iterator[FeedItem]:
    """The items `validate_for_sending` flattened, as they were."""
    build = tuple.__new__  # the named tuples' fields are already in order
    for item in sent:
        if isinstance(item, Rejected):
            yield item
        else:
            position, fields, ignored = item
            yield build(Accepted, (position, build(RecordVersion, fields), ignored))


def default_processes() -> int:
    """Validation workers when the settings do not say: the usable cores, at most 4."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, MAX_DEFAULT_PROCESSES))


@contextmanager
def validating_in_processes(processes: int) -> Iterator[None]:
    """Within the block, long feeds are validated by `processes` workers (0: in-process).

    A daemonic process (a Celery prefork child) may not start processes of its
    own, so it always validates in-process.
    """
    if processes < 1 or multiprocessing.current_process().daemon:
        yield
        return
    pool = ProcessLinePool(processes)
    token = offer_pool(pool)
    try:
        yield
    finally:
        withdraw_pool(token)
        pool.close()
