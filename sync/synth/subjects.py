"""One synthetic subject: its records in both agency feeds, and its truth line.

`SubjectFactory.make` draws a case, invents the person behind it, writes each
agency's person records (with duplicates, merges and noise), the periods and
assessments that point at them, stale versions and deletions, and the truth:
every person record of the real person, its kind, notable events and the
noise applied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import count

from sync.core.records import Agency, AssessmentStatus
from sync.synth import noise as n
from sync.synth.cases import POLICE_ONLY, PROBATION_ONLY, Case, pick_case
from sync.synth.histories import Event, SupervisionPlan
from sync.synth.noise import RECORD_NOISE
from sync.synth.options import (
    COMMON_NAME_RATE,
    NICKNAME_RATE,
    RECORD_NOISE_RATES,
    TWIN_RATE,
    NoiseKind,
    SynthOptions,
)
from sync.synth.people import (
    MIN_TWIN_AGE_DAYS,
    Identity,
    make_identity,
    make_twin,
    person_record,
    pick_force,
)
from sync.synth.randomness import SynthRandom
from sync.synth.references import make_crn, make_noms, make_police_ref
from sync.synth.versions import (
    POLICE,
    PROBATION,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    STATUS_TEXT,
    Entry,
    agency_text,
    format_stamp,
    iso_or_none,
    stale_copy,
    tombstone,
)

WORKDAY_SECONDS = (7 * SECONDS_PER_HOUR, 19 * SECONDS_PER_HOUR)
_WORKDAY_LENGTH = WORKDAY_SECONDS[1] - WORKDAY_SECONDS[0]
UPDATE_LAG_DAYS = 60
STALE_RATE = 0.02
DELETED_ASSESSMENT_RATE = 0.01
MERGE_AFTER_SECONDS = (60, SECONDS_PER_HOUR)
LATE_PERSON_RATE = 0.03
DUPLICATE_PERSON_RATES: Mapping[Agency, float] = {Agency.PROBATION: 0.015, Agency.POLICE: 0.003}
MERGE_RATES: Mapping[Agency, float] = {Agency.PROBATION: 0.01, Agency.POLICE: 0.005}
MOVED_AREA_RATE = 0.3
NOMS_RATE = 0.8
IN_PROGRESS_WINDOW_DAYS = 60
IN_PROGRESS_RATE = 0.5
CANCELLED_RATE = 0.03
ASSESSMENT_DAYS = (0, 30)
TWIN_CASE_TRIES = 10

ID_PREFIXES: Mapping[tuple[str, str], str] = {
    (PROBATION, "supervision"): "SUP",
    (PROBATION, "custody"): "CUS",
    (PROBATION, "assessment"): "PAS",
    (PROBATION, "merge"): "PMG",
    (POLICE, "registration"): "REG",
    (POLICE, "assessment"): "RAS",
    (POLICE, "merge"): "RMG",
}


@dataclass(frozen=True, slots=True)
class Subject:
    """A true person's truth line and feed records, in the order they arrive."""

    truth: dict[str, object]
    records: list[tuple[Agency, dict[str, object]]]


@dataclass(slots=True)
class _Draft:
    """A subject under construction."""

    index: int
    case: Case
    identity: Identity
    persons: list[Entry] = field(default_factory=list)
    others: list[Entry] = field(default_factory=list)
    later: list[Entry] = field(default_factory=list)
    main: dict[Agency, str] = field(default_factory=dict)
    extra: dict[Agency, str] = field(default_factory=dict)
    merged: set[Agency] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    noise: set[str] = field(default_factory=set)
    twin_of: str | None = None


def truth_id(index: int) -> str:
    """The truth id of the subject with this index."""
    return f"T{index:07d}"


