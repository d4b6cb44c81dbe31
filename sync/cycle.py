"""One full sync cycle in-process: ingest both feeds, decide, store, summarise.

This is the service layer the CLI's `run` and the Celery tasks call. Each step
is idempotent: re-running a cycle over the same feeds changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from sync.app import App
from sync.core.bulk import paused_garbage_collection
from sync.core.decide import DecisionInputs, Decisions, decide
from sync.core.records import Agency, Override, Owner, RecordRef
from sync.errors import CryptoError, GatewayError, InputRefused
from sync.feeds.convert import feed_state
from sync.feeds.parallel import default_processes, validating_in_processes
from sync.ingest import FeedSource, IngestCounts, ingest
from sync.ledger import schema
from sync.ledger.decisions import store_decisions
from sync.reconcile.manual_inputs import load_manual_links


@dataclass
class RunSummary:
    """What a cycle did, in counts only (no personal data)."""

    run_id: int
    as_of: date
    feeds: dict[str, IngestCounts] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    subjects: int = 0
    owners_today: dict[str, int] = field(default_factory=dict)
    open_flags: dict[str, int] = field(default_factory=dict)
    orphans: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)
    notice_batches: int = 0
    delivered: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        """Rejected lines across both feeds."""
        return sum(counts.rejected for counts in self.feeds.values())

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the summary."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "feeds": {agency: asdict(counts) for agency, counts in self.feeds.items()},
            "changed": self.changed,
            "subjects": self.subjects,
            "owners_today": self.owners_today,
            "open_flags": self.open_flags,
            "orphans": self.orphans,
            "feed_errors": self.feed_errors,
            "notice_batches": self.notice_batches,
            "delivered": self.delivered,
        }


def run_cycle(app: App, sources: Mapping[str, FeedSource], as_of: date) -> RunSummary:
    """Ingest every source, then decide and store; the run is recorded in the ledger."""
    processes = app.settings.validation_processes
    with (
        paused_garbage_collection(),
        validating_in_processes(default_processes() if processes is None else processes),
    ):
        return _run_cycle(app, sources, as_of)


def _run_cycle(app: App, sources: Mapping[str, FeedSource], as_of: date) -> RunSummary:
    ledger = app.ledger
    run_id = ledger.start_run(as_of, app.clock())
    summary = RunSummary(run_id=run_id, as_of=as_of)
    try:
        for agency, source in sources.items():
            try:
                summary.feeds[agency] = ingest(
                    ledger, source, agency, run_id, app.today(), app.clock()
                )
            except (GatewayError, CryptoError, InputRefused) as error:
                if not source.live:
                    raise
                # One failing gateway never holds back the other agency's work.
                summary.feed_errors[agency] = str(error)
        summary.changed = ledger.count_applied(run_id)
        decisions = compute_decisions(app, decision_inputs(app, as_of))
        summarise_decisions(summary, decisions)
        status = "partial" if summary.feed_errors else "succeeded"

        def finish(conn: Connection, batches: int) -> None:
            summary.notice_batches = batches
            ledger.finish_run(run_id, status, summary.as_dict(), app.clock(), conn)

        store_decisions(ledger, decisions, run_id, app.clock(), app.outbox_keys, finish)
    except BaseException:
        ledger.finish_run(run_id, "failed", {}, app.clock())
        raise
    finally:
        ledger.release_run(run_id)
    return summary


def decision_inputs(app: App, as_of: date) -> DecisionInputs:
    """Everything a decision pass needs from the ledger besides the records."""
    ledger = app.ledger
    with ledger.engine.connect() as conn:
        manual = load_manual_links(conn)
    return DecisionInputs(
        as_of=as_of,
        window_days=app.settings.window_days,
        policy=app.policy,
        previous_membership={
            RecordRef(Agency(agency), person_id): subject_id
            for (agency, person_id), subject_id in ledger.load_membership().items()
        },
        taken_subject_ids=frozenset(ledger.load_subject_ids()),
        overrides=load_active_overrides(app),
        manual_edges=manual.edges,
        forbidden_pairs=manual.forbidden,
    )


def compute_decisions(app: App, inputs: DecisionInputs) -> Decisions:
    """A decision pass over the ledger's current records, stored nowhere (previews use it)."""
    state = feed_state(app.ledger.iter_current_records())
    return decide(state, inputs, app.mint_subject_id, app.linker)


def decide_and_store(
    app: App,
    as_of: date,
    run_id: int,
    decided: Decisions | None = None,
    finish: Callable[[Connection, int], None] | None = None,
    check: Callable[[Connection], bool] | None = None,
) -> tuple[Decisions, int]:
    """Recompute every subject from the ledger's records; store it and queue changed notices.

    `decided` is a pass the caller already computed over the ledger as it now
    is (an applied act's preview): it is stored instead of being computed again.
    `finish` runs in the storing transaction, and `check` in it before anything
    is written (see `store_decisions`: when the check fails, `StalePass` is
    raised and nothing is stored).
    """
    with paused_garbage_collection():
        decisions = (
            compute_decisions(app, decision_inputs(app, as_of)) if decided is None else decided
        )
        batches = store_decisions(
            app.ledger, decisions, run_id, app.clock(), app.outbox_keys, finish, check=check
        )
    return decisions, batches


def load_active_overrides(app: App) -> dict[str, list[Override]]:
    """Manual ownership overrides not revoked, by subject."""
    table = schema.overrides
    result: dict[str, list[Override]] = {}
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.id, table.c.subject_id, table.c.owner, table.c.start, table.c.end)
            .where(table.c.revoked_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
        )
        for override_id, subject_id, owner, start, end in rows:
            result.setdefault(subject_id, []).append(
                Override(override_id, Owner(owner), start, end)
            )
    return result


def summarise_decisions(summary: RunSummary, decisions: Decisions) -> None:
    """Fill in the summary's subjects, orphans, owners today and open flags from a pass."""
    summary.subjects = len(decisions.subjects)
    summary.orphans = len(decisions.orphans)
    owners: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    for decision in decisions.subjects:
        for segment in decision.timeline:
            if segment.covers(summary.as_of):
                owners[str(segment.owner)] += 1
        flags.update(str(flag.kind) for flag in decision.flags)
    summary.owners_today = dict(sorted(owners.items()))
    summary.open_flags = dict(sorted(flags.items()))
