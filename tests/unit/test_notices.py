"""Unit tests of the notices each agency is sent: who is told what, under which key."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sync.core.duplicates import find_flags
from sync.core.notices import (
    NOTICE_FLAG,
    NOTICE_HANDOVER,
    NOTICE_OWNERSHIP,
    Notice,
    notices_for_subject,
    provisional,
)
from sync.core.policy import build_timeline
from sync.core.records import Agency, SubjectFacts
from tests.unit.test_duplicates import (
    AS_OF,
    CRN,
    DEFAULT,
    LICENCE,
    POLICE_PERSON,
    POLICE_REF,
    PROBATION_APRIL,
    PROBATION_PERSON,
    W,
    completed,
    subject,
)

POLICE_MAY = completed(Agency.POLICE, "WPA-0", date(2025, 5, 10))


def notices_of(facts: SubjectFacts) -> list[Notice]:
    timeline = build_timeline(facts, DEFAULT)
    return notices_for_subject(facts, timeline, find_flags(facts, timeline, AS_OF, W))


def of_kind(notices: list[Notice], agency: Agency, kind: str) -> list[Notice]:
    return [n for n in notices if n.agency is agency and n.kind == kind]


def test_each_agency_is_told_every_change_of_owner_and_nothing_else() -> None:
    # Adult from 1988-01-02 (not in scope, so no owner either side of it), police
    # from the registration, probation during the licence, police after it.
    notices = notices_of(subject())
    for agency in Agency:
        handovers = of_kind(notices, agency, NOTICE_HANDOVER)
        assert [n.key for n in handovers] == [
            "handover|subject-1|2019-01-01|none|police",
            "handover|subject-1|2025-03-01|police|probation",
            "handover|subject-1|2027-03-01|probation|police",
        ]
        assert [
            (n.body["on"], n.body["from_owner"], n.body["to_owner"], n.body["rule_after"])
            for n in handovers
        ] == [
            ("2019-01-01", "none", "police", "POLICE-REGISTERED"),
            ("2025-03-01", "police", "probation", "PROB-SEXUAL"),
            ("2027-03-01", "probation", "police", "POLICE-REGISTERED"),
        ]


def test_the_same_handover_twice_is_told_twice_under_two_keys() -> None:
    first = replace(LICENCE, end=date(2025, 12, 31))
    second = replace(LICENCE, id="WS-1", start=date(2026, 6, 1))
    facts = replace(subject(), supervisions=(first, second))
    handovers = of_kind(notices_of(facts), Agency.POLICE, NOTICE_HANDOVER)
    to_probation = [n.body["on"] for n in handovers if n.body["to_owner"] == "probation"]
    assert to_probation == ["2025-03-01", "2026-06-01"]
    assert len({n.key for n in handovers}) == len(handovers) == 5


def test_the_ownership_notice_carries_every_segment_with_its_dates() -> None:
    (ownership,) = of_kind(notices_of(subject()), Agency.PROBATION, NOTICE_OWNERSHIP)
    assert ownership.key == "ownership|subject-1"
    assert [(s["from"], s["to"], s["owner"]) for s in ownership.body["segments"]] == [
        (None, "1988-01-01", "none"),
        ("1988-01-02", "2018-12-31", "none"),
        ("2019-01-01", "2025-02-28", "police"),
        ("2025-03-01", "2027-02-28", "probation"),
        ("2027-03-01", None, "police"),
    ]


def test_a_notice_names_its_agencys_own_records_and_only_the_others_references() -> None:
    notices = notices_of(subject(POLICE_MAY, PROBATION_APRIL))
    for notice in notices:
        own, other = (CRN, POLICE_REF) if notice.agency is Agency.PROBATION else (POLICE_REF, CRN)
        assert notice.body["person_ids"] == [own]
        assert notice.body["counterpart"] == [
            {"agency": str(notice.agency.other), "person_id": other}
        ]
    assert {n.agency for n in notices} == set(Agency)


def test_a_notice_lists_an_agencys_several_records_in_order_whatever_their_order() -> None:
    second = replace(PROBATION_PERSON, person_id="W800000")
    for persons in (
        (PROBATION_PERSON, second, POLICE_PERSON),
        (POLICE_PERSON, second, PROBATION_PERSON),
    ):
        facts = replace(subject(POLICE_MAY, PROBATION_APRIL), persons=persons)
        for notice in notices_of(facts):
            probation_refs = ["W800000", CRN]
            if notice.agency is Agency.PROBATION:
                assert notice.body["person_ids"] == probation_refs
            else:
                assert [c["person_id"] for c in notice.body["counterpart"]] == probation_refs


def test_an_agency_holding_no_record_of_the_subject_is_told_nothing() -> None:
    facts = replace(subject(POLICE_MAY, PROBATION_APRIL), persons=(POLICE_PERSON,))
    notices = notices_of(facts)
    assert notices
    assert {n.agency for n in notices} == {Agency.POLICE}
    assert all(n.body["counterpart"] == [] for n in notices)


def test_a_flag_notice_goes_to_the_flags_agency_naming_the_counterpart_by_reference() -> None:
    notices = notices_of(subject(POLICE_MAY, PROBATION_APRIL))
    duplicates = {
        n.agency: n.body for n in notices if n.kind == NOTICE_FLAG and n.body["flag"] == "duplicate"
    }
    assert duplicates[Agency.POLICE]["assessment_id"] == "WPA-0"
    assert duplicates[Agency.POLICE]["counterpart_assessment"] == {
        "agency": "probation",
        "assessment_id": "WA-0",
    }
    assert duplicates[Agency.PROBATION]["assessment_id"] == "WA-0"
    assert duplicates[Agency.PROBATION]["counterpart_assessment"] == {
        "agency": "police",
        "assessment_id": "WPA-0",
    }
    assert (duplicates[Agency.POLICE]["redundant"], duplicates[Agency.PROBATION]["redundant"]) == (
        True,
        False,
    )
    assert duplicates[Agency.POLICE]["reference_date"] == "2025-05-10"
    assert duplicates[Agency.POLICE]["owner_at_reference_date"] == "probation"
    misplaced = [
        n for n in notices if n.kind == NOTICE_FLAG and n.body["flag"] == "assessed_by_non_owner"
    ]
    assert [n.agency for n in misplaced] == [Agency.POLICE]


def test_provisional_notices_name_the_feeds_never_read_whole_and_change_nothing_else() -> None:
    """docs/decisions.md: a pass made before a feed was ever read to its end says so."""
    notices = notices_of(subject())
    marked = list(provisional(notices, ["police", "probation"][::-1]))
    assert [n.body["provisional"] for n in marked] == [["police", "probation"]] * len(notices)
    assert [(n.agency, n.key, n.kind, n.subject_id) for n in marked] == [
        (n.agency, n.key, n.kind, n.subject_id) for n in notices
    ]
    assert [{k: v for k, v in n.body.items() if k != "provisional"} for n in marked] == [
        n.body for n in notices
    ]
    assert not [n for n in notices if "provisional" in n.body]  # the originals are untouched
    assert list(provisional(notices, [])) == notices
