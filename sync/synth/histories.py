"""Case histories for synthetic people: supervisions, custody, registrations, ARMS.

All dates are proleptic ordinals (`date.toordinal()`) for speed. A history is
built relative to `today` and never holds an event after it, except planned
supervision ends and known registration ends, which may lie in the future.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.core.records import Offence, SupervisionKind
from sync.synth.randomness import SynthRandom

YEAR = 365
MAX_ASSESSMENTS_PER_RUN = 3
FIRST_ASSESSMENT_DAYS = (14, 120)
REASSESSMENT_DAYS = (330, 730)
POLICE_ONLY_REGISTRATION_DAYS = (30, 20 * YEAR)
INDEFINITE_REGISTRATION_RATE = 0.6
FIXED_REGISTRATION_DAYS = (5 * YEAR, 15 * YEAR)
RELEASE_DAYS_AGO = (30, 8 * YEAR)
CUSTODY_DAYS = (90, 4 * YEAR)
LICENCE_DAYS = (YEAR, 5 * YEAR)
ORDER_DAYS = (YEAR, 3 * YEAR)
ORDER_START_DAYS_AGO = (30, 4 * YEAR)
PSS_DAYS = YEAR
LIFE_LICENCE_RATE = 0.02
EARLY_TERMINATION_RATE = 0.08
EARLY_TERMINATION_MIN_DAYS = 60
RECALL_RATE = 0.10
RECALL_AFTER_DAYS = 30
RECALL_DAYS = (14, 300)
CONVICTION_BEFORE_ORDER_DAYS = (0, 60)
SUPERVISED_AFTER_REGISTRATION_DAYS = (30, 3 * YEAR)
REGISTERED_BEFORE_DAYS = (3 * YEAR, 20 * YEAR)
REMAND_BEFORE_LICENCE_DAYS = (60, 700)
DUPLICATE_ASSESSMENT_RATE = 0.2
DUPLICATE_GAP_DAYS = 150
SEXUAL_ELEMENT_ASSESSED_RATE = 0.6

LICENCE_KINDS = frozenset({SupervisionKind.LICENCE, SupervisionKind.POST_SENTENCE_SUPERVISION})


class Event:
    """The names of notable facts written to `truth.jsonl` under `events`."""

    HANDOVER = "handover"
    DUPLICATE_ASSESSMENT = "duplicate_assessment"
    POLICE_ASSESS_WHILE_SUPERVISED = "police_assess_while_supervised"
    RECALL = "recall"
    EARLY_TERMINATION = "early_termination"
    LIFE_LICENCE = "life_licence"
    TURNS_18 = "turns_18"
    DUPLICATE_PERSON_RECORD = "duplicate_person_record"
    MERGE = "merge"
    STALE_VERSION = "stale_version"
    DELETED_RECORD = "deleted_record"
    LATE_PERSON = "late_person"
    IN_PROGRESS_ASSESSMENT = "in_progress_assessment"
    CANCELLED_ASSESSMENT = "cancelled_assessment"


@dataclass(frozen=True, slots=True)
class SupervisionPlan:
    """One supervision; `last_day` is the termination date, else the planned end."""

    kind: SupervisionKind
    offence: Offence
    start: int
    end: int | None
    terminated_on: int | None

    @property
    def last_day(self) -> int | None:
        """The actual last day, or `None` for a life licence still running."""
        return self.terminated_on if self.terminated_on is not None else self.end


@dataclass(slots=True)
class History:
    """Everything that happened to one person, in ordinals."""

    supervisions: list[SupervisionPlan] = field(default_factory=list)
    custodies: list[tuple[int, int | None]] = field(default_factory=list)
    registrations: list[tuple[int, int | None]] = field(default_factory=list)
    probation_assessments: list[int] = field(default_factory=list)
    police_assessments: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    first_day: int | None = None

    @property
    def earliest(self) -> int:
        """The first dated fact (the person must be old enough by then).

        Read it only once the history is complete: the answer is kept.
        """
        if self.first_day is None:
            starts = [plan.start for plan in self.supervisions]
            starts += [start for start, _ in self.custodies]
            starts += [start for start, _ in self.registrations]
            self.first_day = min(starts)
        return self.first_day


def schedule_assessments(rng: SynthRandom, start: int, stop: int | None, today: int) -> list[int]:
    """Roughly yearly ARMS dates while an agency owns the case (the latest few)."""
    last = today if stop is None else min(stop, today)
    dates: list[int] = []
    day = start + rng.randint(*FIRST_ASSESSMENT_DAYS)
    while day <= last:
        dates.append(day)
        day += rng.randint(*REASSESSMENT_DAYS)
    return dates[-MAX_ASSESSMENTS_PER_RUN:]


def registration_end(rng: SynthRandom, start: int) -> int | None:
    """A registration's end: indefinite (`None`) or a fixed term from `start`."""
    if rng.random() < INDEFINITE_REGISTRATION_RATE:
        return None
    return start + rng.randint(*FIXED_REGISTRATION_DAYS)


