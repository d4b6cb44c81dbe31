"""What each agency must be told about a subject: ownership, handover and flag notices.

Pure: from one subject's decision, the notices each agency should hold now,
each under a stable key. The outbox compares them with what was sent before
and sends only changes. A notice to agency A is minimised (`exchange.md`): it
names A's own person references, the owner, dates and rule, and the other
agency's references only; never names, dates of birth or identifiers. Nor a
date worked out from the other agency's date of birth where nothing turns on
it: see `timeline_told_to` (`sync.core.told`); a flag notice gives the rule of
that told timeline at the flag's reference date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from sync.core.duplicates import DUPLICATE_REPORT_KINDS, Flag
from sync.core.policy import Segment
from sync.core.records import Agency, Person, SubjectFacts
from sync.core.told import rule_told_at, timeline_told_to

__all__ = [
    "NOTICE_FLAG",
    "NOTICE_HANDOVER",
    "NOTICE_OWNERSHIP",
    "NOTICE_WITHDRAWN",
    "Notice",
    "notices_for_subject",
    "provisional",
    "segment_body",
    "timeline_told_to",
]

NOTICE_OWNERSHIP = "ownership"
NOTICE_HANDOVER = "handover"
NOTICE_FLAG = "flag"
NOTICE_WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice for one agency, under a key that stays the same while it is current."""

    agency: Agency
    key: str
    kind: str
    subject_id: str
    body: dict[str, Any]


def provisional(notices: Iterable[Notice], awaiting: Sequence[str]) -> Iterable[Notice]:
    """The notices, each naming under `provisional` the agencies whose feed had never
    been read to its end when it was decided (none named: the notices as they are).

    Such a decision may change once those feeds are read whole; the notice that
    replaces it then carries no `provisional`.
    """
    if not awaiting:
        return notices
    named = sorted(awaiting)
    return (replace(notice, body={**notice.body, "provisional": named}) for notice in notices)


def _iso(value: object) -> str | None:
    return None if value is None else str(value)


def segment_body(segment: Segment) -> dict[str, Any]:
    """A timeline segment as it appears in a notice."""
    return {
        "from": _iso(segment.start),
        "to": _iso(segment.end),
        "owner": str(segment.owner),
        "rule": segment.rule,
        "mandatory": segment.mandatory,
        "policy": segment.policy,
    }


def _refs(persons: Iterable[Person], agency: Agency) -> list[str]:
    return sorted(p.person_id for p in persons if p.agency is agency)


def notices_for_subject(
    facts: SubjectFacts, timeline: Sequence[Segment], flags: Sequence[Flag]
) -> list[Notice]:
    """Every notice each agency holding a record of the subject should have now."""
    notices: list[Notice] = []
    for agency in (Agency.PROBATION, Agency.POLICE):
        own = _refs(facts.persons, agency)
        if not own:
            continue
        counterpart = [
            {"agency": str(agency.other), "person_id": pid}
            for pid in _refs(facts.persons, agency.other)
        ]
        base = {"subject_id": facts.subject_id, "person_ids": own, "counterpart": counterpart}
        told = timeline_told_to(agency, facts, timeline)
        notices.append(_ownership(agency, base, told))
        notices.extend(_handovers(agency, base, told))
        notices.extend(_flag_notices(agency, base, flags, told))
    return notices


def _ownership(agency: Agency, base: dict[str, Any], timeline: Sequence[Segment]) -> Notice:
    body = {**base, "kind": NOTICE_OWNERSHIP, "segments": [segment_body(s) for s in timeline]}
    return Notice(
        agency,
        f"{NOTICE_OWNERSHIP}|{base['subject_id']}",
        NOTICE_OWNERSHIP,
        base["subject_id"],
        body,
    )


def _handovers(agency: Agency, base: dict[str, Any], timeline: Sequence[Segment]) -> list[Notice]:
    notices = []
    for before, after in pairwise(timeline):
        if before.owner == after.owner:
            continue
        key = f"{NOTICE_HANDOVER}|{base['subject_id']}|{after.start}|{before.owner}|{after.owner}"
        body = {
            **base,
            "kind": NOTICE_HANDOVER,
            "on": _iso(after.start),
            "from_owner": str(before.owner),
            "to_owner": str(after.owner),
            "rule_before": before.rule,
            "rule_after": after.rule,
        }
        notices.append(Notice(agency, key, NOTICE_HANDOVER, base["subject_id"], body))
    return notices


def _flag_notices(
    agency: Agency, base: dict[str, Any], flags: Sequence[Flag], told: Sequence[Segment]
) -> list[Notice]:
    """The agency's flag notices; each gives the rule of the timeline as told to the agency
    (`told`) at the flag's reference date, so it names no rule the ownership notice hides."""
    notices = []
    for flag in flags:
        if flag.agency is not agency or flag.kind not in DUPLICATE_REPORT_KINDS:
            continue
        counterpart = None
        if flag.counterpart is not None:
            counterpart = {
                "agency": str(flag.counterpart.agency),
                "assessment_id": flag.counterpart.assessment_id,
            }
        body = {
            **base,
            "kind": NOTICE_FLAG,
            "flag": str(flag.kind),
            "assessment_id": flag.assessment_id,
            "flag_person_ids": list(flag.person_ids),
            "reference_date": _iso(flag.reference_date),
            "owner_at_reference_date": _iso(flag.owner_at_reference_date),
            "rule_at_reference_date": rule_told_at(
                flag.rule_at_reference_date, flag.reference_date, told
            ),
            "counterpart_assessment": counterpart,
            "redundant": flag.redundant,
        }
        notices.append(
            Notice(agency, _flag_notice_key(flag), NOTICE_FLAG, base["subject_id"], body)
        )
    return notices


def _flag_notice_key(flag: Flag) -> str:
    """A flag notice's key: the flag's kind, subject, agency and what it is about.

    It names the subject whatever the flag's own key holds: the notice is about
    the subject as the agency knows it, so a flag that moves to another subject
    is withdrawn under the old subject and told under the new one.
    """
    agency = "" if flag.agency is None else flag.agency.value
    return "|".join((NOTICE_FLAG, flag.kind.value, flag.subject_id, agency, flag.target))
