"""The ledger adapter: bulk reads and writes of feed records, subjects and decisions.

One `Ledger` per process wraps one SQLAlchemy engine (SQLite file by default,
PostgreSQL by URL). Writes are batched (`executemany`) and every write that a
re-run could repeat is keyed so that repeating it changes nothing. Record
payloads pass through the ledger's `CipherCodec`, which encrypts them at rest
under the deployment's data key (`sync/ledger/codec.py`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from functools import partial
from operator import itemgetter
from typing import Any, NamedTuple

from pydantic_core import from_json
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from sync.core.consolidate import MERGE_LOOP, MERGE_SUPERSEDED, MISSING_PERSON
from sync.crypto.at_rest import FieldCipher
from sync.ledger import schema
from sync.ledger.codec import CipherCodec
from sync.ledger.migrate import upgrade_to_head
from sync.ledger.run_locks import HeldRunLock, run_locks_for
from sync.ledger.runs import (
    KIND_IN_PROCESS,
    RUN_FAILED,
    RUN_INTERRUPTED,
    RUN_PARTIAL,
    RUN_SUCCEEDED,
    in_process_runs_gone,
    insert_run,
    mark_interrupted_runs,
)
from sync.ledger.upsert import dialect_insert

DELETED_DIGEST = "deleted"
KEYED_DIGEST_PREFIX = "k"  # plain SHA-256 digests are hex, so never start with it
CONTENT_DIGEST_KIND = "content"
REJECT_FINGERPRINT_KIND = "reject"
READ_BATCH = 10_000
# Record ids looked up per query, well under SQLite's parameter limit.
KEYS_PER_QUERY = 500
log = logging.getLogger(__name__)
# What `rejects` says of a record that could not be applied, by its cause.
_ORPHAN_REASONS = {
    MISSING_PERSON: "orphan: refers to a person record that is not in the feed",
    MERGE_LOOP: (
        "merge not applied: it closes a loop of merges among person records, "
        "which are all read as the one with the smallest id"
    ),
    MERGE_SUPERSEDED: (
        "merge not applied: a later merge (by updated_at) sends the same person record "
        "to another person"
    ),
}
_PERSON_REJECTED = "orphan: refers to a person record whose line was rejected (see its reject)"
_PERSON_DELETED = "orphan: refers to a person record its agency deleted"
PERSON_TYPE = "person"
RecordKey = tuple[str, str, str]  # agency, record type, record id


_Parameters = Callable[[Mapping[str, Any]], Any]
_COMPILED: dict[tuple[str, str, tuple[str, ...]], tuple[str, _Parameters]] = {}


def bulk_execute(
    conn: Connection, statement: Any, rows: Sequence[Mapping[str, Any]], name: str
) -> None:
    """Execute one statement for many rows straight through the driver's executemany.

    SQLAlchemy's per-row processing dominates at national scale; the statement
    is compiled once per dialect and the rows (plain str, int, float, bool,
    bytes, date and None values) go to the DBAPI as they are. Values the
    statement fixes itself (`.values(active=True)`) are added to every row; such
    a statement is compiled on every call, since its values may differ.
    """
    if not rows:
        return
    key = (conn.dialect.name, name, tuple(rows[0]))
    cached = _COMPILED.get(key)
    if cached is None:
        row_keys = list(rows[0])
        compiled = statement.compile(dialect=conn.dialect, column_keys=row_keys)
        fixed = _fixed_values(compiled, row_keys)
        cached = (str(compiled), _parameters(compiled, row_keys, fixed))
        if not fixed:
            _COMPILED[key] = cached
    sql, parameters = cached
    conn.exec_driver_sql(sql, [parameters(row) for row in rows])


def driver_value(conn: Connection, column: Any, value: Any) -> Any:
    """`value` as SQLAlchemy would hand it to the driver for `column`.

    For `bulk_execute` rows holding a value it does not take as it is (a
    datetime: SQLite stores SQLAlchemy's own text form of it).
    """
    process = column.type.bind_processor(conn.dialect)
    return value if process is None else process(value)


def _fixed_values(compiled: Any, row_keys: Sequence[str]) -> dict[str, Any]:
    """The parameters of `compiled` that the statement fixes, not the rows."""
    supplied = set(row_keys)
    every = compiled.construct_params(dict.fromkeys(row_keys))
    return {name: value for name, value in every.items() if name not in supplied}


def _parameters(compiled: Any, row_keys: Sequence[str], fixed: Mapping[str, Any]) -> _Parameters:
    """A function turning one row into the driver's parameters for `compiled`."""
    if not compiled.positional:
        return (lambda row: {**fixed, **row}) if fixed else (lambda row: row)
    order = tuple(compiled.positiontup)
    if fixed:
        supplied = set(row_keys)
        return lambda row: tuple(row[n] if n in supplied else fixed[n] for n in order)
    getter = itemgetter(*order)
    if len(order) == 1:
        return lambda row: (getter(row),)
    return getter


class RecordVersion(NamedTuple):
    """One version of a feed record, ready to store (a named tuple: one per feed line).

    `digest` is `content_digest(payload)`: made with the version, so that the
    process that validates a line also does its hashing.
    """

    agency: str
    rtype: str
    rid: str
    updated_at: str
    deleted: bool
    person_id: str | None
    payload: bytes | None
    digest: str
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        """The record's identity: agency, type and id."""
        return (self.agency, self.rtype, self.rid)


def content_digest(payload: bytes | None) -> str:
    """A hash of what a record says (not when it said it); deletions share one value.

    This plain hash never reaches the ledger: it is stored keyed
    (`keyed_content_digest`), since a plain hash of a record would let anyone
    who reads the ledger confirm a guess at what the record says.
    """
    if payload is None:
        return DELETED_DIGEST
    return hashlib.sha256(payload).hexdigest()


def keyed_content_digest(cipher: FieldCipher, digest: str) -> str:
    """A content digest as stored: `keyed_digest` of it; deletions keep their shared value."""
    if digest == DELETED_DIGEST:
        return digest
    return keyed_digest(cipher, CONTENT_DIGEST_KIND, digest)


def keyed_digest(cipher: FieldCipher, kind: str, digest: str) -> str:
    """A plain hash as stored: a keyed pseudonym of it, `k` and 63 hex digits.

    Equal inputs still give equal stored values (all the ledger needs them
    for); a value already keyed is returned as it is.
    """
    if digest.startswith(KEYED_DIGEST_PREFIX):
        return digest
    keyed = cipher.pseudonym(kind, digest)
    return KEYED_DIGEST_PREFIX + keyed[: schema.DIGEST - len(KEYED_DIGEST_PREFIX)]


def key_after(keys: Sequence[Any], after: Sequence[Any]) -> Any:
    """Rows whose key comes after `after`, in the order of `keys` (no row values needed)."""
    clauses = []
    for position, key in enumerate(keys):
        equal = [keys[i] == after[i] for i in range(position)]
        clauses.append(and_(*equal, key > after[position]))
    return or_(*clauses)


class LastPass(NamedTuple):
    """What the latest successful run decided with: its as-of date and duplicate window."""

    as_of: date
    window_days: int | None  # None: the run did not record it


class StoredRecord(NamedTuple):
    """A current, not deleted record as read back for a decision (one per record)."""

    agency: str
    rtype: str
    rid: str
    payload: dict[str, Any]
    updated_at: str = ""  # its canonical timestamp key, where the reader needs it


def reject_key(fingerprint: str) -> str:
    """The associated data of a rejected line's stored copy."""
    return f"reject/{fingerprint}"


def record_key(agency: str, rtype: str, rid: str) -> str:
    """The associated-data key of one record's payload."""
    return f"{agency}/{rtype}/{rid}"


class Ledger:
    """Bulk access to the ledger's tables over one engine."""

    def __init__(self, engine: Engine, codec: CipherCodec) -> None:
        self.engine = engine
        self.codec = codec
        self.run_locks = run_locks_for(engine)
        self._held_runs: dict[int, HeldRunLock] = {}

    def ensure_schema(self) -> None:
        """Create or upgrade the tables in place (Alembic)."""
        upgrade_to_head(self.engine)

    def close(self) -> None:
        """Let go of every run lock still held, and of the engine's pooled connections."""
        for run_id in list(self._held_runs):
            self.release_run(run_id)
        self.engine.dispose()

    # -- runs -------------------------------------------------------------
    def start_run(self, as_of: date, now: datetime) -> int:
        """Record the start of an in-process run, holding its liveness lock; return its id.

        Runs whose process died are first recorded as interrupted. The lock is
        held until `release_run`, which the caller calls once the run's outcome
        is committed (`finish_run`).
        """
        self.mark_interrupted_runs(now)
        insert = partial(insert_run, as_of=as_of, now=now, kind=KIND_IN_PROCESS)
        run_id, held = self.run_locks.start(self.engine, insert)
        self._held_runs[run_id] = held
        return run_id

    @contextmanager
    def in_process_run(
        self,
        as_of: date,
        clock: Callable[[], datetime],
        failure_summary: Mapping[str, Any] | None = None,
    ) -> Iterator[int]:
        """Within the block, a started run (its id); the block records its outcome.

        The block calls `finish_run` in the transaction that stores its work. If
        the block raises, the run is recorded as failed (with `failure_summary`)
        before the error goes on; either way its liveness lock is let go.
        """
        run_id = self.start_run(as_of, clock())
        try:
            yield run_id
        except KeyboardInterrupt:
            self._record_interrupt(run_id, failure_summary or {}, clock())
            raise
        except BaseException:
            self._record_failure(run_id, failure_summary or {}, clock())
            raise
        finally:
            self.release_run(run_id)

    def _record_failure(self, run_id: int, summary: Mapping[str, Any], now: datetime) -> None:
        """Record a run as failed; if even that fails, say so and let the first error go on.

        The first error is the one the operator must be told (a full disk, a lost
        database). A run left `running` is recorded as interrupted by the next run,
        once its liveness lock is let go.
        """
        try:
            self.finish_run(run_id, RUN_FAILED, summary, now)
        except SQLAlchemyError as error:
            log.warning(
                "run %d: its failure could not be recorded (%s); the next run records it "
                "as interrupted",
                run_id,
                type(error).__name__,
            )

    def _record_interrupt(self, run_id: int, summary: Mapping[str, Any], now: datetime) -> None:
        """Record a run the operator interrupted (Ctrl-C) as interrupted. If the interrupt
        left the database unable to take that now, the next run records it so: nothing
        for the operator to do, so nothing is said but at debug level."""
        try:
            self.finish_run(run_id, RUN_INTERRUPTED, summary, now)
        except SQLAlchemyError as error:
            log.debug(
                "run %d: interrupted, recorded by the next run (%s)", run_id, type(error).__name__
            )

    def release_run(self, run_id: int) -> None:
        """Let go of a run's liveness lock (nothing if this process does not hold it)."""
        held = self._held_runs.pop(run_id, None)
        if held is not None:
            held.release()

    def mark_interrupted_runs(self, now: datetime) -> list[int]:
        """Record as interrupted the in-process runs whose process is gone; their ids."""
        return mark_interrupted_runs(self.engine, self.run_locks, now)

    def in_process_runs_gone(self) -> list[int]:
        """The in-process runs recorded as running whose process is gone (nothing written)."""
        return in_process_runs_gone(self.engine, self.run_locks)

    def finish_run(
        self,
        run_id: int,
        status: str,
        summary: Mapping[str, Any],
        now: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Record the outcome of a run (inside `conn`'s transaction when given)."""
        statement = (
            update(schema.runs)
            .where(schema.runs.c.id == run_id)
            .values(finished_at=now, status=status, summary=json.dumps(summary))
        )
        if conn is not None:
            conn.execute(statement)
            return
        with self.engine.begin() as own:
            own.execute(statement)

    def last_pass(self) -> LastPass | None:
        """The as-of date and window of the latest successful run, read together (None: no run)."""
        last = self._last_successful_run()
        if last is None:
            return None
        as_of, summary = last
        window = summary.get("window_days")
        return LastPass(as_of, window if isinstance(window, int) else None)

    def recorded_policy_versions(self) -> list[dict[str, Any]]:
        """The policy versions (id, effective date, digest) the latest successful run
        recorded deciding under; empty when none did (no run, or one before they were kept)."""
        last = self._last_successful_run()
        versions = None if last is None else last[1].get("policy", {}).get("versions")
        return [entry for entry in versions or [] if isinstance(entry, dict)]

    def _last_successful_run(self) -> tuple[date, dict[str, Any]] | None:
        """The as-of date and stored summary of the latest successful run (None: no run)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(schema.runs.c.as_of, schema.runs.c.summary)
                .where(schema.runs.c.status.in_((RUN_SUCCEEDED, RUN_PARTIAL)))
                .order_by(schema.runs.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return row.as_of, json.loads(row.summary) if row.summary else {}

    def last_as_of(self) -> date | None:
        """The as-of date of the latest successful run."""
        last = self.last_pass()
        return None if last is None else last.as_of

    # -- records ----------------------------------------------------------
    def apply_versions(
        self, conn: Connection, versions: Sequence[RecordVersion], run_id: int
    ) -> None:
        """Upsert record versions: a later `updated_at` wins, a tie with new content wins.

        The driver applies the rows one after another, so two versions of one
        record in the same call are settled by the same rule as across calls.
        """
        rows = [self._row(version, run_id) for version in versions]
        if not rows:
            return
        table = schema.records
        insert = self._insert(table)
        excluded = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.agency, table.c.rtype, table.c.rid],
            set_={
                name: excluded[name]
                for name in (
                    "updated_at",
                    "deleted",
                    "person_id",
                    "digest",
                    "payload",
                    "warnings",
                    "applied_run",
                )
            },
            where=or_(
                excluded.updated_at > table.c.updated_at,
                and_(
                    excluded.updated_at == table.c.updated_at,
                    excluded.digest != table.c.digest,
                ),
            ),
        )
        bulk_execute(conn, statement, rows, "records-upsert")

    def newer_and_tied(
        self, conn: Connection, versions: Sequence[RecordVersion]
    ) -> tuple[list[RecordVersion], list[RecordVersion]]:
        """`versions` (one per record) set against the stored ones, by the consumer rules.

        First those the ledger takes now: records it does not hold, and versions
        with a later `updated_at`. Then those tying the stored version with
        other content, which win as a later line but are left to the caller to
        apply (`apply_versions`) once it knows no later line of its own
        outruns them. Older versions, and the stored content again, change
        nothing and are left out.
        """
        table = schema.records
        keys = [version.key for version in versions]
        stored = dict(self._rows_by_key(conn, keys, table.c.updated_at, table.c.digest))
        newer: list[RecordVersion] = []
        tied: list[RecordVersion] = []
        for version in versions:
            held = stored.get(version.key)
            if held is None or version.updated_at > held[0]:
                newer.append(version)
            elif version.updated_at == held[0] and held[1] != keyed_content_digest(
                self.codec.cipher, version.digest
            ):
                tied.append(version)
        return newer, tied

    def holds_records_of(self, conn: Connection, agency: str) -> bool:
        """Whether the ledger holds any record of `agency`, deleted or not."""
        table = schema.records
        query = select(table.c.rid).where(table.c.agency == agency).limit(1)
        return conn.execute(query).first() is not None

    def stored_states(
        self, conn: Connection, keys: Iterable[RecordKey]
    ) -> dict[RecordKey, tuple[bool, str]]:
        """The stored records of `keys`: whether each is deleted, and its `updated_at` key."""
        table = schema.records
        rows = self._rows_by_key(conn, keys, table.c.deleted, table.c.updated_at)
        return {key: (bool(deleted), str(updated_at)) for key, (deleted, updated_at) in rows}

    def keys_deleted_by_run(
        self, conn: Connection, keys: Iterable[RecordKey], run_id: int
    ) -> set[RecordKey]:
        """Those of `keys` whose record the run `run_id` has just stored as deleted."""
        table = schema.records
        return self._keys_where(
            conn, keys, and_(table.c.deleted.is_(True), table.c.applied_run == run_id)
        )

    def live_applied_runs(
        self, conn: Connection, keys: Iterable[RecordKey]
    ) -> dict[RecordKey, int]:
        """The run that applied each of `keys` whose stored record is not deleted."""
        table = schema.records
        rows = self._rows_by_key(
            conn, keys, table.c.applied_run, condition=table.c.deleted.is_(False)
        )
        return {key: int(run) for key, (run,) in rows}

    def _keys_where(
        self, conn: Connection, keys: Iterable[RecordKey], condition: Any
    ) -> set[RecordKey]:
        """Those of `keys` whose record meets `condition`."""
        return {key for key, _ in self._rows_by_key(conn, keys, condition=condition)}

    def _rows_by_key(
        self,
        conn: Connection,
        keys: Iterable[RecordKey],
        *columns: Any,
        condition: Any = None,
    ) -> Iterator[tuple[RecordKey, tuple[Any, ...]]]:
        """The stored records of `keys` (meeting `condition`), each key with `columns`.

        Index look-ups, not a scan: keys are grouped by agency and type, so each
        query is an `IN` on the last column of the primary key (a row-value `IN`
        makes SQLite scan the table).
        """
        table = schema.records
        by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
        for agency, rtype, rid in keys:
            by_kind[(agency, rtype)].append(rid)
        for (agency, rtype), rids in by_kind.items():
            for start in range(0, len(rids), KEYS_PER_QUERY):
                query = select(table.c.rid, *columns).where(
                    table.c.agency == agency,
                    table.c.rtype == rtype,
                    table.c.rid.in_(rids[start : start + KEYS_PER_QUERY]),
                )
                if condition is not None:
                    query = query.where(condition)
                for rid, *values in conn.execute(query):
                    yield (agency, rtype, rid), tuple(values)

    def _row(self, version: RecordVersion, run_id: int) -> dict[str, Any]:
        payload = None
        if not version.deleted and version.payload is not None:
            key = record_key(version.agency, version.rtype, version.rid)
            payload = self.codec.encode(key, version.payload)
        return {
            "agency": version.agency,
            "rtype": version.rtype,
            "rid": version.rid,
            "updated_at": version.updated_at,
            "deleted": version.deleted,
            "person_id": None if version.deleted else version.person_id,
            "digest": keyed_content_digest(self.codec.cipher, version.digest),
            "payload": payload,
            "warnings": "\n".join(version.warnings) or None,
            "applied_run": run_id,
        }

    def _insert(self, table: Any) -> Any:
        return dialect_insert(self.engine.dialect.name, table)

    def count_applied(self, run_id: int) -> dict[str, int]:
        """How many records each agency changed in a run."""
        table = schema.records
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.agency, func.count())
                .where(table.c.applied_run == run_id)
                .group_by(table.c.agency)
            )
            return {agency: int(count) for agency, count in rows}

    def iter_current_records(self) -> Iterator[StoredRecord]:
        """Every current, not deleted record, payload decoded."""
        table = schema.records
        columns = (table.c.agency, table.c.rtype, table.c.rid, table.c.payload, table.c.updated_at)
        query = select(*columns).where(table.c.deleted.is_(False))
        decode = self.codec.decode
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=READ_BATCH).execute(query)
            try:
                for rows in result.partitions():
                    for agency, rtype, rid, payload, updated_at in rows:
                        data = from_json(decode(record_key(agency, rtype, rid), payload))
                        yield StoredRecord(agency, rtype, rid, data, updated_at)
            finally:
                result.close()  # a payload that fails to decrypt must not leak the cursor

    # -- rejects ----------------------------------------------------------
    def store_rejects(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]], run_id: int, now: datetime
    ) -> None:
        """Keep rejected lines; the same line seen again moves to where it was last read.

        A line is kept once (by agency and content) with the time it was first
        seen; reading it again updates its source, position and last run, so
        `rejects` points at the line in the feed read most recently.
        """
        if not rows:
            return
        table = schema.rejects
        cipher = self.codec.cipher
        unique = {
            keyed_digest(cipher, REJECT_FINGERPRINT_KIND, row["fingerprint"]): row for row in rows
        }
        values = [
            {
                **row,
                "fingerprint": key,
                "raw": self.codec.encode(reject_key(key), row["raw"]),
                "first_seen": now,
                "last_seen_run": run_id,
            }
            for key, row in unique.items()
        ]
        insert = self._insert(table)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.fingerprint],
            set_={
                "source": insert.excluded.source,
                "position": insert.excluded.position,
                "last_seen_run": insert.excluded.last_seen_run,
                "fixed_run": None,  # read again, it stands again
            },
        )
        conn.execute(statement, values)

    def erase_rejected_lines(
        self,
        conn: Connection,
        deleted: Iterable[RecordKey],
        run_id: int,
        live_before: Mapping[RecordKey, int],
    ) -> None:
        """Empty the rejected lines of the records `deleted` (their deletion stored by
        `run_id`), keeping the run that settled each.

        A deleted record is kept without its content, and so are its rejected
        lines: each keeps its agency, type, id, place, reason and first sighting.
        A line fixed before the deletion (`live_before`: the run that applied the
        record's live version just before it) stays marked with that run; one
        still standing is settled by the deletion, unless it was read in the
        deletion's run (nothing after it settled it). A line settled already
        keeps its run.
        """
        rows = [
            {
                "b_agency": key[0],
                "b_rtype": key[1],
                "b_rid": key[2],
                "b_before": live_before.get(key, 0),  # 0: no live version (runs count from 1)
                "b_run": run_id,
            }
            for key in sorted(deleted)
        ]
        table = schema.rejects
        before: Any = bindparam("b_before", type_=Integer())
        run: Any = bindparam("b_run", type_=Integer())
        other_agencys = table.c.record_agency.is_not(None)
        settled = case(
            (or_(before > table.c.last_seen_run, and_(other_agencys, before > 0)), before),
            (or_(run > table.c.last_seen_run, other_agencys), run),
            else_=literal(None),
        )
        statement = (
            update(table)
            .where(_rejects_of_record(), table.c.fixed_run.is_(None))
            .values(raw=None, fixed_run=settled)
        )
        bulk_execute(conn, statement, rows, "rejects-erase")

    def empty_rejects_of_deleted(self, conn: Connection, keys: Iterable[RecordKey]) -> None:
        """Empty the rejected lines of those of `keys` whose record the ledger holds deleted.

        A line read after its record's deletion (or before it in the same
        batch) keeps no content either; whether it stands is left as it is.
        """
        deleted = self._keys_where(conn, keys, schema.records.c.deleted.is_(True))
        rows = [{"b_agency": a, "b_rtype": t, "b_rid": r} for a, t, r in sorted(deleted)]
        table = schema.rejects
        statement = (
            update(table).where(_rejects_of_record(), table.c.raw.is_not(None)).values(raw=None)
        )
        bulk_execute(conn, statement, rows, "rejects-empty")

    def list_rejects(self) -> list[dict[str, Any]]:
        """Every rejected line, oldest first, then by agency, source and place in it.

        `fixed_in_run` is the run that applied a version of the same record
        after the run that last read the rejected line (the agency sent it
        again, corrected), else None: the line still stands for a record the
        ledger does not hold as the agency meant it. A line of the other
        agency's is fixed by the run that applied the ledger's version of that
        record from its own agency's feed, whenever that was: the record did
        not belong in the feed it was rejected from. A line whose record the
        agency then deleted shows the run kept when the deletion was stored
        (`erase_rejected_lines`), since the record's row names the deletion's.
        """
        table, records = schema.rejects, schema.records
        later = and_(
            records.c.agency == _rejected_records_agency(),
            records.c.rtype == table.c.record_type,
            records.c.rid == table.c.record_id,
            records.c.deleted.is_(False),
            or_(
                records.c.applied_run > table.c.last_seen_run,
                table.c.record_agency.is_not(None),
            ),
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    table.c.agency,
                    table.c.record_type,
                    table.c.record_id,
                    table.c.source,
                    table.c.position,
                    table.c.reason,
                    table.c.first_seen,
                    func.coalesce(table.c.fixed_run, records.c.applied_run).label("fixed_in_run"),
                ).select_from(table.outerjoin(records, later))
            )
            found = [dict(row._mapping) for row in rows]
        return sorted(found, key=reject_order)

    def list_warnings(self) -> list[dict[str, Any]]:
        """Current records accepted with warnings (a value set aside, say), by agency, type and id.

        Warnings name the field and what was done, never the value.
        """
        table = schema.records
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(table.c.agency, table.c.rtype, table.c.rid, table.c.warnings)
                .where(table.c.warnings.is_not(None), table.c.deleted.is_(False))
                .order_by(table.c.agency, table.c.rtype, table.c.rid)
            )
            return [
                {
                    "agency": row.agency,
                    "record_type": row.rtype,
                    "record_id": row.rid,
                    "warnings": row.warnings.split("\n"),
                }
                for row in rows
            ]

    def list_orphans(self) -> list[dict[str, Any]]:
        """Records that could not be applied to a person, as reject-like rows.

        The reason of a record whose person is missing says why, when the
        ledger knows: the person's line was rejected (in the run that read the
        person last, or later), or its agency deleted the person.
        """
        table, rejects = schema.orphans, schema.rejects
        person = schema.records.alias("person")
        rejected_run = (
            select(func.max(rejects.c.last_seen_run))
            .where(
                _rejected_records_agency() == table.c.agency,
                rejects.c.record_type == PERSON_TYPE,
                rejects.c.record_id == table.c.missing_person_id,
            )
            .scalar_subquery()
        )
        held = and_(
            person.c.agency == table.c.agency,
            person.c.rtype == PERSON_TYPE,
            person.c.rid == table.c.missing_person_id,
        )
        query = (
            select(
                table.c.agency,
                table.c.rtype,
                table.c.rid,
                table.c.cause,
                person.c.deleted,
                person.c.applied_run,
                rejected_run.label("rejected_run"),
            )
            .select_from(table.outerjoin(person, held))
            .order_by(table.c.agency, table.c.rtype, table.c.rid)
        )
        with self.engine.connect() as conn:
            return [
                {
                    "agency": row.agency,
                    "record_type": row.rtype,
                    "record_id": row.rid,
                    "reason": _orphan_reason(row),
                }
                for row in conn.execute(query)
            ]

    # -- decisions --------------------------------------------------------
    def replace_rows(self, table: Any, rows: Sequence[Mapping[str, Any]], conn: Any) -> None:
        """Replace a derived table's content inside the caller's transaction."""
        conn.execute(delete(table))
        if rows:
            bulk_execute(conn, table.insert(), rows, f"insert-{table.name}")

    def load_membership(self) -> dict[tuple[str, str], str]:
        """The subject id each person record had after the last run."""
        table = schema.subject_members
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.agency, table.c.person_id, table.c.subject_id))
            return {(agency, person_id): subject_id for agency, person_id, subject_id in rows}

    def load_subject_ids(self) -> set[str]:
        """Every subject id ever minted (ids are never reused)."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(schema.subjects.c.subject_id)).scalars())


def _rejected_records_agency() -> Any:
    """The agency whose record a rejected line is: the one it names when it was the other
    agency's (`record_agency`), else the agency of the feed it was read in."""
    table = schema.rejects
    return func.coalesce(table.c.record_agency, table.c.agency)


def _rejects_of_record() -> Any:
    """Rejected lines of the record named by the bound `b_agency`, `b_rtype` and `b_rid`."""
    table = schema.rejects
    return and_(
        table.c.record_type == bindparam("b_rtype"),
        table.c.record_id == bindparam("b_rid"),
        _rejected_records_agency() == bindparam("b_agency"),
    )


def _orphan_reason(row: Any) -> str:
    """Why an orphan was set aside: its cause, and for a missing person what became of it.

    A rejected person line counts when it was read in the run that stored the
    ledger's version of the person, or later (a line corrected since is not why).
    """
    if row.cause != MISSING_PERSON:
        return _ORPHAN_REASONS.get(row.cause, _ORPHAN_REASONS[MISSING_PERSON])
    stored_run = row.applied_run
    if row.rejected_run is not None and (stored_run is None or row.rejected_run >= stored_run):
        return _PERSON_REJECTED
    if row.deleted:
        return _PERSON_DELETED
    return _ORPHAN_REASONS[MISSING_PERSON]


def reject_order(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Rejects in the order they were read: "line 2" before "line 10", pages likewise."""
    position = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", row["position"])
        if part
    )
    return (row["first_seen"], row["agency"], row["source"], position)
