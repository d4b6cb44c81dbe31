"""The ownership timeline as an agency is told it, and a flag's rule as told to its agency.

Pure. A notice or report to agency A must never carry a date worked out from
the other agency's date of birth where nothing turns on it (`exchange.md`,
`docs/decisions.md` "Exchange and notices"): see `timeline_told_to`. Flags
about A's assessments give the rule of that told timeline at their reference
date (`rule_told_at`), so a flag never names `OUT-UNDER-18` where A's
ownership notice does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from sync.core.policy import Segment, adult_from, segment_at, subject_date_of_birth
from sync.core.records import Agency, Owner, SubjectFacts
from sync.core.rules import RULE_OUT_UNDER_18


def timeline_told_to(
    agency: Agency, facts: SubjectFacts, timeline: Sequence[Segment]
) -> Sequence[Segment]:
    """The timeline as `agency`'s notices give it.

    The policy takes the earliest date of birth on the subject's records, and
    the end of an `OUT-UNDER-18` segment is the day before the 18th birthday it
    gives. Where that date of birth is on none of the agency's own records, that
    day would tell the agency the other agency's date of birth (`exchange.md`
    forbids it). So where no one owns ARMS on either side of that birthday, the
    childhood segment is told as part of the one after it: every day keeps its
    owner, and no date depends on the other agency's date of birth. Where the
    owner changes on the birthday, the agency must know the day, and is told.
    """
    dob = subject_date_of_birth(facts)
    if dob is None or any(p.date_of_birth == dob for p in facts.persons if p.agency is agency):
        return timeline
    birthday = adult_from(dob)
    told: list[Segment] = []
    for segment in timeline:
        if told and _childhood_ends_unowned(told[-1], segment, birthday):
            told[-1] = replace(segment, start=told[-1].start)
        else:
            told.append(segment)
    return told


def rule_told_at(rule: str | None, day: date | None, told: Sequence[Segment]) -> str | None:
    """The rule an agency is told for `day`, whose decided rule is `rule`.

    `told` is the timeline as told to that agency. Only an `OUT-UNDER-18`
    segment is ever told otherwise, so any other rule (or none) is told as it
    is, without a look at the timeline.
    """
    if rule != RULE_OUT_UNDER_18 or day is None or not told:
        return rule
    return segment_at(told, day).rule


def _childhood_ends_unowned(before: Segment, after: Segment, birthday: date | None) -> bool:
    """Whether `before` is the childhood segment ending on the eve of `birthday` and no one
    owns ARMS in `after` either."""
    return (
        before.rule == RULE_OUT_UNDER_18
        and after.start == birthday
        and before.owner is Owner.NONE
        and after.owner is Owner.NONE
    )
