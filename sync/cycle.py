"""One full sync cycle in-process: ingest both feeds, decide, store, summarise.

The CLI's `run` (and the demo) call it; a distributed cycle's stages
(`sync/distributed/stages.py`) reuse its parts: the decision pass and its
storing, the run summary, delivery to the gateways. Each step is idempotent:
re-running a cycle over the same feeds changes nothing.

A decision pass takes seconds to minutes, and acts and other runs may commit
meanwhile. So every pass reads the ledger's mark before its inputs and is
stored only if, under the decision-store lock, the mark is unchanged (the
pass's own run, started and ingested before, is in it). A pass that no longer
fits is not stored but computed again; after `STALE_PASS_RETRIES` retries the
last is computed and stored while holding the lock, so a busy ledger cannot
starve a run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from sync.app import App
from sync.bulk import paused_garbage_collection
from sync.core.decide import DecisionInputs, Decisions, decide, decide_around_act
from sync.core.duplicates import REVIEW_KINDS
from sync.core.notices import Notice
from sync.core.policy import PolicySettings
from sync.core.records import Agency, Override, Owner, RecordRef
from sync.crypto.keys import Party, no_keys_sentence
from sync.distributed.status import feeds_never_read_whole
from sync.errors import (
    ArmsSyncError,
    CryptoError,
    GatewayError,
    InputRefused,
    KeyError_,
    StalePass,
    UsageError,
)
from sync.feeds.convert import feed_state
from sync.feeds.parallel import default_processes, validating_in_processes
from sync.ingest import FeedSource, IngestCounts, OtherAgencysFile, ingest
from sync.ledger import schema
from sync.ledger.decisions import Awaiting, decide_under_lock, store_decisions
from sync.ledger.mark import mark_now, unchanged_since
from sync.ledger.outbox import why_unsealable
from sync.ledger.override_moves import records_of_overrides
from sync.ledger.runs import RUN_PARTIAL, RUN_SUCCEEDED
from sync.policy_file import require_same_versions, version_digest
from sync.reconcile.manual_inputs import load_link_acts
from sync.wording import counted

if TYPE_CHECKING:
    from sync.delivery import NoticeClient

log = logging.getLogger(__name__)
STALE_PASS_RETRIES = 2  # passes computed again when stale; the last one under the lock
# What a live source (a gateway) may fail with, after its client's own retries: the
# agency's feed error of a partial run, never a reason to stop the other agency's work.
LIVE_SOURCE_ERRORS: tuple[type[Exception], ...] = (GatewayError, CryptoError, InputRefused)
PassFinish = Callable[[Connection, Decisions, int], None]
# Another process (the delivery beat, a cycle's deliver stage) holds the agency's
# delivery lock: it delivers the batches this run queued.
DELIVERING_ELSEWHERE = (
    "another process is delivering to this gateway; the notices left waiting go with "
    "the next delivery"
)
# The ring lacks an active key to seal an agency's batches: nothing is sent to it; the
# batches queued meanwhile wait unsealed, those sealed before as they are.
NOTICES_HELD_FOR_KEYS = "nothing is sent to it (notices queued meanwhile wait unsealed), as"


@dataclass
class RunSummary:
    """What a cycle did, in counts only (no personal data)."""

    run_id: int
    as_of: date
    feeds: dict[str, IngestCounts] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    subjects: int = 0
    owners_today: dict[str, int] = field(default_factory=dict)
    open_flags: dict[str, int] = field(default_factory=dict)  # the report's kinds only
    # Gender and date-of-birth conflicts: review items, not flags (`REVIEW_KINDS`).
    review_items: dict[str, int] = field(default_factory=dict)
    # Pairs of person records the matcher could not decide: open link-review items.
    link_reviews: int = 0
    orphans: int = 0
    feed_errors: dict[str, str] = field(default_factory=dict)
    notice_batches: int = 0
    delivered: dict[str, dict[str, int]] = field(default_factory=dict)
    # Why an agency's gateway did not take every batch it was offered (they wait).
    delivery_errors: dict[str, str] = field(default_factory=dict)
    # Why an agency's notices were left to another delivery (not a failure).
    delivery_notes: dict[str, str] = field(default_factory=dict)
    window_days: int | None = None  # the duplicate window the pass used
    # The policy the pass decided under: its versions and the training dates.
    policy: dict[str, Any] = field(default_factory=dict)
    # Agencies whose feed had never been read to its end when the pass decided: its
    # decisions may change once it is, and its notices say so (`provisional`).
    provisional: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """Rejected lines across both feeds."""
        return sum(counts.rejected for counts in self.feeds.values())

    def lines(self) -> Iterator[str]:
        """A short, readable account of the run (counts, and each gateway's failure)."""
        yield from self._read_lines()
        yield from self._decided_lines()
        yield from self._gateway_lines()
        yield from self._feed_warning_lines()

    def _read_lines(self) -> Iterator[str]:
        """What was read of each feed and the records it changed."""
        for agency, counts in self.feeds.items():
            yield from _feed_lines(agency, counts)
        for agency in sorted(self.feed_errors.keys() - self.feeds.keys()):
            yield f"{agency}: nothing read (its feed failed before its first page; see below)"
        if self.feeds:
            changed = ", ".join(f"{agency} {self.changed.get(agency, 0)}" for agency in self.feeds)
            yield f"records changed (new, updated or deleted): {changed}"

    def _decided_lines(self) -> Iterator[str]:
        """What the decision pass found, and whether it is provisional."""
        yield f"subjects: {self.subjects}; orphans: {self.orphans}"
        owners = ", ".join(f"{owner} {count}" for owner, count in self.owners_today.items())
        yield f"owner on {self.as_of.isoformat()}: {owners or 'none'}"
        flags = ", ".join(f"{kind} {count}" for kind, count in self.open_flags.items())
        yield f"open flags: {flags or 'none'}"
        items = ", ".join(f"{kind} {count}" for kind, count in self.review_items.items())
        yield f"review items: {items or 'none'}"
        yield _link_reviews_line(self.link_reviews)
        if self.provisional:
            yield _provisional_line(self.provisional)

    def _gateway_lines(self) -> Iterator[str]:
        """Notices queued and delivered, then each gateway's note and error."""
        if self.notice_batches:
            yield f"notice batches queued: {self.notice_batches}"
        for agency, delivered in self.delivered.items():
            yield (
                f"{agency} gateway: delivered {counted(delivered['notices'], 'notice')} in "
                f"{counted(delivered['delivered'], 'batch')}, "
                f"{counted(delivered['pending'], 'batch')} waiting"
            )
        for agency, note in sorted(self.delivery_notes.items()):
            yield f"{agency} gateway: {note}"
        for agency, error in [
            *sorted(self.feed_errors.items()),
            *sorted(self.delivery_errors.items()),
        ]:
            yield _about_gateway(agency, error)

    def _feed_warning_lines(self) -> Iterator[str]:
        """A feed that looks like the wrong file, then where rejects and warnings are."""
        for agency, counts in self.feeds.items():
            if counts.only_other_agency:
                yield (
                    f"{agency}: every record is another agency's and was kept as a reject; "
                    "was the right file given?"
                )
            elif counts.read and not counts.accepted:
                yield (
                    f"{agency}: every line read was rejected, none accepted; was the right "
                    "file given?"
                )
        if self.rejected:
            yield f"{counted(self.rejected, 'rejected record')}: see `arms-sync rejects`."
        warned = sum(counts.warnings for counts in self.feeds.values())
        if warned:
            yield f"{counted(warned, 'record')} with warnings: see `arms-sync rejects --warnings`."

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form of the summary: every field, the date in ISO form."""
        return {**asdict(self), "as_of": self.as_of.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """The summary `as_dict` gave (a stored run's); fields added since take their
        defaults, keys of other kinds of run (a manual act's) are left out. A summary
        stored before review items had a count of their own has them among its open
        flags: they are parted again."""
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["as_of"] = date.fromisoformat(data["as_of"])
        values["feeds"] = {
            agency: IngestCounts.from_dict(counts)
            for agency, counts in data.get("feeds", {}).items()
        }
        if "review_items" not in data:
            values["open_flags"], values["review_items"] = split_review_items(
                data.get("open_flags", {})
            )
        return cls(**values)


def _feed_lines(agency: str, counts: IngestCounts) -> Iterator[str]:
    """A feed's summary lines: what was read of it, then any unknown fields it ignored."""
    yield (
        f"{agency}: read {counted(counts.read, 'record')}, accepted {counts.accepted}, "
        f"rejected {counts.rejected}, with warnings {counts.warnings}"
    )
    ignored = ignored_fields_line(counts)
    if ignored is not None:
        yield f"{agency}: {ignored}"


def _provisional_line(agencies: list[str]) -> str:
    """That the pass decided before some feed was ever read to its end, and what follows."""
    feeds = " and ".join(agencies)
    return (
        f"provisional: the {feeds} feed{'s' if len(agencies) > 1 else ''} "
        f"{'have' if len(agencies) > 1 else 'has'} never been read to the end, so these "
        "decisions may change once read whole; the notices queued say so"
    )


def _link_reviews_line(pairs: int) -> str:
    """How many pairs of records wait for a person to link or keep apart, and where."""
    if not pairs:
        return "link reviews: none"
    return (
        f"link reviews: {counted(pairs, 'pair')} of records to link or keep apart "
        "(`arms-sync reconcile list --kind link-review`)"
    )


def ignored_fields_line(counts: IngestCounts) -> str | None:
    """What a feed's accepted lines carried that feed-v1 ignores, or None when nothing:
    each shown field name with the lines it was in, then how many fields had other
    names (their names are never shown; `sync.feeds.jsonl.shown_field_name`)."""
    parts = [
        f"{name} ({counted(lines, 'line')})"
        for name, lines in sorted(counts.unknown_fields.items())
    ]
    if counts.unknown_other:
        other = (
            "field with another name" if counts.unknown_other == 1 else "fields with other names"
        )
        parts.append(f"{counts.unknown_other} {other}")
    return f"unknown fields ignored: {', '.join(parts)}" if parts else None


def _about_gateway(agency: str, sentence: str) -> str:
    """A sentence about a gateway as a summary line, naming the gateway once."""
    if sentence.lower().startswith(f"the {agency} gateway "):
        return sentence[0].upper() + sentence[1:]
    return f"{agency} gateway: {sentence}"


def run_cycle(
    app: App,
    sources: Mapping[str, FeedSource],
    as_of: date,
    progress: Callable[[str], None] | None = None,
) -> RunSummary:
    """Ingest every source, then decide and store; the run is recorded in the ledger.

    `progress`, when given, is told each stage as it starts, in a few words
    naming no record (a terminal's status line).
    """
    require_agency_keys(app)  # before the ledger is opened: a refused run leaves none behind
    require_policy_as_recorded(app)  # before anything is read
    processes = app.settings.validation_processes
    with (
        paused_garbage_collection(),
        validating_in_processes(default_processes() if processes is None else processes),
    ):
        return _run_cycle(app, sources, as_of, progress or _quiet)


def _quiet(_stage: str) -> None:
    """Progress nobody watches."""


def _run_cycle(
    app: App, sources: Mapping[str, FeedSource], as_of: date, progress: Callable[[str], None]
) -> RunSummary:
    ledger = app.ledger
    with ledger.in_process_run(as_of, app.clock) as run_id:
        summary = RunSummary(
            run_id=run_id,
            as_of=as_of,
            window_days=app.settings.window_days,
            policy=policy_in_force(app.policy),
        )
        _ingest_feeds(app, sources, run_id, as_of, summary, progress)
        summary.changed = ledger.count_applied(run_id)
        status = RUN_PARTIAL if summary.feed_errors else RUN_SUCCEEDED
        read_now = summary.feeds.keys() - summary.feed_errors.keys()

        def finish(conn: Connection, decisions: Decisions, batches: int) -> None:
            summarise_decisions(summary, decisions)
            summary.provisional = feeds_never_read_whole(conn, read_now)
            summary.notice_batches = batches
            note_notices_held_for_keys(app, summary)
            ledger.finish_run(run_id, status, summary.as_dict(), app.clock(), conn)

        progress("Linking records, deciding ownership and flags, storing the decisions")
        decide_and_store(app, as_of, run_id, finish, read_now=read_now)
    return summary


def _ingest_feeds(
    app: App,
    sources: Mapping[str, FeedSource],
    run_id: int,
    as_of: date,
    summary: RunSummary,
    progress: Callable[[str], None],
) -> None:
    """Ingest each feed in turn into the summary's counts.

    A feed file holding only the other agency's records is held back (rolled
    back) while every feed before it was held back too. When every feed is
    such a file, they were given the wrong way round: the run is refused and
    nothing of them is kept. Otherwise each held-back file is read again and
    its lines kept as rejects, as `feed-v1.md` asks of any bad line; the
    summary says the whole feed was the other agency's.
    """
    held_back: dict[str, FeedSource] = {}
    for position, (agency, source) in enumerate(sources.items()):
        progress(f"Reading the {agency} feed ({source.name})")
        try:
            _ingest_feed(app, source, agency, run_id, as_of, summary, len(held_back) == position)
        except OtherAgencysFile:
            held_back[agency] = source
    if len(held_back) > 1 and len(held_back) == len(sources):
        feeds = " and of the ".join(f"{name} feed {feed.name}" for name, feed in held_back.items())
        raise UsageError(
            f"Every record of the {feeds} is the other agency's: "
            "the feeds were given the wrong way round."
        )
    for agency, source in held_back.items():
        progress(f"Reading the {agency} feed ({source.name}) again, keeping its lines as rejects")
        _ingest_feed(app, source, agency, run_id, as_of, summary, hold_back=False)
    summary.feeds = {agency: summary.feeds[agency] for agency in sources if agency in summary.feeds}


def _ingest_feed(
    app: App,
    source: FeedSource,
    agency: str,
    run_id: int,
    as_of: date,
    summary: RunSummary,
    hold_back: bool,
) -> None:
    """Ingest one feed into the summary: its counts, or a gateway's error."""
    counts = IngestCounts()
    failed = ingest_live(app, source, agency, run_id, as_of, counts, hold_back=hold_back)
    if failed is not None:
        summary.feed_errors[agency] = feed_error(failed)
    if counts.units or agency not in summary.feed_errors:
        summary.feeds[agency] = counts  # a failed gateway's pages read before it


def ingest_live(
    app: App,
    source: FeedSource,
    agency: str,
    run_id: int,
    as_of: date,
    counts: IngestCounts,
    fence: Callable[[Connection], None] | None = None,
    hold_back: bool = False,
) -> Exception | None:
    """Ingest one source into `counts`; a live source's failure is returned, not raised.

    One failing gateway never holds back the other agency's work: the pages
    read before it stay applied (and counted). A file's failure is raised.
    `hold_back`: see `sync.ingest.ingest` (`hold_back_other_agencys_file`).
    """
    try:
        ingest(
            app.ledger,
            source,
            agency,
            run_id,
            app.today(),
            app.clock(),
            as_of,
            fence,
            counts,
            hold_back_other_agencys_file=hold_back,
        )
    except LIVE_SOURCE_ERRORS as error:
        if not source.live:
            raise
        return error
    return None


def note_notices_held_for_keys(app: App, summary: RunSummary) -> None:
    """Say, for each agency whose batches cannot be sealed now, that nothing is sent to it
    and why (`sync.ledger.outbox.why_unsealable`): the batches this run queued wait
    unsealed, those sealed before the keys went wait as they are."""
    keys = app.outbox_keys
    if keys is None:
        return
    for agency in Agency:
        if not keys.keyring.holds_keys_of(Party(agency.value)):
            continue  # a pass with notices to it has been refused already
        lacking = why_unsealable(agency.value, keys.keyring)
        if lacking is not None:
            summary.delivery_notes[agency.value] = f"{NOTICES_HELD_FOR_KEYS} {lacking}"


def policy_in_force(policy: PolicySettings) -> dict[str, Any]:
    """What a run records of the policy it decided under: each version's id and effective
    date, and the training dates (a change of them re-decides every date; see
    `docs/decisions.md`), so a stored decision can be told which made it."""
    return {
        "versions": [
            {
                "id": version.id,
                "effective_from": _iso(version.effective_from),
                "digest": version_digest(version),
            }
            for version in policy.policies
        ],
        "default_training_date": policy.default_training_date.isoformat(),
        "training_dates": {
            area: day.isoformat() for area, day in sorted(policy.training_dates.items())
        },
    }


def require_policy_as_recorded(app: App) -> None:
    """Refuse a policy version edited under an id the latest run recorded with other content
    (it would relabel past decisions); the one sentence says what to do."""
    require_same_versions(app.policy.policies, app.ledger.recorded_policy_versions())


def require_agency_keys(app: App) -> None:
    """Refuse, before any feed is read, a key ring holding the keys of neither agency (a
    hub's keys alone): no notice could ever be sealed, and the pass would be refused
    after both feeds were stored, naming one agency at a time. The one sentence names
    both. A ring holding one agency's keys is taken: a deployment may bring the agencies
    in one at a time, and a pass with notices to the other is refused then
    (`sync.ledger.outbox.can_seal_to`)."""
    keyring = app.keyring
    if keyring is None:
        return
    missing = [Party(a.value) for a in Agency if not keyring.holds_keys_of(Party(a.value))]
    if len(missing) == len(Agency):
        raise KeyError_(no_keys_sentence(missing))


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def feed_error(error: Exception) -> str:
    """How a live source's failure is told in a run's summary: its one-sentence message.

    The project's errors name the agency, endpoint, status and error code, never
    records or their content.
    """
    return str(error)


def decision_inputs(app: App, as_of: date) -> DecisionInputs:
    """Everything a decision pass needs from the ledger besides the records.

    A policy version edited under an id already used is refused here, before
    any pass (`require_policy_as_recorded`).
    """
    require_policy_as_recorded(app)
    ledger = app.ledger
    with ledger.engine.connect() as conn:
        link_acts = load_link_acts(conn)
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
        link_acts=link_acts,
    )


def compute_decisions(app: App, inputs: DecisionInputs) -> Decisions:
    """A decision pass over the ledger's current records, stored nowhere."""
    state = feed_state(app.ledger.iter_current_records())
    return decide(state, inputs, app.mint_subject_id, app.linker)


def compute_decisions_around_act(
    app: App, current: DecisionInputs, changed: DecisionInputs
) -> tuple[Decisions, Decisions]:
    """The passes without and with an act (previews), the records read once, stored nowhere.

    The cyclic garbage collector is paused meanwhile: the passes build millions
    of objects on a national ledger and free none of them in cycles, so its
    full collections would only walk them again and again.
    """
    with paused_garbage_collection():
        state = feed_state(app.ledger.iter_current_records())
        return decide_around_act(state, current, changed, app.mint_subject_id, app.linker)


@dataclass(frozen=True, slots=True)
class CheckedPass:
    """A decision pass computed before it is stored, and the check that the ledger still fits it.

    `notices` are the pass's notices when they were worked out elsewhere (a
    distributed cycle's decide tasks), else None: the pass's own.
    """

    decisions: Decisions
    fits: Callable[[Connection], bool]
    notices: Iterable[Notice] | None = None


def fresh_pass(app: App, as_of: date) -> CheckedPass:
    """A pass over the ledger now, checked against the ledger's mark read before its inputs."""
    mark = mark_now(app.ledger.engine)
    decisions = compute_decisions(app, decision_inputs(app, as_of))
    return CheckedPass(decisions, unchanged_since(mark))


def decide_and_store(
    app: App,
    as_of: date,
    run_id: int,
    finish: PassFinish | None = None,
    first: CheckedPass | None = None,
    read_now: Collection[str] = (),
) -> tuple[Decisions, int]:
    """Store a decision pass that fits the ledger when it is stored; return it and its batches.

    The pass is `first` (computed earlier: an act's preview, a distributed
    cycle's staged pass), else a fresh one. It is stored only if its check
    holds under the decision-store lock; otherwise nothing is stored and a
    fresh pass is made. The last of `STALE_PASS_RETRIES` retries is computed
    and stored while holding the lock. `finish` runs in the storing
    transaction with the pass stored and its notice batches (a run records
    its outcome there, so a pass is never stored without its run finished).
    Its notices name the agencies whose feed has never been read to its end,
    counting the run's own whole reads (`read_now`, not recorded yet) as read.
    """
    awaiting = partial(feeds_never_read_whole, read_now=read_now)
    with paused_garbage_collection():
        candidate = first
        for retry in range(STALE_PASS_RETRIES):
            if candidate is None:
                candidate = fresh_pass(app, as_of)
            try:
                return _store_checked(app, run_id, candidate, finish, awaiting)
            except StalePass:
                _log_stale(run_id, retry + 1)
                candidate = None
        return decide_under_lock(
            app.ledger,
            lambda: _decide_now(app, as_of),
            run_id,
            app.clock,
            app.outbox_keys,
            finish,
            awaiting,
        )


def _decide_now(app: App, as_of: date) -> Decisions:
    """A pass over the ledger now (the caller holds the decision-store lock)."""
    return compute_decisions(app, decision_inputs(app, as_of))


def _store_checked(
    app: App,
    run_id: int,
    candidate: CheckedPass,
    finish: PassFinish | None,
    awaiting: Awaiting,
) -> tuple[Decisions, int]:
    """Store a pass if its check holds under the lock, else raise `StalePass`."""
    decisions = candidate.decisions

    def finished(conn: Connection, batches: int) -> None:
        if finish is not None:
            finish(conn, decisions, batches)

    batches = store_decisions(
        app.ledger,
        decisions,
        run_id,
        app.clock(),
        app.outbox_keys,
        finished,
        notices=candidate.notices,
        check=candidate.fits,
        awaiting=awaiting,
    )
    return decisions, batches


def _log_stale(run_id: int, retry: int) -> None:
    """Say that a run's pass was not stored because the ledger changed (ids only)."""
    last = retry == STALE_PASS_RETRIES
    log.info(
        "run %d: the ledger changed while its decision pass was computed; deciding again%s "
        "(retry %d of %d)",
        run_id,
        " under the decision-store lock" if last else "",
        retry,
        STALE_PASS_RETRIES,
    )


def load_active_overrides(app: App) -> dict[str, list[Override]]:
    """Manual ownership overrides not revoked, by subject, each numbered in the order made
    and with the records it was made on."""
    table = schema.overrides
    result: dict[str, list[Override]] = {}
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.id, table.c.subject_id, table.c.owner, table.c.start, table.c.end)
            .where(table.c.revoked_at.is_(None))
            .order_by(table.c.created_at, table.c.id)
        ).all()
        made_on = records_of_overrides(conn)  # operators' acts: few
        for made, (override_id, subject_id, owner, start, end) in enumerate(rows):
            records = made_on.get(override_id, ())
            result.setdefault(subject_id, []).append(
                Override(override_id, Owner(owner), start, end, made, records)
            )
    return result