def police_only(rng: SynthRandom, today: int) -> History:
    """A registered sex offender whom probation does not (or no longer) supervise."""
    history = History()
    start = today - rng.randint(*POLICE_ONLY_REGISTRATION_DAYS)
    end = registration_end(rng, start)
    history.registrations.append((start, end))
    history.police_assessments = schedule_assessments(rng, start, end, today)
    return history


def _early_termination(rng: SynthRandom, start: int, end: int, today: int) -> int | None:
    latest = min(end, today) - 1
    if latest - start < EARLY_TERMINATION_MIN_DAYS or rng.random() >= EARLY_TERMINATION_RATE:
        return None
    return rng.randint(start + EARLY_TERMINATION_MIN_DAYS, latest)


def _licence(
    rng: SynthRandom,
    history: History,
    kind: SupervisionKind,
    offence: Offence,
    release: int,
    *,
    today: int,
) -> SupervisionPlan:
    length = (
        PSS_DAYS
        if kind is SupervisionKind.POST_SENTENCE_SUPERVISION
        else rng.randint(*LICENCE_DAYS)
    )
    end: int | None = release + length - 1
    if kind is SupervisionKind.LICENCE and rng.random() < LIFE_LICENCE_RATE:
        end = None
        history.events.append(Event.LIFE_LICENCE)
    terminated = None if end is None else _early_termination(rng, release, end, today)
    plan = SupervisionPlan(kind, offence, release, end, terminated)
    _maybe_recall(rng, history, plan, today)
    return plan


def _maybe_recall(rng: SynthRandom, history: History, plan: SupervisionPlan, today: int) -> None:
    last = today if plan.last_day is None else min(plan.last_day, today)
    if last - plan.start <= RECALL_AFTER_DAYS or rng.random() >= RECALL_RATE:
        return
    start = rng.randint(plan.start + RECALL_AFTER_DAYS, last)
    end = start + rng.randint(*RECALL_DAYS)
    history.custodies.append((start, None if end > today else end))
    history.events.append(Event.RECALL)


def add_supervision(
    rng: SynthRandom,
    history: History,
    kind: SupervisionKind,
    offence: Offence,
    start: int,
    *,
    today: int,
) -> SupervisionPlan:
    """A supervision starting on `start` (after custody for a licence)."""
    if kind in LICENCE_KINDS:
        plan = _licence(rng, history, kind, offence, start, today=today)
    else:
        end = start + rng.randint(*ORDER_DAYS) - 1
        plan = SupervisionPlan(
            kind, offence, start, end, _early_termination(rng, start, end, today)
        )
    if plan.terminated_on is not None:
        history.events.append(Event.EARLY_TERMINATION)
    history.supervisions.append(plan)
    return plan


def supervision_start(rng: SynthRandom, kind: SupervisionKind, today: int) -> int:
    """When a new supervision of this kind began (release day for a licence)."""
    if kind in LICENCE_KINDS:
        return today - rng.randint(*RELEASE_DAYS_AGO)
    return today - rng.randint(*ORDER_START_DAYS_AGO)


def probation_assessments(
    rng: SynthRandom, history: History, plan: SupervisionPlan, today: int
) -> None:
    """Probation ARMS while supervising a sexual offender."""
    if plan.offence is Offence.OTHER:
        return
    if plan.offence is Offence.SEXUAL_ELEMENT and rng.random() >= SEXUAL_ELEMENT_ASSESSED_RATE:
        return
    history.probation_assessments += schedule_assessments(rng, plan.start, plan.last_day, today)


def police_after(
    rng: SynthRandom,
    history: History,
    plan: SupervisionPlan,
    registration_end: int | None,
    today: int,
) -> None:
    """Police ARMS once supervision ends while the registration continues."""
    last = plan.last_day
    if last is None or last >= today:
        return
    if registration_end is not None and registration_end <= last:
        return
    history.police_assessments += schedule_assessments(rng, last + 1, registration_end, today)
    history.events.append(Event.HANDOVER)


def duplicate_by_police(
    rng: SynthRandom, history: History, plan: SupervisionPlan, today: int
) -> None:
    """Sometimes the police assess while probation owns, close to a probation ARMS."""
    if not history.probation_assessments or rng.random() >= DUPLICATE_ASSESSMENT_RATE:
        return
    anchor = rng.choice(history.probation_assessments)
    last = today if plan.last_day is None else min(plan.last_day, today)
    day = anchor + rng.randint(-DUPLICATE_GAP_DAYS, DUPLICATE_GAP_DAYS)
    history.police_assessments.append(max(plan.start, min(day, last)))
    history.events.append(Event.DUPLICATE_ASSESSMENT)
