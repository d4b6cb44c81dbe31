"""The ledger's mark: what changes whenever a decision pass's inputs may have changed.

A pass reads the mark before it reads anything else, and is stored only if,
under the decision-store lock, the mark is still the one it read (see
`unchanged_since`). Records are only written by runs, and stored decisions
(previous membership, subject ids) too, so the runs (how many, the latest id,
how many still in flight) stand for them: a run in flight may still change
records, and its own pass, stored after them, is checked the same way. Stored
links, unlinks, overrides and revocations are counted. Runs and acts are never
deleted, so counts only grow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, func, select

from sync.ledger import schema
from sync.ledger.runs import RUN_RUNNING
from sync.ledger.tables_manual import manual_links


@dataclass(frozen=True, slots=True)
class LedgerMark:
    """Counts of runs and acts, the latest run, and the runs still in flight."""

    last_run: int | None
    runs: int
    runs_in_flight: int
    manual_links: int
    overrides: int
    revoked_overrides: int

    def with_run(self, run_id: int) -> LedgerMark:
        """This mark once the run `run_id` has started (the latest run, in flight)."""
        return replace(
            self, last_run=run_id, runs=self.runs + 1, runs_in_flight=self.runs_in_flight + 1
        )

    def is_one_act_after(self, earlier: LedgerMark) -> bool:
        """Whether this mark is `earlier` with one act stored and nothing else.

        The act raised one count by one; runs and the other counts are as they were.
        """
        runs = (self.last_run, self.runs, self.runs_in_flight)
        if runs != (earlier.last_run, earlier.runs, earlier.runs_in_flight):
            return False
        acts = zip(self._acts(), earlier._acts(), strict=True)
        return sorted(now - before for now, before in acts) == [0, 0, 1]

    def _acts(self) -> tuple[int, int, int]:
        return (self.manual_links, self.overrides, self.revoked_overrides)


def read_ledger_mark(conn: Connection) -> LedgerMark:
    """The ledger's mark now, as `conn` sees it."""
    runs, overrides = schema.runs, schema.overrides
    last_run, count, in_flight = conn.execute(
        select(
            func.max(runs.c.id),
            func.count(),
            func.count().filter(runs.c.status == RUN_RUNNING),
        )
    ).one()
    manual = conn.execute(select(func.count()).select_from(manual_links)).scalar_one()
    made, revoked = conn.execute(
        select(func.count(), func.count(overrides.c.revoked_at)).select_from(overrides)
    ).one()
    return LedgerMark(last_run, int(count), int(in_flight), int(manual), int(made), int(revoked))


def mark_now(engine: Engine) -> LedgerMark:
    """The ledger's mark now, in a connection of its own."""
    with engine.connect() as conn:
        return read_ledger_mark(conn)


def unchanged_since(mark: LedgerMark) -> Callable[[Connection], bool]:
    """A check (for `store_decisions`) that the ledger's mark is still `mark`."""
    return lambda conn: read_ledger_mark(conn) == mark