def summarise_decisions(summary: RunSummary, decisions: Decisions) -> None:
    """Fill in the summary's subjects, orphans, owners today, open flags, review items
    and link reviews from a pass."""
    summary.subjects = len(decisions.subjects)
    summary.orphans = len(decisions.orphans)
    summary.link_reviews = len(decisions.reviews)
    owners: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    for decision in decisions.subjects:
        for segment in decision.timeline:
            if segment.covers(summary.as_of):
                owners[str(segment.owner)] += 1
        flags.update(str(flag.kind) for flag in decision.flags)
    summary.owners_today = dict(sorted(owners.items()))
    summary.open_flags, summary.review_items = split_review_items(dict(sorted(flags.items())))


def split_review_items(counts: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Counts per kind, parted into the flags' and the review items' (`REVIEW_KINDS`)."""
    flags = {kind: n for kind, n in counts.items() if kind not in REVIEW_KINDS}
    items = {kind: n for kind, n in counts.items() if kind in REVIEW_KINDS}
    return flags, items


def deliver_to_gateways(app: App, sources: Mapping[str, FeedSource], summary: RunSummary) -> None:
    """Deliver each agency's outbox through its gateway, independently of the other."""
    from sync.gateway_source import GatewaySource

    for agency, source in sources.items():
        if isinstance(source, GatewaySource):
            _deliver_to_gateway(app, agency, source.client, summary)


def _deliver_to_gateway(app: App, agency: str, client: NoticeClient, summary: RunSummary) -> None:
    """One delivery pass to an agency, unless another process is delivering to it.

    A gateway that did not take every batch is the agency's delivery error: the
    failure's sentence, why its batches could not be sealed (no active key
    of the agency), or that notices still wait (a `Retry-After` to honour);
    the batches stay in the outbox.
    """
    from sync.delivery import deliver_when_free

    try:
        delivery = deliver_when_free(app, agency, client, ignore_schedule=True)
    except ArmsSyncError as error:
        summary.delivery_errors[agency] = str(error)
        return
    if delivery is None:
        summary.delivery_notes[agency] = DELIVERING_ELSEWHERE
        return
    summary.delivered[agency] = asdict(delivery.counts)
    waiting = delivery.why_waiting
    if waiting is not None:
        summary.delivery_errors[agency] = waiting
