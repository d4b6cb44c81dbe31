"""The ownership rules that live in code: rule ids, their predicates, the roll-out test.

A policy version (`sync.core.policy`) names these rules by id, in order, with
the owner each one gives. The predicates read a `DayFacts`: the facts about a
subject that hold over one elementary interval of its timeline. The roll-out
test decides whether a `PROB-SEXUAL` decision is mandatory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from types import MappingProxyType
from typing import NamedTuple

from sync.core.calendar import add_months
from sync.core.records import Owner, Supervision, SupervisionKind

RULE_OUT_NOT_MALE = "OUT-NOT-MALE"
RULE_OUT_UNDER_18 = "OUT-UNDER-18"
RULE_NONE_CUSTODY = "NONE-CUSTODY"
RULE_PROB_SEXUAL = "PROB-SEXUAL"
RULE_PROB_REGISTERED = "PROB-REGISTERED"
RULE_PROB_SEXUAL_ELEMENT = "PROB-SEXUAL-ELEMENT"
RULE_POLICE_REGISTERED = "POLICE-REGISTERED"
RULE_NONE_NOT_IN_SCOPE = "NONE-NOT-IN-SCOPE"
RULE_MANUAL = "MANUAL"
CATCH_ALL_RULE = RULE_NONE_NOT_IN_SCOPE

ROLLOUT_OFFSET_MONTHS = 6
PLANNED_LENGTH_MONTHS = 12

COMMUNITY_KINDS = frozenset(
    {SupervisionKind.COMMUNITY_ORDER, SupervisionKind.SUSPENDED_SENTENCE_ORDER}
)
CUSTODIAL_KINDS = frozenset({SupervisionKind.LICENCE, SupervisionKind.POST_SENTENCE_SUPERVISION})


class DayFacts(NamedTuple):
    """The facts the rules read, constant over one elementary interval."""

    in_scope_gender: bool
    adult: bool
    in_custody: bool
    registered: bool
    supervised: bool
    supervised_sexual: bool
    supervised_sexual_element: bool


RulePredicate = Callable[[DayFacts], bool]


def _not_male(facts: DayFacts) -> bool:
    return not facts.in_scope_gender


def _under_18(facts: DayFacts) -> bool:
    return not facts.adult


def _in_custody(facts: DayFacts) -> bool:
    return facts.in_custody


def _supervised_sexual(facts: DayFacts) -> bool:
    return facts.supervised_sexual


def _supervised_and_registered(facts: DayFacts) -> bool:
    return facts.supervised and facts.registered


def _supervised_sexual_element(facts: DayFacts) -> bool:
    return facts.supervised_sexual_element


def _registered(facts: DayFacts) -> bool:
    return facts.registered


def _otherwise(_facts: DayFacts) -> bool:
    return True


RULE_PREDICATES: Mapping[str, RulePredicate] = MappingProxyType(
    {
        RULE_OUT_NOT_MALE: _not_male,
        RULE_OUT_UNDER_18: _under_18,
        RULE_NONE_CUSTODY: _in_custody,
        RULE_PROB_SEXUAL: _supervised_sexual,
        RULE_PROB_REGISTERED: _supervised_and_registered,
        RULE_PROB_SEXUAL_ELEMENT: _supervised_sexual_element,
        RULE_POLICE_REGISTERED: _registered,
        RULE_NONE_NOT_IN_SCOPE: _otherwise,
    }
)

PI_15_2015_RULES: tuple[tuple[str, Owner], ...] = (
    (RULE_OUT_NOT_MALE, Owner.NONE),
    (RULE_OUT_UNDER_18, Owner.NONE),
    (RULE_NONE_CUSTODY, Owner.NONE),
    (RULE_PROB_SEXUAL, Owner.PROBATION),
    (RULE_PROB_REGISTERED, Owner.PROBATION),
    (RULE_PROB_SEXUAL_ELEMENT, Owner.PROBATION),
    (RULE_POLICE_REGISTERED, Owner.POLICE),
    (RULE_NONE_NOT_IN_SCOPE, Owner.NONE),
)

SupervisionOrder = tuple[date, str, str, str, str, date, date]


def supervision_order(sup: Supervision) -> SupervisionOrder:
    """A total order on supervisions: start, then id, then the remaining fields."""
    last = date.max
    return (
        sup.start,
        sup.id,
        sup.person_id,
        sup.kind.value,
        sup.offence.value,
        sup.end or last,
        sup.terminated_on or last,
    )


def is_longer_than(start: date, end: date | None, months: int) -> bool:
    """Whether `end` is later than the same day `months` calendar months after `start`.

    An open-ended supervision (no planned end) is longer than any length.
    """
    if end is None:
        return True
    try:
        return end > add_months(start, months)
    except OverflowError:
        return False


def months_before(d: date, months: int) -> date:
    """`d` minus `months` calendar months, floored at the first representable day."""
    try:
        return add_months(d, -months)
    except OverflowError:
        return date.min


def meets_rollout_test(
    sup: Supervision,
    training_date: date,
    offset_months: int = ROLLOUT_OFFSET_MONTHS,
    planned_length_months: int = PLANNED_LENGTH_MONTHS,
) -> bool:
    """The Instruction's roll-out test for a supervision against training date T.

    Community and suspended sentence orders: start ≥ T − 6 months. Licences and
    post-sentence supervision: start ≥ T, or start ≥ T − 6 months with a planned
    length (start to `end`) of more than 12 months.
    """
    earliest = months_before(training_date, offset_months)
    if sup.kind in COMMUNITY_KINDS:
        return sup.start >= earliest
    if sup.kind in CUSTODIAL_KINDS:
        long_enough = is_longer_than(sup.start, sup.end, planned_length_months)
        return sup.start >= training_date or (sup.start >= earliest and long_enough)
    return False
