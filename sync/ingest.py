"""Ingest: stream a feed source into the ledger, one atomic unit at a time.

A source yields units: a whole file, or one gateway page. Each unit is applied
in one transaction together with its replay records and cursor, so a refused
or interrupted unit leaves nothing behind and a re-read unit changes nothing.
Accepted records are upserted by the consumer rules (latest `updated_at` wins);
rejected lines are kept with their reason. Memory holds one batch at a time,
and the versions that tie a stored one (held until the unit is read).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import audit_collection, audit_erasures, record_ref
from sync.core.records import Agency
from sync.crypto.replay import ReplayGuard
from sync.errors import UsageError
from sync.feeds.jsonl import (
    OTHER_FIELD_NAME,
    Accepted,
    FeedItem,
    Rejected,
    is_another_agencys,
)
from sync.feeds.models import FeedContext
from sync.ledger.cursors import FeedPosition, save_position
from sync.ledger.replay import LedgerReplayGuard
from sync.ledger.store import Ledger, RecordKey, RecordVersion

INGEST_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Unit:
    """Records applied together: all or nothing. `position` (a gateway's) is saved with them."""

    items: Iterable[FeedItem]
    position: FeedPosition | None = None


class FeedSource(Protocol):
    """Where one agency's feed comes from: a file, a sealed file, or a gateway."""

    @property
    def name(self) -> str:
        """A short, non-personal name for the source (file name or host)."""
        ...

    @property
    def live(self) -> bool:
        """True for a gateway: its failures must not stop the other agency's work."""
        ...

    @property
    def sealed(self) -> bool:
        """True when every unit is an envelope whose sender's signature is checked."""
        ...

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """The source's units in order; sealed ones are opened through `guard`."""
        ...


# Ignored field names a feed's counts name at most; further names are counted
# among the fields with other names, so a feed full of stray names stays short.
MAX_NAMED_UNKNOWN_FIELDS = 20


@dataclass(slots=True)
class IngestCounts:
    """What reading one feed did."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    warnings: int = 0
    units: int = 0
    # rejected (among other reasons) for being the other agency's record
    other_agency: int = 0
    # Unknown fields of accepted records, ignored as feed-v1 asks: the lines
    # each shown name ("registration.end_date") was in, and how many fields
    # had a name not shown (`sync.feeds.jsonl.shown_field_name`).
    unknown_fields: dict[str, int] = field(default_factory=dict)
    unknown_other: int = 0

    @property
    def only_other_agency(self) -> bool:
        """Whether every record read was the other agency's (none read: no)."""
        return 0 < self.read == self.other_agency

    def figures(self) -> dict[str, int]:
        """The counts of lines and units (what a collection's audit entry gives)."""
        return {name: getattr(self, name) for name in COUNT_FIELDS}

    def note_ignored(self, ignored: Iterable[str], lines: int = 1) -> None:
        """Count ignored fields (`sync.feeds.jsonl.ignored_fields`) found in `lines` lines."""
        named = self.unknown_fields
        for name in ignored:
            if name != OTHER_FIELD_NAME and (
                name in named or len(named) < MAX_NAMED_UNKNOWN_FIELDS
            ):
                named[name] = named.get(name, 0) + lines
            else:
                self.unknown_other += lines

    def add(self, other: IngestCounts) -> None:
        """Add another reading's counts (a unit's) to these."""
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name, lines in other.unknown_fields.items():
            self.note_ignored((name,), lines)
        self.unknown_other += other.unknown_other

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IngestCounts:
        """The counts `dataclasses.asdict` gave (a stored summary's, an ingest task's
        result); counts added since take their defaults, other keys are left out."""
        return cls(
            **{name: data.get(name, 0) for name in COUNT_FIELDS},
            unknown_fields=dict(data.get("unknown_fields") or {}),
            unknown_other=data.get("unknown_other", 0),
        )


# The counts of lines and units; the unknown fields' are kept apart.
COUNT_FIELDS = tuple(
    counter.name for counter in fields(IngestCounts) if not counter.name.startswith("unknown_")
)


def reject_fingerprint(agency: str, raw: bytes, occurrence: int = 1) -> str:
    """A rejected line's identity: its agency, its bytes and which copy of them it is.

    The n-th identical line of one reading is kept apart from the first, so
    every rejected line is listed; reading the same feed again gives the same
    fingerprints, so nothing is added. The first copy's fingerprint has no
    number (as before copies were told apart).
    """
    copy = b"" if occurrence == 1 else b"\0" + str(occurrence).encode()
    return hashlib.sha256(agency.encode() + b"\0" + raw + copy).hexdigest()


def reject_row(agency: str, source: str, item: Rejected, occurrence: int = 1) -> dict[str, Any]:
    """A rejected line as stored: fingerprinted so reading it again adds nothing."""
    fingerprint = reject_fingerprint(agency, item.raw, occurrence)
    return {
        "fingerprint": fingerprint,
        "agency": agency,
        "source": source[:200],
        "position": item.position[:64],
        "record_type": None if item.record_type is None else item.record_type[:16],
        "record_id": None if item.record_id is None else item.record_id[:64],
        "record_agency": Agency(agency).other.value if is_another_agencys(item) else None,
        "reason": item.reason,
        "raw": item.raw,
    }


def rejected_keys(rows: Iterable[Mapping[str, Any]]) -> set[RecordKey]:
    """The records stored rejected lines name (agency, type and id), where they name one."""
    return {
        (row["record_agency"] or row["agency"], row["record_type"], row["record_id"])
        for row in rows
        if row["record_type"] is not None and row["record_id"] is not None
    }


class _UnitWriter:
    """Buffers one unit's records and rejects and writes them in batches."""

    def __init__(
        self,
        ledger: Ledger,
        conn: Connection,
        agency: str,
        source: str,
        copies: Counter[bytes],
    ) -> None:
        self.ledger, self.conn, self.agency, self.source = ledger, conn, agency, source
        self.copies = copies  # rejected lines seen so far in this reading, by content
        self.versions: list[RecordVersion] = []
        # Versions tying the stored one with other content, held to the unit's end.
        self.ties: dict[RecordKey, RecordVersion] = {}
        # Without records of the agency before the unit, every stored version is
        # the unit's own, so no version needs setting against them first.
        self.held_before = ledger.holds_records_of(conn, agency)
        self.rejected: list[dict[str, Any]] = []
        self.erased: list[str] = []
        self.unit_counts = IngestCounts()

    def add(self, item: FeedItem) -> None:
        """Count a validated line and buffer it as a version or a reject."""
        counts = self.unit_counts
        counts.read += 1
        if isinstance(item, Accepted):
            counts.accepted += 1
            version = item.version
            counts.warnings += bool(version.warnings)
            if item.ignored:
                counts.note_ignored(item.ignored)
            self.versions.append(version)
        else:
            counts.rejected += 1
            counts.other_agency += is_another_agencys(item)
            self.copies[item.raw] += 1
            occurrence = self.copies[item.raw]
            self.rejected.append(reject_row(self.agency, self.source, item, occurrence))

    def flush(self, run_id: int, now: datetime, final: bool = False) -> None:
        """Write the buffered versions and rejects once a batch is full, or all when `final`.

        The final flush also writes the held ties (`_apply`): the unit has no
        later line left to outrun them.
        """
        if final or len(self.versions) >= INGEST_BATCH:
            self._apply(run_id)
            self.versions.clear()
        if final and self.ties:
            ties = list(self.ties.values())
            self.ties.clear()
            self._write(ties, ties, run_id)
        if final or len(self.rejected) >= INGEST_BATCH:
            self.ledger.store_rejects(self.conn, self.rejected, run_id, now)
            self.ledger.empty_rejects_of_deleted(self.conn, rejected_keys(self.rejected))
            self.rejected.clear()

    def _apply(self, run_id: int) -> None:
        """Write the batch's winners the ledger takes now; hold those tying the stored version.

        A version tying the stored one with other content wins as the later
        line, but only once the unit is read: a later line of the same unit,
        in another batch, may outrun it. Read again, a file holding two tied
        versions of a record in two batches then leaves the ledger as it was,
        instead of swapping to the first and back (counted as a change, and
        a tied deletion audited as an erasure again).
        """
        winners = batch_winners(self.versions)
        if not self.held_before:  # a tie can only be with a line of this unit: it wins
            self._write(winners, self.versions, run_id)
            return
        for version in winners:
            tie = self.ties.get(version.key)
            if tie is not None and version.updated_at >= tie.updated_at:
                del self.ties[version.key]  # a later line of the unit outruns it
        newer, tied = self.ledger.newer_and_tied(self.conn, winners)
        self.ties.update((version.key, version) for version in tied)
        self._write(newer, self.versions, run_id)

    def _write(
        self, versions: Sequence[RecordVersion], batch: Sequence[RecordVersion], run_id: int
    ) -> None:
        """Upsert `versions` (of the lines `batch`); note the records a deletion erased.

        A deletion erases only when the ledger held the record's content, or
        the batch brings content the ledger would have taken, and the deletion
        won (a stale deletion, one read again, or one of a record never sent
        erases nothing), so only those are audited as erasures.
        """
        deleting = [version.key for version in versions if version.deleted]
        if not deleting:
            self.ledger.apply_versions(self.conn, versions, run_id)
            return
        held = self._holding_content(deleting, batch)
        live_before = self.ledger.live_applied_runs(self.conn, deleting)
        self.ledger.apply_versions(self.conn, versions, run_id)
        gone = self.ledger.keys_deleted_by_run(self.conn, deleting, run_id)
        self.ledger.erase_rejected_lines(self.conn, gone, run_id, live_before)
        self.erased.extend(record_ref(key) for key in sorted(gone & held))

    def _holding_content(
        self, deleting: Sequence[RecordKey], batch: Sequence[RecordVersion]
    ) -> set[RecordKey]:
        """Those of the records `deleting` that hold content just before their deletion.

        Content the ledger holds, or content a line of the batch brings that
        the ledger would take from it: not older than the stored deletion, if
        any. A stale line and a later deletion of a record already deleted
        erase nothing: its content never came back.
        """
        stored = self.ledger.stored_states(self.conn, deleting)
        held = {key for key in deleting if key in stored and not stored[key][0]}
        deleted = set(deleting)
        for version in batch:
            if version.deleted or version.key not in deleted:
                continue
            state = stored.get(version.key)
            if state is None or version.updated_at >= state[1]:
                held.add(version.key)
        return held


def batch_winners(versions: Sequence[RecordVersion]) -> list[RecordVersion]:
    """The version of each record that wins within a batch, one per record.

    The latest `updated_at` wins; on a tie the later line (`feed-v1.md`). Only
    the winner meets the stored version, so a batch holding two versions of a
    record at the same time, read again, leaves the ledger as it was instead of
    swapping to the first and back (which would count the record as changed).
    """
    winners: dict[RecordKey, RecordVersion] = {}
    for version in versions:
        held = winners.get(version.key)
        if held is None or version.updated_at >= held.updated_at:
            winners[version.key] = version
    return list(winners.values())


def ingest(
    ledger: Ledger,
    source: FeedSource,
    agency: str,
    run_id: int,
    today: date,
    now: datetime,
    as_of: date | None = None,
    fence: Callable[[Connection], None] | None = None,
    counts: IngestCounts | None = None,
    hold_back_other_agencys_file: bool = False,
) -> IngestCounts:
    """Read one feed source into the ledger, unit by unit.

    `as_of` is the run's date: records of events up to it are possible even
    when it lies after `today` (`FeedContext.events_until`). `fence`, when
    given, is called last in each unit's transaction, just before its commit,
    and may refuse it by raising (a distributed task that was taken over
    writes nothing more). `counts`, when given, is added to as each unit
    commits, so a caller whose source fails part-way still knows what was
    applied before. With `hold_back_other_agencys_file`, a feed file every
    record of which is the other agency's is rolled back and `OtherAgencysFile`
    raised, so that the caller can tell feeds given the wrong way round
    (`sync.cycle`); otherwise its lines are kept as rejects, like any bad line.
    """
    counts = IngestCounts() if counts is None else counts
    context = FeedContext(agency, today, as_of)  # type: ignore[arg-type]
    guard = LedgerReplayGuard(conn=None, sender=agency, now=now)
    audit = audit_log_for(ledger.engine)
    copies: Counter[bytes] = Counter()
    # A unit is fetched (a gateway page over HTTP, with its retries) before its
    # transaction opens; its items are read and opened inside it.
    for unit in source.units(context, guard):
        with ledger.engine.begin() as conn:
            guard.conn = conn
            writer = _UnitWriter(ledger, conn, agency, source.name, copies)
            for item in unit.items:
                writer.add(item)
                writer.flush(run_id, now)
            writer.flush(run_id, now, final=True)
            if hold_back_other_agencys_file:
                _hold_back_other_agencys_file(source, agency, writer.unit_counts)
            if unit.position is not None:
                save_position(conn, agency, source.name, unit.position, now)
            done = writer.unit_counts
            done.units = 1
            audit_collection(
                audit,
                conn,
                run_id,
                agency=agency,
                source_name=source.name,
                counts=done.figures(),
                sealed=source.sealed,
            )
            audit_erasures(audit, conn, run_id, writer.erased)
            if fence is not None:  # last, so the row it locks is held only to the commit
                fence(conn)
            counts.add(done)
    return counts


class OtherAgencysFile(UsageError):
    """A feed file every record of which is the other agency's; nothing of it was kept."""


def _hold_back_other_agencys_file(source: FeedSource, agency: str, unit: IngestCounts) -> None:
    """Roll back a feed file every record of which is the other agency's (a gateway: never)."""
    if source.live or not unit.only_other_agency:
        return
    raise OtherAgencysFile(f"Every record of the {agency} feed {source.name} is another agency's.")
