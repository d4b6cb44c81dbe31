"""The duplicate and misplaced assessment rules, and the subject conflicts for review.

`find_flags` reads a subject's facts and its ownership timeline and returns
every flag `spec/duplicates.md` raises for it: assessments by an agency that
did not own the subject at their reference date, pairs of assessments across
the agencies that duplicate each other, in-progress work by the non-owner,
duplicate person records, and (as review items, outside the duplicate report)
records that disagree on gender or date of birth. Pure: same facts in, same
flags out, in a stable order. Each assessment flag also carries the rule its
own agency is told for its reference date (`sync.core.told`), for that
agency's notices and report view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from sync.core.calendar import days_apart
from sync.core.policy import Segment, segment_at
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Owner,
    Person,
    SubjectFacts,
)
from sync.core.rules import RULE_OUT_UNDER_18
from sync.core.told import rule_told_at, timeline_told_to

DEFAULT_WINDOW_DAYS = 180
MIN_RECORDS_FOR_DUPLICATE = 2
PERSON_ID_SEPARATOR = ","
FLAG_KEY_SEPARATOR = "|"  # between a stored flag key's parts; the first part is its kind

FlagKey = tuple[str, str, str]


class FlagKind(StrEnum):
    """The kinds of flag."""

    ASSESSED_BY_NON_OWNER = "assessed_by_non_owner"
    ASSESSED_WITHOUT_OWNER = "assessed_without_owner"
    DUPLICATE = "duplicate"
    IN_PROGRESS_BY_NON_OWNER = "in_progress_by_non_owner"
    DUPLICATE_PERSON_RECORD = "duplicate_person_record"
    GENDER_CONFLICT = "gender_conflict"
    DOB_CONFLICT = "dob_conflict"


DUPLICATE_REPORT_KINDS = frozenset(
    {
        FlagKind.ASSESSED_BY_NON_OWNER,
        FlagKind.ASSESSED_WITHOUT_OWNER,
        FlagKind.DUPLICATE,
        FlagKind.IN_PROGRESS_BY_NON_OWNER,
        FlagKind.DUPLICATE_PERSON_RECORD,
    }
)
# Raised beside the flags but not flags: items for a person to review (`reconcile list`),
# never in the duplicate-assessment report (docs/decisions.md, "Duplicates").
REVIEW_KINDS = frozenset({FlagKind.GENDER_CONFLICT, FlagKind.DOB_CONFLICT})
MISPLACED_KINDS = frozenset({FlagKind.ASSESSED_BY_NON_OWNER, FlagKind.ASSESSED_WITHOUT_OWNER})

_OWNER_OF = {Agency.PROBATION: Owner.PROBATION, Agency.POLICE: Owner.POLICE}


@dataclass(frozen=True, slots=True)
class Counterpart:
    """The other assessment of a duplicate pair, named by agency and reference."""

    agency: Agency
    assessment_id: str
    reference_date: date


@dataclass(frozen=True, slots=True)
class Flag:
    """One flag about a subject, an assessment or a set of person records.

    Assessment flags carry the assessment, its single person id, the decision
    at its reference date and the area of its person record; `counterpart` and
    `redundant` only on `duplicate`. `duplicate_person_record` carries the
    agency, that agency's person ids (sorted) and the area of the first of
    them. The two conflicts carry no agency and every person id of the subject.
    `rule_told` is the rule of the timeline as told to the flag's agency at the
    reference date (`sync.core.told.timeline_told_to`): the rule that agency's
    notices and report view give, which is `rule_at_reference_date` except
    where that would name `OUT-UNDER-18` to an agency not told it.
    """

    kind: FlagKind
    subject_id: str
    agency: Agency | None = None
    assessment_id: str | None = None
    person_ids: tuple[str, ...] = ()
    reference_date: date | None = None
    owner_at_reference_date: Owner | None = None
    rule_at_reference_date: str | None = None
    counterpart: Counterpart | None = None
    redundant: bool | None = None
    area: str | None = None
    assessment_status: AssessmentStatus | None = None
    rule_told: str | None = None

    @property
    def key(self) -> FlagKey:
        """A stable identity across runs: kind, agency, then assessment or person ids.

        The subject is not part of it: a flag is about an assessment (or a set
        of person records), and when that moves to another subject it is still
        the same flag, so there is one flag per assessment and kind for ever.
        """
        agency = self.agency.value if self.agency is not None else ""
        return (self.kind.value, agency, self.target)

    @property
    def target(self) -> str:
        """What the flag is about: the assessment id, else the person ids joined."""
        return self.assessment_id or PERSON_ID_SEPARATOR.join(self.person_ids)


@dataclass(frozen=True, slots=True)
class _Placed:
    """An assessment with the decision in force at its reference date."""

    assessment: Assessment
    segment: Segment
    misplaced_kind: FlagKind | None


def distinct_assessments(assessments: Iterable[Assessment]) -> list[Assessment]:
    """One assessment per agency and id, in agency-and-id order.

    Should two different versions share an agency and id, the one sorting first
    on its remaining fields is kept, so the answer never depends on input order.
    """
    chosen: dict[tuple[Agency, str], Assessment] = {}
    for item in sorted(set(assessments), key=_assessment_order):
        chosen.setdefault((item.agency, item.id), item)
    return list(chosen.values())


def _assessment_order(item: Assessment) -> tuple[str, str, str, date, date, str]:
    return (
        item.agency.value,
        item.id,
        item.person_id,
        item.started_on,
        item.completed_on or date.max,
        item.status.value,
    )


def _misplaced_kind(agency: Agency, owner: Owner) -> FlagKind | None:
    """The misplacement of an assessment by `agency` when `owner` owns the subject."""
    if owner is Owner.NONE:
        return FlagKind.ASSESSED_WITHOUT_OWNER
    if owner is _OWNER_OF[agency.other]:
        return FlagKind.ASSESSED_BY_NON_OWNER
    return None


def _place(assessments: Iterable[Assessment], timeline: Sequence[Segment]) -> list[_Placed]:
    placed = []
    for item in assessments:
        segment = segment_at(timeline, item.reference_date)
        placed.append(_Placed(item, segment, _misplaced_kind(item.agency, segment.owner)))
    return placed


def _assessment_flag(
    facts: SubjectFacts, placed: _Placed, kind: FlagKind, pair: _Placed | None = None
) -> Flag:
    item = placed.assessment
    counterpart = None
    redundant = None
    if pair is not None:
        other = pair.assessment
        counterpart = Counterpart(other.agency, other.id, other.reference_date)
        redundant = placed.misplaced_kind is not None
    return Flag(
        kind=kind,
        subject_id=facts.subject_id,
        agency=item.agency,
        assessment_id=item.id,
        person_ids=(item.person_id,),
        reference_date=item.reference_date,
        owner_at_reference_date=placed.segment.owner,
        rule_at_reference_date=placed.segment.rule,
        rule_told=placed.segment.rule,
        counterpart=counterpart,
        redundant=redundant,
        area=facts.area_of(item.agency, item.person_id),
        assessment_status=item.status,
    )


def _forms_duplicate(a: _Placed, b: _Placed, window_days: int) -> bool:
    """Whether two assessments form a `duplicate` pair (see `spec/duplicates.md`).

    A cancelled assessment does not count, so it never forms a pair, even though
    it can itself be flagged as assessed by a non-owner or without an owner.
    """
    first, second = a.assessment, b.assessment
    return (
        first.agency is not second.agency
        and first.counts
        and second.counts
        and days_apart(first.reference_date, second.reference_date) <= window_days
        and (a.misplaced_kind is not None or b.misplaced_kind is not None)
    )


def _nearest(item: _Placed, partners: Iterable[_Placed]) -> _Placed:
    """The partner nearest in time (ties: the earlier date, then agency, then id)."""
    when = item.assessment.reference_date

    def distance(other: _Placed) -> tuple[int, date, str, str]:
        them = other.assessment
        return (days_apart(when, them.reference_date), them.reference_date, them.agency, them.id)

    return min(partners, key=distance)


def _duplicate_flags(
    facts: SubjectFacts, placed: Sequence[_Placed], window_days: int
) -> list[Flag]:
    flags = []
    for item in placed:
        partners = [other for other in placed if _forms_duplicate(item, other, window_days)]
        if partners:
            pair = _nearest(item, partners)
            flags.append(_assessment_flag(facts, item, FlagKind.DUPLICATE, pair))
    return flags


def _in_progress_flags(
    facts: SubjectFacts, placed: Iterable[_Placed], timeline: Sequence[Segment], as_of: date
) -> list[Flag]:
    owner_now = segment_at(timeline, as_of).owner
    return [
        _assessment_flag(facts, item, FlagKind.IN_PROGRESS_BY_NON_OWNER)
        for item in placed
        if item.assessment.status is AssessmentStatus.IN_PROGRESS
        and owner_now is _OWNER_OF[item.assessment.agency.other]
    ]


def _records(persons: Iterable[Person]) -> list[Person]:
    """The distinct person records, in agency-and-id order (one per agency and id)."""
    chosen: dict[tuple[Agency, str], Person] = {}
    for person in sorted(set(persons), key=lambda p: (p.agency.value, p.person_id, p.area)):
        chosen.setdefault((person.agency, person.person_id), person)
    return list(chosen.values())


def _person_record_flags(facts: SubjectFacts, persons: Sequence[Person]) -> list[Flag]:
    flags = []
    for agency in Agency:
        own = [person for person in persons if person.agency is agency]
        if len(own) >= MIN_RECORDS_FOR_DUPLICATE:
            flags.append(
                Flag(
                    kind=FlagKind.DUPLICATE_PERSON_RECORD,
                    subject_id=facts.subject_id,
                    agency=agency,
                    person_ids=tuple(person.person_id for person in own),
                    area=own[0].area,
                )
            )
    return flags


def _conflict_flags(facts: SubjectFacts, persons: Sequence[Person]) -> list[Flag]:
    """`gender_conflict` and `dob_conflict` review items.

    Any two different genders conflict, `U` included (the policy treats the
    subject as male). Absent dates of birth are ignored, but placeholder dates
    (1900-01-01, 1970-01-01) count: the earliest date of birth wins for the age
    rule, so a placeholder beside a real date changes the decision and a person
    should correct it.
    """
    genders = {person.gender for person in persons}
    dates = {person.date_of_birth for person in persons if person.date_of_birth is not None}
    kinds = []
    if len(genders) > 1:
        kinds.append(FlagKind.GENDER_CONFLICT)
    if len(dates) > 1:
        kinds.append(FlagKind.DOB_CONFLICT)
    ids = tuple(sorted(person.person_id for person in persons))
    area = persons[0].area if persons else None
    return [
        Flag(kind=kind, subject_id=facts.subject_id, person_ids=ids, area=area) for kind in kinds
    ]


def find_flags(
    facts: SubjectFacts,
    timeline: Sequence[Segment],
    as_of: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> tuple[Flag, ...]:
    """Every flag for one subject, sorted by key (one flag per assessment and kind).

    `timeline` is the subject's ownership timeline (overrides included), `as_of`
    the date in-progress work is judged against, `window_days` the window W.
    """
    placed = _place(distinct_assessments(facts.assessments), timeline)
    # The table raises `assessed_by_non_owner` / `assessed_without_owner` for "an
    # assessment", without asking that it count: a cancelled assessment is still
    # work done by the wrong agency, so it is flagged for these two kinds. Only a
    # `duplicate` needs both assessments to count (see `_forms_duplicate`).
    flags = [
        _assessment_flag(facts, item, kind)
        for item in placed
        if (kind := item.misplaced_kind) is not None
    ]
    flags.extend(_duplicate_flags(facts, placed, window_days))
    flags.extend(_in_progress_flags(facts, placed, timeline, as_of))
    persons = _records(facts.persons)
    flags.extend(_person_record_flags(facts, persons))
    flags.extend(_conflict_flags(facts, persons))
    return tuple(sorted(_as_told(facts, timeline, flags), key=lambda flag: flag.key))


def _as_told(facts: SubjectFacts, timeline: Sequence[Segment], flags: list[Flag]) -> list[Flag]:
    """The flags, each with the rule its agency is told at its reference date.

    Only an `OUT-UNDER-18` rule can be told otherwise, so the timeline as told
    to an agency is worked out only for a subject with such a flag, once per agency.
    """
    told: dict[Agency, Sequence[Segment]] = {}
    result = []
    for flag in flags:
        agency = flag.agency
        if agency is None or flag.rule_told != RULE_OUT_UNDER_18:
            result.append(flag)
            continue
        if agency not in told:
            told[agency] = timeline_told_to(agency, facts, timeline)
        rule = rule_told_at(flag.rule_at_reference_date, flag.reference_date, told[agency])
        result.append(replace(flag, rule_told=rule))
    return result
