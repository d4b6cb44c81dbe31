"""The case mix: which agencies hold a person, and the history behind it.

`pick_case` draws a kind (`police_only`, `probation_only`, `overlap`) and a
scenario, and builds the matching `History`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

from sync.core.records import Offence, SupervisionKind
from sync.synth import histories as h
from sync.synth.randomness import SynthRandom

POLICE_ONLY = "police_only"
PROBATION_ONLY = "probation_only"
OVERLAP = "overlap"

# (kind, scenario, weight): overlap is the largest group, as most supervised
# sexual offenders are also registered.
_SCENARIOS = (
    (POLICE_ONLY, "registered", 34),
    (PROBATION_ONLY, "other_offence", 17),
    (PROBATION_ONLY, "sexual_element", 5),
    (PROBATION_ONLY, "sexual_unregistered", 4),
    (OVERLAP, "licence", 22),
    (OVERLAP, "community_order", 6),
    (OVERLAP, "registered_then_supervised", 12),
)
_SCENARIO_CUM_WEIGHTS = tuple(accumulate(weight for _, _, weight in _SCENARIOS))

_OTHER_KINDS = (
    SupervisionKind.COMMUNITY_ORDER,
    SupervisionKind.SUSPENDED_SENTENCE_ORDER,
    SupervisionKind.LICENCE,
    SupervisionKind.POST_SENTENCE_SUPERVISION,
)
_OTHER_KIND_CUM_WEIGHTS = (40, 60, 90, 100)
_ORDER_KINDS = (SupervisionKind.COMMUNITY_ORDER, SupervisionKind.SUSPENDED_SENTENCE_ORDER)
_SEXUAL_LICENCE_KINDS = (SupervisionKind.LICENCE, SupervisionKind.POST_SENTENCE_SUPERVISION)
_SEXUAL_LICENCE_CUM_WEIGHTS = (85, 100)
SEXUAL_ELEMENT_OVERLAP_RATE = 0.15
OTHER_OFFENCE_WHILE_REGISTERED_RATE = 0.5
LICENCE_WHILE_REGISTERED_RATE = 0.5
PROBATION_ASSESSES_OTHER_RATE = 0.6


@dataclass(frozen=True, slots=True)
class Case:
    """A drawn case: who holds the person, the scenario and its history."""

    kind: str
    scenario: str
    history: h.History


def _custody_before(
    rng: SynthRandom, history: h.History, start: int, bounds: tuple[int, int]
) -> None:
    history.custodies.append((start - rng.randint(*bounds), start - 1))


def _supervise(
    rng: SynthRandom, history: h.History, kind: SupervisionKind, offence: Offence, today: int
) -> h.SupervisionPlan:
    start = h.supervision_start(rng, kind, today)
    if kind in h.LICENCE_KINDS:
        _custody_before(rng, history, start, h.CUSTODY_DAYS)
    plan = h.add_supervision(rng, history, kind, offence, start, today=today)
    h.probation_assessments(rng, history, plan, today)
    return plan


def _probation_only(rng: SynthRandom, scenario: str, today: int) -> h.History:
    history = h.History()
    if scenario == "other_offence":
        kind = rng.weighted(_OTHER_KINDS, _OTHER_KIND_CUM_WEIGHTS)
        _supervise(rng, history, kind, Offence.OTHER, today)
    elif scenario == "sexual_element":
        _supervise(rng, history, rng.choice(_ORDER_KINDS), Offence.SEXUAL_ELEMENT, today)
    else:
        _supervise(rng, history, rng.choice(_ORDER_KINDS), Offence.SEXUAL, today)
    return history


def _sexual_offence(rng: SynthRandom) -> Offence:
    if rng.random() < SEXUAL_ELEMENT_OVERLAP_RATE:
        return Offence.SEXUAL_ELEMENT
    return Offence.SEXUAL


def _overlap_new_conviction(rng: SynthRandom, scenario: str, today: int) -> h.History:
    """Convicted of a sexual offence: supervised and registered from conviction."""
    history = h.History()
    if scenario == "licence":
        kind = rng.weighted(_SEXUAL_LICENCE_KINDS, _SEXUAL_LICENCE_CUM_WEIGHTS)
    else:
        kind = rng.choice(_ORDER_KINDS)
    plan = _supervise(rng, history, kind, _sexual_offence(rng), today)
    convicted = history.custodies[0][0] if history.custodies else plan.start
    registered = convicted - rng.randint(*h.CONVICTION_BEFORE_ORDER_DAYS)
    registration_end = h.registration_end(rng, registered)
    history.registrations.append((registered, registration_end))
    h.duplicate_by_police(rng, history, plan, today)
    h.police_after(rng, history, plan, registration_end, today)
    return history


def _registered_then_supervised(rng: SynthRandom, today: int) -> h.History:
    """Long registered (police own), then supervised again: a handover each way."""
    history = h.History()
    registered = today - rng.randint(*h.REGISTERED_BEFORE_DAYS)
    history.registrations.append((registered, None))
    offence = (
        Offence.OTHER if rng.random() < OTHER_OFFENCE_WHILE_REGISTERED_RATE else Offence.SEXUAL
    )
    licence = rng.random() < LICENCE_WHILE_REGISTERED_RATE
    kind = SupervisionKind.LICENCE if licence else rng.choice(_ORDER_KINDS)
    start = today - rng.randint(*h.SUPERVISED_AFTER_REGISTRATION_DAYS)
    police_until = start - 1
    if licence:
        _custody_before(rng, history, start, h.REMAND_BEFORE_LICENCE_DAYS)
        police_until = history.custodies[0][0] - 1
    history.police_assessments += h.schedule_assessments(rng, registered, police_until, today)
    plan = h.add_supervision(rng, history, kind, offence, start, today=today)
    during = h.schedule_assessments(rng, start, plan.last_day, today)
    if offence is Offence.OTHER and rng.random() >= PROBATION_ASSESSES_OTHER_RATE:
        # Probation owns (rule PROB-REGISTERED) but the police carry on assessing.
        history.police_assessments += during
        if during:
            history.events.append(h.Event.POLICE_ASSESS_WHILE_SUPERVISED)
    else:
        history.probation_assessments += during
        if history.police_assessments:
            history.events.append(h.Event.HANDOVER)
    h.duplicate_by_police(rng, history, plan, today)
    h.police_after(rng, history, plan, None, today)
    return history


def pick_case(rng: SynthRandom, today: int) -> Case:
    """Draw a kind and scenario and build its history."""
    kind, scenario, _ = rng.weighted(_SCENARIOS, _SCENARIO_CUM_WEIGHTS)
    if kind == POLICE_ONLY:
        history = h.police_only(rng, today)
    elif kind == PROBATION_ONLY:
        history = _probation_only(rng, scenario, today)
    elif scenario == "registered_then_supervised":
        history = _registered_then_supervised(rng, today)
    else:
        history = _overlap_new_conviction(rng, scenario, today)
    return Case(kind, scenario, history)
