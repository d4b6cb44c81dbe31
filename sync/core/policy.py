"""The ownership policy engine: who must complete ARMS for a subject, over time.

A policy version is data: an ordered tuple of `(rule_id, owner)` pairs whose
rule ids name predicates in `sync.core.rules`, plus the roll-out test's
parameters. `build_timeline` sorts once every date where a fact changes (a
period starts or ends, the 18th birthday, an override, a policy version taking
effect), decides each elementary interval between them once (a manual override
beats every rule; otherwise the first matching rule wins), and merges
neighbours that decide alike. The result is the subject's list of maximal
segments; `segment_at` finds the one covering a date by bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from sync.core.calendar import eighteenth_birthday, next_day, previous_day
from sync.core.records import (
    Agency,
    Gender,
    Offence,
    Override,
    Owner,
    Period,
    SubjectFacts,
    Supervision,
)
from sync.core.rules import (
    CATCH_ALL_RULE,
    PI_15_2015_RULES,
    PLANNED_LENGTH_MONTHS,
    ROLLOUT_OFFSET_MONTHS,
    RULE_MANUAL,
    RULE_PREDICATES,
    RULE_PROB_SEXUAL,
    DayFacts,
    RulePredicate,
    meets_rollout_test,
    supervision_order,
)

__all__ = [
    "DEFAULT_TRAINING_DATE",
    "PI_15_2015",
    "PI_15_2015_ID",
    "RULE_MANUAL",
    "PolicySettings",
    "PolicyVersion",
    "Segment",
    "adult_from",
    "build_timeline",
    "override_spans",
    "segment_at",
    "subject_date_of_birth",
    "subject_gender",
]

PI_15_2015_ID = "pi-15-2015"
DEFAULT_TRAINING_DATE = date(2016, 2, 29)
OUT_OF_SCOPE_GENDERS = frozenset({Gender.FEMALE, Gender.OTHER})
# An override naming police or probation is an operator's decision that this
# agency must complete ARMS, so it is mandatory; an override to none removes the
# duty altogether, and "no owner" is never mandatory.
MANUAL_MANDATORY_OWNERS = frozenset({Owner.POLICE, Owner.PROBATION})

CompiledRule = tuple[RulePredicate, str, Owner]
Span = tuple[date, date | None]
Decision = tuple[Owner, str, bool, str]


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One version of the policy: ordered rules and the roll-out parameters.

    `effective_from` of `None` means from the beginning of time (the first
    version). The rules are evaluated in order and the first match wins; the
    last must be the catch-all `NONE-NOT-IN-SCOPE`.
    """

    id: str
    effective_from: date | None
    rules: tuple[tuple[str, Owner], ...]
    rollout_offset_months: int = ROLLOUT_OFFSET_MONTHS
    planned_length_months: int = PLANNED_LENGTH_MONTHS
    compiled: tuple[CompiledRule, ...] = field(init=False, repr=False, compare=False)
    _matches: dict[DayFacts, tuple[str, Owner]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        unknown = [rule_id for rule_id, _owner in self.rules if rule_id not in RULE_PREDICATES]
        if unknown:
            raise ValueError(f"policy {self.id} names unknown rules: {', '.join(unknown)}")
        if not self.rules or self.rules[-1][0] != CATCH_ALL_RULE:
            raise ValueError(f"policy {self.id} must end with the rule {CATCH_ALL_RULE}")
        named = [rule_id for rule_id, _owner in self.rules]
        twice = next((rule_id for rule_id in named if named.count(rule_id) > 1), None)
        if twice is not None:
            raise ValueError(f"policy {self.id} names the rule {twice} twice")
        compiled = tuple(
            (RULE_PREDICATES[rule_id], rule_id, owner) for rule_id, owner in self.rules
        )
        object.__setattr__(self, "compiled", compiled)

    def match(self, day: DayFacts) -> tuple[str, Owner]:
        """The first rule whose predicate holds for `day`, with its owner.

        The predicates are pure functions of the few booleans in `DayFacts`, so
        each combination is evaluated once per policy version and remembered.
        """
        found = self._matches.get(day)
        if found is None:
            found = next((rule_id, owner) for pred, rule_id, owner in self.compiled if pred(day))
            self._matches[day] = found
        return found


PI_15_2015 = PolicyVersion(id=PI_15_2015_ID, effective_from=None, rules=PI_15_2015_RULES)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The policy versions in force over time and the per-area training dates.

    `policies` are in effective-date order: the first has no effective date,
    each later one a strictly later date than the one before.
    """

    policies: tuple[PolicyVersion, ...] = (PI_15_2015,)
    training_dates: Mapping[str, date] = field(default_factory=dict, hash=False)
    default_training_date: date = DEFAULT_TRAINING_DATE

    def __post_init__(self) -> None:
        by_area = {area_key(area): day for area, day in self.training_dates.items()}
        object.__setattr__(self, "training_dates", MappingProxyType(by_area))
        _check_policy_order(self.policies)

    def training_date(self, area: str | None) -> date:
        """The training date T of a probation area (the default when not configured).

        Area codes are compared without regard to case or surrounding spaces.
        """
        if area is None:
            return self.default_training_date
        return self.training_dates.get(area_key(area), self.default_training_date)


def area_key(area: str) -> str:
    """An area code as compared: `" nw "` and `"NW"` are one area."""
    return area.strip().upper()


def _check_policy_order(policies: tuple[PolicyVersion, ...]) -> None:
    """Raise `ValueError` unless the versions are in strict effective-date order."""
    if not policies or policies[0].effective_from is not None:
        raise ValueError("the first policy version must apply from the beginning of time")
    previous: date | None = None
    for version in policies[1:]:
        start = version.effective_from
        if start is None or (previous is not None and start <= previous):
            raise ValueError("later policy versions need strictly increasing effective dates")
        previous = start


@dataclass(frozen=True, slots=True)
class Segment:
    """A maximal date range with one decision; `end` is inclusive, `None` is open."""

    start: date | None
    end: date | None
    owner: Owner
    rule: str
    mandatory: bool
    policy: str

    def covers(self, d: date) -> bool:
        """Whether `d` falls in this segment."""
        return (self.start is None or self.start <= d) and (self.end is None or d <= self.end)


def subject_gender(facts: SubjectFacts) -> Gender:
    """The subject's gender: the records' common value, or male when they disagree.

    Any two different recorded values disagree, `U` included: the subject is
    then treated as male so ARMS applies (fail safe). No records: unknown.
    """
    genders = {person.gender for person in facts.persons}
    if len(genders) == 1:
        return next(iter(genders))
    return Gender.MALE if genders else Gender.UNKNOWN


def subject_date_of_birth(facts: SubjectFacts) -> date | None:
    """The earliest date of birth on the subject's records (`None` if none has one).

    Placeholder dates of birth (`identifiers.PLACEHOLDER_DATES_OF_BIRTH`) are
    still dates of birth here: they are only barred from corroborating a link,
    and being old they make the subject an adult, which keeps ARMS in scope.
    """
    known = [person.date_of_birth for person in facts.persons if person.date_of_birth]
    return min(known) if known else None


def adult_from(dob: date | None) -> date | None:
    """The first day the subject counts as an adult; `None` means always (unknown dob)."""
    if dob is None:
        return None
    try:
        return eighteenth_birthday(dob)
    except OverflowError:
        return date.max


def _is_non_empty(span: Span) -> bool:
    start, end = span
    return end is None or start <= end


def _spans(periods: Iterable[Period | Override]) -> tuple[Span, ...]:
    """The distinct non-empty inclusive spans of `periods`."""
    return tuple({(p.start, p.end) for p in periods if _is_non_empty((p.start, p.end))})


def _supervision_spans(
    supervisions: Iterable[Supervision], offence: Offence | None = None
) -> tuple[Span, ...]:
    """Spans of the supervisions (of one offence, when given)."""
    return tuple(
        (sup.start, sup.last_day)
        for sup in supervisions
        if offence is None or sup.offence is offence
    )


def _override_at(overrides: Iterable[Override], d: date) -> Override | None:
    """The override in force on `d`.

    When overrides overlap, the one that started latest wins (the more recent,
    narrower instruction); of those starting the same day, the one made last (an
    operator's correction), then the greater id, so the answer does not depend
    on the order the overrides arrive in.
    """
    covering = [o for o in overrides if o.start <= d and (o.end is None or d <= o.end)]
    if not covering:
        return None
    return max(covering, key=lambda o: (o.start, o.made, o.id, o.owner.value, o.end or date.max))


def override_spans(overrides: Iterable[Override]) -> tuple[tuple[Override, Span], ...]:
    """Each maximal span of days (end None: open) in which one override is in force, in
    date order, resolving overlaps as the timeline does."""
    found = [o for o in overrides if _is_non_empty((o.start, o.end))]
    if not found:
        return ()
    ends = {after for o in found if o.end is not None and (after := next_day(o.end))}
    edges = sorted({o.start for o in found} | ends)
    spans: list[tuple[Override, Span]] = []
    for start, after in zip(edges, [*edges[1:], None], strict=True):
        winner = _override_at(found, start)
        if winner is None:
            continue
        end = None if after is None else previous_day(after)
        if spans and spans[-1][0] == winner and spans[-1][1][1] == previous_day(start):
            spans[-1] = (winner, (spans[-1][1][0], end))
        else:
            spans.append((winner, (start, end)))
    return tuple(spans)


@dataclass(frozen=True, slots=True)
class _Subject:
    """A subject's facts prepared once for evaluating all of its intervals."""

    facts: SubjectFacts
    in_scope_gender: bool
    adult_from: date | None
    supervisions: tuple[Supervision, ...]
    supervision_spans: tuple[Span, ...]
    sexual_spans: tuple[Span, ...]
    sexual_element_spans: tuple[Span, ...]
    custodies: tuple[Span, ...]
    registrations: tuple[Span, ...]
    overrides: tuple[Override, ...]

    @classmethod
    def prepare(cls, facts: SubjectFacts) -> _Subject:
        """Distinct, non-empty periods of `facts` (duplicates and order do not matter)."""
        supervisions = sorted(
            (sup for sup in set(facts.supervisions) if _is_non_empty((sup.start, sup.last_day))),
            key=supervision_order,
        )
        return cls(
            facts=facts,
            in_scope_gender=subject_gender(facts) not in OUT_OF_SCOPE_GENDERS,
            adult_from=adult_from(subject_date_of_birth(facts)),
            supervisions=tuple(supervisions),
            supervision_spans=_supervision_spans(supervisions),
            sexual_spans=_supervision_spans(supervisions, Offence.SEXUAL),
            sexual_element_spans=_supervision_spans(supervisions, Offence.SEXUAL_ELEMENT),
            custodies=_spans(facts.custodies),
            registrations=_spans(facts.registrations),
            overrides=tuple(o for o in set(facts.overrides) if _is_non_empty((o.start, o.end))),
        )

    def boundaries(self) -> set[date]:
        """Every date on which some fact of this subject changes."""
        spans = [*self.supervision_spans, *self.custodies, *self.registrations]
        spans.extend(_spans(self.overrides))
        dates: set[date] = set()
        for start, end in spans:
            dates.add(start)
            after = next_day(end) if end is not None else None
            if after is not None:
                dates.add(after)
        if self.adult_from is not None:
            dates.add(self.adult_from)
        return dates

    def governing_supervision(self, d: date) -> int | None:
        """Position of the covering `sexual` supervision that started first (ties: id) on `d`."""
        for position, sup in enumerate(self.supervisions):  # already in start, id order
            last = sup.last_day
            covers = sup.start <= d and (last is None or d <= last)
            if covers and sup.offence is Offence.SEXUAL:
                return position
        return None


class _Grid:
    """The elementary intervals of a timeline and which spans cover each."""

    def __init__(self, boundaries: set[date]) -> None:
        # The first interval starts at the beginning of time, so a boundary on the
        # first representable day adds nothing.
        self.starts: list[date | None] = [None, *sorted(boundaries - {date.min})]
        self.position = {start: index for index, start in enumerate(self.starts)}

    def coverage(self, spans: Sequence[Span]) -> list[bool]:
        """For each interval, whether any of `spans` covers it (one pass, no scan per day)."""
        count = len(self.starts)
        if not spans:
            return [False] * count
        deltas = [0] * (count + 1)
        for start, end in spans:
            deltas[self.position.get(start, 0)] += 1
            after = next_day(end) if end is not None else None
            deltas[self.position[after] if after is not None else count] -= 1
        covered: list[bool] = []
        running = 0
        for delta in deltas[:count]:
            running += delta
            covered.append(running > 0)
        return covered


def _day_facts(subject: _Subject, grid: _Grid) -> list[DayFacts]:
    """The facts the rules read, for each interval of `grid`."""
    custody = grid.coverage(subject.custodies)
    registered = grid.coverage(subject.registrations)
    supervised = grid.coverage(subject.supervision_spans)
    sexual = grid.coverage(subject.sexual_spans)
    element = grid.coverage(subject.sexual_element_spans)
    became_adult = subject.adult_from
    in_scope = subject.in_scope_gender
    # Positional fields, in `DayFacts` order: gender, adult, custody, registered,
    # supervised, sexual, sexual element.
    return [
        DayFacts(
            in_scope,
            became_adult is None or (start is not None and start >= became_adult),
            custody[index],
            registered[index],
            supervised[index],
            sexual[index],
            element[index],
        )
        for index, start in enumerate(grid.starts)
    ]


class _Decider:
    """Decides intervals for one subject, remembering each roll-out test it runs."""

    def __init__(self, subject: _Subject, settings: PolicySettings) -> None:
        self.subject = subject
        self.settings = settings
        # Keyed by the supervision's position in `subject.supervisions`, which is
        # cheaper to hash than the supervision itself.
        self.rollout: dict[tuple[int, str], bool] = {}

    def decide(self, d: date, day: DayFacts, policy: PolicyVersion) -> Decision:
        """The decision for the elementary interval that starts on `d`."""
        if self.subject.overrides:
            override = _override_at(self.subject.overrides, d)
            if override is not None:
                mandatory = override.owner in MANUAL_MANDATORY_OWNERS
                return (override.owner, RULE_MANUAL, mandatory, policy.id)
        rule_id, owner = policy.match(day)
        return (owner, rule_id, self.mandatory(owner, rule_id, d, policy), policy.id)

    def mandatory(self, owner: Owner, rule_id: str, d: date, policy: PolicyVersion) -> bool:
        """Police: true; none: false; probation: the roll-out test under `PROB-SEXUAL` only.

        Under `PROB-REGISTERED` and `PROB-SEXUAL-ELEMENT` probation completing
        ARMS is best practice, not mandatory.
        """
        if owner is not Owner.PROBATION:
            return owner is Owner.POLICE
        if rule_id != RULE_PROB_SEXUAL:
            return False
        position = self.subject.governing_supervision(d)
        if position is None:
            return False
        key = (position, policy.id)
        if key not in self.rollout:
            sup = self.subject.supervisions[position]
            area = self.subject.facts.area_of(Agency.PROBATION, sup.person_id)
            training = self.settings.training_date(area)
            self.rollout[key] = meets_rollout_test(
                sup, training, policy.rollout_offset_months, policy.planned_length_months
            )
        return self.rollout[key]


def _policies_by_interval(
    starts: list[date | None], settings: PolicySettings
) -> list[PolicyVersion]:
    """The policy version in force over each interval (one pass over sorted starts)."""
    policies = settings.policies
    current = 0
    in_force: list[PolicyVersion] = []
    for start in starts:
        while current + 1 < len(policies) and start is not None:
            upcoming = policies[current + 1].effective_from
            if upcoming is None or upcoming > start:
                break
            current += 1
        in_force.append(policies[current])
    return in_force


def build_timeline(facts: SubjectFacts, settings: PolicySettings) -> tuple[Segment, ...]:
    """The subject's ownership as maximal segments covering every date exactly once."""
    subject = _Subject.prepare(facts)
    boundaries = subject.boundaries()
    boundaries.update(v.effective_from for v in settings.policies if v.effective_from is not None)
    grid = _Grid(boundaries)
    decider = _Decider(subject, settings)
    policies = _policies_by_interval(grid.starts, settings)
    segment_starts: list[date | None] = []
    decisions: list[Decision] = []
    for start, day, policy in zip(grid.starts, _day_facts(subject, grid), policies, strict=True):
        decision = decider.decide(start if start is not None else date.min, day, policy)
        if not decisions or decisions[-1] != decision:
            segment_starts.append(start)
            decisions.append(decision)
    return _segments(segment_starts, decisions)


def _segments(starts: list[date | None], decisions: list[Decision]) -> tuple[Segment, ...]:
    """Segments from their starts and decisions; each ends the day before the next starts."""
    ends: list[date | None] = [
        previous_day(start) if start is not None else None for start in starts[1:]
    ]
    ends.append(None)
    return tuple(
        Segment(start, end, *decision)
        for start, end, decision in zip(starts, ends, decisions, strict=True)
    )


def segment_at(timeline: Sequence[Segment], d: date) -> Segment:
    """The segment of `timeline` covering `d` (binary search over segment starts)."""
    if not timeline:
        raise ValueError("a timeline has at least one segment")
    index = bisect_right(timeline, d, key=_segment_start) - 1
    return timeline[max(index, 0)]


def _segment_start(segment: Segment) -> date:
    return segment.start if segment.start is not None else date.min