class SubjectFactory:
    """Makes subjects one after another from a single seeded generator."""

    def __init__(self, options: SynthOptions) -> None:
        self._rng = SynthRandom(options.seed)
        self._today = options.today.toordinal()
        self._noise = options.noise
        self._counts: defaultdict[str, Iterator[int]] = defaultdict(count)
        self._record_noise = [
            (kind, RECORD_NOISE[kind], rate * self._noise)
            for kind, rate in RECORD_NOISE_RATES.items()
        ]
        self._twin_of: tuple[Identity, int] | None = None

    def make(self, index: int) -> Subject:
        """The subject with this index (indexes must come in order from 0)."""
        draft = self._draft(index)
        self._add_persons(draft)
        self._add_history(draft)
        self._add_merges(draft)
        self._apply_record_noise(draft)
        self._add_stale_and_deleted(draft)
        return self._finish(draft)

    def _noisy(self, rate: float) -> bool:
        return self._noise > 0 and self._rng.random() < rate * self._noise

    def _next(self, name: str) -> int:
        return next(self._counts[name])

    def _stamp(self, day: int) -> int:
        today = self._today
        first = day if day < today else today
        last = first + UPDATE_LAG_DAYS
        span = self._rng.random() * ((last if last < today else today) - first + 1)
        whole = int(span)
        seconds = WORKDAY_SECONDS[0] + int((span - whole) * _WORKDAY_LENGTH)
        return (first + whole) * SECONDS_PER_DAY + seconds

    # Identity -------------------------------------------------------------

    def _draft(self, index: int) -> _Draft:
        sibling, self._twin_of = self._twin_of, None
        if sibling is not None:
            draft = self._twin_draft(index, *sibling)
            if draft is not None:
                return draft
        case = pick_case(self._rng, self._today)
        common = self._noisy(COMMON_NAME_RATE)
        formal = self._noisy(NICKNAME_RATE)
        identity, turns_18 = make_identity(
            self._rng,
            index,
            case.history,
            police_held=case.kind != PROBATION_ONLY,
            formal=formal,
            common=common,
        )
        draft = _Draft(index, case, identity, events=set(case.history.events))
        if turns_18:
            draft.events.add(Event.TURNS_18)
        if common:
            draft.noise.add(NoiseKind.COMMON_NAME)
        if formal:
            draft.noise.add(NoiseKind.NICKNAME)
        if self._noisy(TWIN_RATE):
            self._twin_of = (identity, index)
        return draft

    def _twin_draft(self, index: int, sibling: Identity, sibling_index: int) -> _Draft | None:
        for _ in range(TWIN_CASE_TRIES):
            case = pick_case(self._rng, self._today)
            if case.history.earliest >= sibling.born + MIN_TWIN_AGE_DAYS:
                twin = make_twin(
                    self._rng, index, sibling, case.history, police_held=case.kind != PROBATION_ONLY
                )
                if twin is not None:
                    draft = _Draft(index, case, twin, events=set(case.history.events))
                    draft.noise.add(NoiseKind.TWIN)
                    draft.twin_of = truth_id(sibling_index)
                    return draft
        return None

    # Person records -------------------------------------------------------

    def _new_person_id(self, agency: Agency, identity: Identity) -> str:
        if agency is Agency.PROBATION:
            return make_crn(self._next("crn"))
        return make_police_ref(self._next("police_ref"), identity.police_area)

    def _person_entry(self, draft: _Draft, agency: Agency, identity: Identity) -> Entry:
        person_id = self._new_person_id(agency, identity)
        noms = None
        if (
            agency is Agency.PROBATION
            and draft.case.history.custodies
            and self._rng.random() < NOMS_RATE
        ):
            noms = make_noms(draft.index)
        record = person_record(self._rng, agency, person_id, identity, noms)
        day = self._rng.randint(min(draft.case.history.earliest, self._today), self._today)
        return Entry(agency, record, self._stamp(day))

    def _add_persons(self, draft: _Draft) -> None:
        agencies = []
        if draft.case.kind != POLICE_ONLY:
            agencies.append(Agency.PROBATION)
        if draft.case.kind != PROBATION_ONLY:
            agencies.append(Agency.POLICE)
        for agency in agencies:
            entry = self._person_entry(draft, agency, draft.identity)
            draft.persons.append(entry)
            draft.main[agency] = str(entry.record["id"])
            self._maybe_second_record(draft, agency)

    def _maybe_second_record(self, draft: _Draft, agency: Agency) -> None:
        draw = self._rng.random()
        duplicate = draw < DUPLICATE_PERSON_RATES[agency]
        merged = not duplicate and draw < DUPLICATE_PERSON_RATES[agency] + MERGE_RATES[agency]
        if not (duplicate or merged):
            return
        identity = draft.identity
        if self._rng.random() < MOVED_AREA_RATE:
            identity = replace(identity, force=pick_force(self._rng))
        entry = self._person_entry(draft, agency, identity)
        draft.persons.append(entry)
        draft.extra[agency] = str(entry.record["id"])
        draft.events.add(Event.DUPLICATE_PERSON_RECORD if duplicate else Event.MERGE)
        if merged:
            draft.merged.add(agency)

    # Periods and assessments ------------------------------------------------

    def _record(
        self,
        draft: _Draft,
        agency: Agency,
        kind: str,
        *,
        person_id: str,
        fields: dict[str, object],
        day: int,
    ) -> None:
        text = agency_text(agency)
        prefix = ID_PREFIXES[text, kind]
        record: dict[str, object] = {
            "type": kind,
            "agency": text,
            "id": f"{prefix}{self._next(prefix):08d}",
            "person_id": person_id,
            **fields,
        }
        draft.others.append(Entry(agency, record, self._stamp(day)))

    def _owner_of_moved(self, draft: _Draft, agency: Agency, position: int, total: int) -> str:
        """The person id a record points at: the second record takes an early one."""
        extra = draft.extra.get(agency)
        merged = agency in draft.merged
        if extra is not None and position == 0 and (total > 1 or merged):
            return extra
        return draft.main[agency]

    def _add_history(self, draft: _Draft) -> None:
        history = draft.case.history
        if Agency.PROBATION in draft.main:
            for plan in history.supervisions:
                self._add_supervision(draft, plan)
            for start, end in history.custodies:
                fields: dict[str, object] = {"start": iso_or_none(start), "end": iso_or_none(end)}
                self._record(
                    draft,
                    Agency.PROBATION,
                    "custody",
                    person_id=draft.main[Agency.PROBATION],
                    fields=fields,
                    day=start if end is None else end,
                )
            self._add_assessments(draft, Agency.PROBATION, history.probation_assessments)
        if Agency.POLICE in draft.main:
            for start, end in history.registrations:
                fields = {"start": iso_or_none(start), "end": iso_or_none(end)}
                self._record(
                    draft,
                    Agency.POLICE,
                    "registration",
                    person_id=draft.main[Agency.POLICE],
                    fields=fields,
                    day=start,
                )
            self._add_assessments(draft, Agency.POLICE, history.police_assessments)

    def _add_supervision(self, draft: _Draft, plan: SupervisionPlan) -> None:
        fields: dict[str, object] = {
            "kind": str(plan.kind),
            "offence": str(plan.offence),
            "start": iso_or_none(plan.start),
            "end": iso_or_none(plan.end),
            "terminated_on": iso_or_none(plan.terminated_on),
        }
        day = plan.terminated_on if plan.terminated_on is not None else plan.start
        self._record(
            draft,
            Agency.PROBATION,
            "supervision",
            person_id=draft.main[Agency.PROBATION],
            fields=fields,
            day=day,
        )

    def _add_assessments(self, draft: _Draft, agency: Agency, days: list[int]) -> None:
        ordered = sorted(days)
        for position, day in enumerate(ordered):
            latest = position == len(ordered) - 1
            fields = self._assessment_fields(draft, day, latest)
            person_id = self._owner_of_moved(draft, agency, position, len(ordered))
            self._record(draft, agency, "assessment", person_id=person_id, fields=fields, day=day)

    def _assessment_fields(self, draft: _Draft, day: int, latest: bool) -> dict[str, object]:
        recent = day > self._today - IN_PROGRESS_WINDOW_DAYS
        if latest and recent and self._rng.random() < IN_PROGRESS_RATE:
            draft.events.add(Event.IN_PROGRESS_ASSESSMENT)
            status, started, completed = AssessmentStatus.IN_PROGRESS, day, None
        elif self._rng.random() < CANCELLED_RATE:
            draft.events.add(Event.CANCELLED_ASSESSMENT)
            status, started, completed = AssessmentStatus.CANCELLED, day, None
        else:
            status = AssessmentStatus.COMPLETED
            started, completed = day - self._rng.randint(*ASSESSMENT_DAYS), day
        return {
            "started_on": iso_or_none(started),
            "completed_on": iso_or_none(completed),
            "status": STATUS_TEXT[status],
        }

    def _add_merges(self, draft: _Draft) -> None:
        if not draft.merged:
            return
        latest = max(entry.stamp for entry in draft.persons)
        for agency in sorted(draft.merged):
            source = draft.extra[agency]
            prefix = ID_PREFIXES[agency_text(agency), "merge"]
            record: dict[str, object] = {
                "type": "merge",
                "agency": agency_text(agency),
                "id": f"{prefix}{self._next(prefix):08d}",
                "source_person_id": source,
                "target_person_id": draft.main[agency],
            }
            stamp = latest + self._rng.randint(*MERGE_AFTER_SECONDS)
            draft.others.append(Entry(agency, record, stamp))

    # Noise, stale versions, deletions ---------------------------------------

    def _apply_record_noise(self, draft: _Draft) -> None:
        if self._noise <= 0:
            return
        followers = draft.persons[1:]
        if not followers or (
            NoiseKind.NICKNAME in draft.noise and not n.use_nickname(followers[0].record, self._rng)
        ):
            draft.noise.discard(NoiseKind.NICKNAME)
        for entry in followers:
            for kind, apply, rate in self._record_noise:
                if self._rng.random() < rate and apply(entry.record, self._rng):
                    draft.noise.add(kind)

    def _add_stale_and_deleted(self, draft: _Draft) -> None:
        for entry in (*draft.persons, *draft.others):
            kind = entry.record["type"]
            if kind != "merge" and self._rng.random() < STALE_RATE:
                draft.later.append(stale_copy(entry, self._rng))
                draft.events.add(Event.STALE_VERSION)
            if kind == "assessment" and self._rng.random() < DELETED_ASSESSMENT_RATE:
                draft.later.append(tombstone(entry, self._rng))
                draft.events.add(Event.DELETED_RECORD)

    # Output -------------------------------------------------------------------

    def _finish(self, draft: _Draft) -> Subject:
        ordered = [*draft.persons, *draft.others, *draft.later]
        if draft.others and self._rng.random() < LATE_PERSON_RATE:
            ordered.insert(len(draft.persons), ordered.pop(0))
            draft.events.add(Event.LATE_PERSON)
        records = []
        for entry in ordered:
            entry.record["updated_at"] = format_stamp(entry.stamp)
            records.append((entry.agency, entry.record))
        return Subject(self._truth(draft), records)

    def _truth(self, draft: _Draft) -> dict[str, object]:
        truth: dict[str, object] = {
            "truth_id": truth_id(draft.index),
            "kind": draft.case.kind,
            "scenario": draft.case.scenario,
            "records": [
                {"agency": agency_text(entry.agency), "person_id": entry.record["id"]}
                for entry in draft.persons
            ],
            "events": sorted(draft.events),
            "noise": sorted(draft.noise),
        }
        if draft.twin_of is not None:
            truth["twin_of"] = draft.twin_of
        return truth
