"""Streaming the synthetic feeds: subjects interleaved as real extracts arrive.

Records of one subject keep their own order (a stale version after the fresh
one, a deletion after what it deletes), but subjects are mixed: a pool of a
few hundred subjects in progress gives up one record at a time, picked at
random, and a finished subject makes room for the next. Memory stays bounded
by the pool, whatever the number of subjects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from sync.core.records import Agency
from sync.owner_only_files import OWNER_ONLY_MODE
from sync.synth.options import SynthOptions, SynthSummary
from sync.synth.randomness import SynthRandom
from sync.synth.subjects import Subject, SubjectFactory

POOL_SIZE = 256
WRITE_BATCH_LINES = 4_096
ORDER_SEED_SALT = "feed-order"
FEED_FILES = {Agency.PROBATION: "probation.jsonl", Agency.POLICE: "police.jsonl"}
TRUTH_FILE = "truth.jsonl"

Record = dict[str, object]


def iter_subjects(options: SynthOptions) -> Iterator[Subject]:
    """Every subject in index order, each with its truth and records."""
    factory = SubjectFactory(options)
    for index in range(options.subjects):
        yield factory.make(index)


def _interleave(
    options: SynthOptions, on_subject: Callable[[Subject], None]
) -> Iterator[tuple[Agency, Record]]:
    """Records of all subjects, mixed through a bounded pool."""
    order = SynthRandom(f"{ORDER_SEED_SALT}:{options.seed}")
    subjects = iter_subjects(options)
    pool: list[list[tuple[Agency, Record]]] = []

    def admit() -> list[tuple[Agency, Record]] | None:
        for subject in subjects:
            on_subject(subject)
            if subject.records:
                return subject.records[::-1]
        return None

    while len(pool) < POOL_SIZE and (queue := admit()) is not None:
        pool.append(queue)
    while pool:
        slot = order.randrange(len(pool))
        queue = pool[slot]
        yield queue.pop()
        if not queue:
            refill = admit()
            if refill is None:
                pool[slot] = pool[-1]
                pool.pop()
            else:
                pool[slot] = refill


def _ignore(subject: Subject) -> None:
    del subject


def iter_feed_records(options: SynthOptions) -> Iterator[tuple[Agency, Record]]:
    """Feed-v1 records of both agencies as JSON-ready dicts, in arrival order."""
    return _interleave(options, _ignore)


class _LineWriter:
    """Buffered JSON Lines output to one file, counting records by type."""

    def __init__(self, path: Path) -> None:
        # Readable by its owner alone, as every file of personal data arms-sync writes:
        # synthetic people stand in for real ones, and feeds are handled alike.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY_MODE)
        os.fchmod(descriptor, OWNER_ONLY_MODE)  # a file that was there keeps its mode otherwise
        self._file = open(descriptor, "w", encoding="utf-8", newline="\n")  # noqa: PTH123, SIM115 - closed by close()
        self._lines: list[str] = []
        self.counts: dict[str, int] = {}

    def write(self, value: Record) -> None:
        """Queue one line; the buffer goes to disk in batches."""
        self._lines.append(json.dumps(value))
        if len(self._lines) >= WRITE_BATCH_LINES:
            self.flush()

    def write_record(self, record: Record) -> None:
        """Queue one feed record and count it by type."""
        self.write(record)
        kind = record["type"]
        if isinstance(kind, str):
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def flush(self) -> None:
        """Write the queued lines."""
        if self._lines:
            self._file.write("\n".join(self._lines) + "\n")
            self._lines.clear()

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        self._file.close()


def write_synthetic_feeds(out_dir: Path, options: SynthOptions) -> SynthSummary:
    """Write `probation.jsonl`, `police.jsonl` and `truth.jsonl`; return the counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    probation = _LineWriter(out_dir / FEED_FILES[Agency.PROBATION])
    police = _LineWriter(out_dir / FEED_FILES[Agency.POLICE])
    truth = _LineWriter(out_dir / TRUTH_FILE)
    try:
        for agency, record in _interleave(options, lambda subject: truth.write(subject.truth)):
            # An identity test: hashing the enum per record would cost a Python call.
            (probation if agency is Agency.PROBATION else police).write_record(record)
    finally:
        for writer in (probation, police, truth):
            writer.close()
    counts = {Agency.PROBATION.value: probation.counts, Agency.POLICE.value: police.counts}
    return SynthSummary(subjects=options.subjects, records=counts)
