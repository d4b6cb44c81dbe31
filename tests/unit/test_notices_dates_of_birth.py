"""No notice lets an agency work out the other agency's date of birth where nothing turns on it.

The policy decides age from the earliest date of birth on the subject's records
(`ownership-policy.md`), and the `OUT-UNDER-18` segment ends the day before the
18th birthday it gives. A notice must never carry the other agency's dates of
birth (`exchange.md`), so an agency that does not hold that date is told the
childhood segment as part of the next one whenever no one owns ARMS on either
side; only a change of owner on the birthday itself is told by its date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.core.duplicates import Flag, find_flags
from sync.core.notices import (
    NOTICE_FLAG,
    NOTICE_HANDOVER,
    NOTICE_OWNERSHIP,
    Notice,
    notices_for_subject,
    timeline_told_to,
)
from sync.core.policy import (
    PI_15_2015,
    PI_15_2015_ID,
    PolicySettings,
    PolicyVersion,
    Segment,
    adult_from,
    build_timeline,
    segment_at,
)
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Gender,
    Offence,
    Owner,
    Period,
    Person,
    SubjectFacts,
    Supervision,
    SupervisionKind,
)
from sync.core.rules import RULE_NONE_NOT_IN_SCOPE, RULE_OUT_UNDER_18, RULE_POLICE_REGISTERED

POLICY = PolicySettings()
CRN, POLICE_REF = "X000001", "P-1"
EARLIER, LATER = date(1990, 3, 10), date(1990, 3, 11)
EIGHTEEN_AT_EARLIER = date(2008, 3, 10)
REGISTRATION = Period("R-1", POLICE_REF, date(2019, 1, 1), None)


def facts(
    probation_dob: date | None,
    police_dob: date | None,
    supervisions: tuple[Supervision, ...] = (),
    registrations: tuple[Period, ...] = (REGISTRATION,),
) -> SubjectFacts:
    """One man known to both agencies, with each agency's date of birth for him."""
    return SubjectFacts(
        subject_id="S-1",
        persons=(
            Person(Agency.PROBATION, CRN, "TEST", "SUBJECT", Gender.MALE, "NW", probation_dob),
            Person(Agency.POLICE, POLICE_REF, "TEST", "SUBJECT", Gender.MALE, "LANC", police_dob),
        ),
        supervisions=supervisions,
        registrations=registrations,
    )


def told(subject: SubjectFacts) -> dict[Agency, list[Notice]]:
    """Each agency's ownership and handover notices about the subject."""
    notices = notices_for_subject(subject, build_timeline(subject, POLICY), ())
    return {
        agency: [n for n in notices if n.agency is agency and n.kind != "flag"]
        for agency in (Agency.PROBATION, Agency.POLICE)
    }


def dates_in(notices: list[Notice]) -> set[str]:
    """Every date a set of notices carries."""
    found: set[str] = set()
    for notice in notices:
        body: dict[str, Any] = notice.body
        if notice.kind == NOTICE_HANDOVER:
            found.add(body["on"])
        for segment in body.get("segments", ()):
            found.update(day for day in (segment["from"], segment["to"]) if day is not None)
    return found


def segments_of(notices: list[Notice]) -> list[dict[str, Any]]:
    [ownership] = [n for n in notices if n.kind == NOTICE_OWNERSHIP]
    segments: list[dict[str, Any]] = ownership.body["segments"]
    return segments


def test_the_agency_holding_a_later_date_of_birth_is_not_told_the_other_birthday() -> None:
    notices = told(facts(probation_dob=EARLIER, police_dob=LATER))

    eve = (EIGHTEEN_AT_EARLIER - timedelta(days=1)).isoformat()
    assert {eve, EIGHTEEN_AT_EARLIER.isoformat()} <= dates_in(notices[Agency.PROBATION])
    assert dates_in(notices[Agency.POLICE]) == {"2018-12-31", "2019-01-01"}
    first, second = segments_of(notices[Agency.POLICE])
    assert (first["from"], first["to"], first["owner"], first["rule"]) == (
        None,
        "2018-12-31",
        "none",
        "NONE-NOT-IN-SCOPE",
    )
    assert (second["from"], second["owner"]) == ("2019-01-01", "police")


def test_an_agency_holding_no_date_of_birth_is_not_told_the_other_birthday() -> None:
    notices = told(facts(probation_dob=EARLIER, police_dob=None))
    assert EIGHTEEN_AT_EARLIER.isoformat() not in dates_in(notices[Agency.POLICE])


def test_both_agencies_holding_the_same_date_are_told_the_birthday() -> None:
    notices = told(facts(probation_dob=EARLIER, police_dob=EARLIER))
    for agency in (Agency.PROBATION, Agency.POLICE):
        assert EIGHTEEN_AT_EARLIER.isoformat() in dates_in(notices[agency]), agency


def test_a_change_of_owner_on_the_birthday_is_told_by_its_date() -> None:
    """Probation supervises a sexual offence from before the 18th birthday: it owns
    ARMS from that day, and the police must know from when they must not."""
    licence = Supervision(
        "S-L",
        CRN,
        SupervisionKind.LICENCE,
        Offence.SEXUAL,
        date(2007, 6, 1),
        date(2012, 6, 1),
    )
    notices = told(facts(probation_dob=EARLIER, police_dob=LATER, supervisions=(licence,)))
    handovers = [n.body for n in notices[Agency.POLICE] if n.kind == NOTICE_HANDOVER]
    assert EIGHTEEN_AT_EARLIER.isoformat() in [h["on"] for h in handovers]


def owner_on(timeline: Sequence[Segment], day: date) -> Owner:
    """The owner of the one segment covering `day`."""
    [segment] = [s for s in timeline if s.covers(day)]
    return segment.owner


def assert_contiguous(timeline: Sequence[Segment]) -> None:
    """Every date has one segment: open at both ends, each starting the day after the last."""
    assert timeline[0].start is None
    assert timeline[-1].end is None
    for before, after in pairwise(timeline):
        assert before.end is not None
        assert after.start == before.end + timedelta(days=1)


def licences_from(start: date | None) -> tuple[Supervision, ...]:
    """A two-year licence for a sexual offence from `start` (none without a start)."""
    if start is None:
        return ()
    end = start + timedelta(days=700)
    return (Supervision("S-L", CRN, SupervisionKind.LICENCE, Offence.SEXUAL, start, end),)


def registered_from(start: date | None) -> tuple[Period, ...]:
    """An open-ended police registration from `start` (none without a start)."""
    return () if start is None else (Period("R-1", POLICE_REF, start, None),)


DOBS = st.one_of(st.none(), st.dates(min_value=date(1985, 1, 1), max_value=date(1995, 12, 31)))
STARTS = st.one_of(st.none(), st.dates(min_value=date(2000, 1, 1), max_value=date(2020, 12, 31)))
DAYS = st.lists(st.dates(min_value=date(1980, 1, 1), max_value=date(2030, 1, 1)), max_size=20)


@given(DOBS, DOBS, STARTS, STARTS, DAYS)
def test_each_agency_is_told_every_day_s_owner_and_no_birthday_it_does_not_hold(
    probation_dob: date | None,
    police_dob: date | None,
    licence_start: date | None,
    registration_start: date | None,
    days: list[date],
) -> None:
    subject = facts(
        probation_dob,
        police_dob,
        licences_from(licence_start),
        registered_from(registration_start),
    )
    timeline = build_timeline(subject, POLICY)
    known = [dob for dob in (probation_dob, police_dob) if dob is not None]
    for agency, own_dob in ((Agency.PROBATION, probation_dob), (Agency.POLICE, police_dob)):
        told_timeline = timeline_told_to(agency, subject, timeline)
        assert_contiguous(told_timeline)
        for day in days:
            assert owner_on(told_timeline, day) == owner_on(timeline, day)
        if not known or own_dob == min(known):
            assert list(told_timeline) == list(timeline)
            continue
        eighteenth = adult_from(min(known))
        assert eighteenth is not None
        if eighteenth in {segment.start for segment in told_timeline}:
            eve = eighteenth - timedelta(days=1)
            assert owner_on(timeline, eighteenth) != owner_on(timeline, eve)


# Flags: a flag about an agency's assessment gives the rule of the timeline as told
# to that agency, so it never names `OUT-UNDER-18` where the ownership notice does not.

EVE_OF_EIGHTEEN = EIGHTEEN_AT_EARLIER - timedelta(days=1)


def assessed(agency: Agency, ref: str, *days: date) -> tuple[Assessment, ...]:
    """Completed assessments by `agency` on the person record `ref`, one on each day."""
    return tuple(
        Assessment(agency, f"{agency.value}-A{n}", ref, day, day, AssessmentStatus.COMPLETED)
        for n, day in enumerate(days)
    )


def with_assessments(subject: SubjectFacts, *assessments: Assessment) -> SubjectFacts:
    return replace(subject, assessments=assessments)


def flags_of(subject: SubjectFacts) -> tuple[Flag, ...]:
    return find_flags(subject, build_timeline(subject, POLICY), date(2026, 11, 28))


def flag_notice_rules(subject: SubjectFacts, agency: Agency) -> dict[str, str | None]:
    """The rule each of `agency`'s flag notices gives, by assessment."""
    timeline = build_timeline(subject, POLICY)
    notices = notices_for_subject(subject, timeline, flags_of(subject))
    return {
        n.body["assessment_id"]: n.body["rule_at_reference_date"]
        for n in notices
        if n.agency is agency and n.kind == NOTICE_FLAG
    }


def told_rules(subject: SubjectFacts, agency: Agency) -> dict[str | None, str | None]:
    return {f.assessment_id: f.rule_told for f in flags_of(subject) if f.agency is agency}


def police_assessing_around_the_birthday(police_dob: date | None) -> SubjectFacts:
    """Police assess on the eve of the 18th birthday the probation date gives, and on it."""
    subject = facts(probation_dob=EARLIER, police_dob=police_dob)
    return with_assessments(
        subject, *assessed(Agency.POLICE, POLICE_REF, EVE_OF_EIGHTEEN, EIGHTEEN_AT_EARLIER)
    )


def test_a_flag_does_not_name_the_childhood_rule_to_an_agency_without_the_deciding_date() -> None:
    subject = police_assessing_around_the_birthday(police_dob=None)
    flags = {f.assessment_id: f for f in flags_of(subject)}
    assert flags["police-A0"].rule_at_reference_date == RULE_OUT_UNDER_18  # as decided
    expected = {"police-A0": "NONE-NOT-IN-SCOPE", "police-A1": "NONE-NOT-IN-SCOPE"}
    assert flag_notice_rules(subject, Agency.POLICE) == expected
    assert told_rules(subject, Agency.POLICE) == expected


def test_a_flag_does_not_name_the_childhood_rule_to_an_agency_with_a_later_date() -> None:
    subject = police_assessing_around_the_birthday(police_dob=LATER)
    rules = set(flag_notice_rules(subject, Agency.POLICE).values())
    assert rules == {"NONE-NOT-IN-SCOPE"}
    assert set(told_rules(subject, Agency.POLICE).values()) == {"NONE-NOT-IN-SCOPE"}


def test_a_flag_names_the_childhood_rule_to_the_agency_holding_the_deciding_date() -> None:
    subject = police_assessing_around_the_birthday(police_dob=EARLIER)
    expected = {"police-A0": RULE_OUT_UNDER_18, "police-A1": "NONE-NOT-IN-SCOPE"}
    assert told_rules(subject, Agency.POLICE) == expected
    assert flag_notice_rules(subject, Agency.POLICE) == expected


def test_the_agency_holding_the_deciding_date_is_told_the_childhood_rule_of_its_flag() -> None:
    subject = with_assessments(
        facts(probation_dob=EARLIER, police_dob=None),
        *assessed(Agency.PROBATION, CRN, EVE_OF_EIGHTEEN),
    )
    assert told_rules(subject, Agency.PROBATION) == {"probation-A0": RULE_OUT_UNDER_18}
    assert flag_notice_rules(subject, Agency.PROBATION) == {"probation-A0": RULE_OUT_UNDER_18}


def test_without_any_date_of_birth_a_flag_is_told_the_rule_decided() -> None:
    subject = police_assessing_around_the_birthday(police_dob=None)
    subject = replace(
        subject, persons=tuple(replace(p, date_of_birth=None) for p in subject.persons)
    )
    for flag in flags_of(subject):
        assert flag.rule_told == flag.rule_at_reference_date
    assert set(told_rules(subject, Agency.POLICE).values()) == {"NONE-NOT-IN-SCOPE"}


@given(DOBS, DOBS, STARTS, STARTS, DAYS, DAYS)
def test_no_flag_names_a_rule_its_agency_s_ownership_notice_does_not(
    probation_dob: date | None,
    police_dob: date | None,
    licence_start: date | None,
    registration_start: date | None,
    probation_days: list[date],
    police_days: list[date],
) -> None:
    subject = with_assessments(
        facts(
            probation_dob,
            police_dob,
            licences_from(licence_start),
            registered_from(registration_start),
        ),
        *assessed(Agency.PROBATION, CRN, *probation_days),
        *assessed(Agency.POLICE, POLICE_REF, *police_days),
    )
    timeline = build_timeline(subject, POLICY)
    flags = find_flags(subject, timeline, date(2026, 11, 28))
    notices = notices_for_subject(subject, timeline, flags)
    for agency in (Agency.PROBATION, Agency.POLICE):
        told_timeline = timeline_told_to(agency, subject, timeline)
        named = {
            segment["rule"]
            for segment in segments_of(
                [n for n in notices if n.agency is agency and n.kind == NOTICE_OWNERSHIP]
            )
        }
        for notice in notices:
            if notice.agency is agency and notice.kind == NOTICE_FLAG:
                rule = notice.body["rule_at_reference_date"]
                assert rule is None or rule in named
        own_flags = {f.key: f for f in flags if f.agency is agency and f.reference_date}
        for flag in own_flags.values():
            assert flag.reference_date is not None
            assert flag.rule_told == segment_at(told_timeline, flag.reference_date).rule
            assert flag.rule_told in named


def test_an_agency_holding_the_deciding_date_on_one_of_its_records_is_told_the_birthday() -> None:
    """Probation holds two records for the man, one with the earliest date of birth."""
    subject = with_assessments(
        facts(probation_dob=EARLIER, police_dob=LATER),
        *assessed(Agency.PROBATION, CRN, EVE_OF_EIGHTEEN),
    )
    second = Person(Agency.PROBATION, "X000002", "TEST", "SUBJECT", Gender.MALE, "NW", LATER)
    subject = replace(subject, persons=(*subject.persons, second))
    timeline = build_timeline(subject, POLICY)

    assert list(timeline_told_to(Agency.PROBATION, subject, timeline)) == list(timeline)
    assert told_rules(subject, Agency.PROBATION)["probation-A0"] == RULE_OUT_UNDER_18
    assert flag_notice_rules(subject, Agency.PROBATION)["probation-A0"] == RULE_OUT_UNDER_18


# A later policy version taking effect while the man is a child: only the childhood
# segment ending on the eve of the birthday is told as part of the next one; the one
# before the version's effective date owes nothing to a date of birth, and is told.

CHILDHOOD_VERSION_START = date(2005, 1, 1)
LATER_VERSION = PolicyVersion("pi-later", CHILDHOOD_VERSION_START, PI_15_2015.rules)
TWO_VERSIONS = PolicySettings(policies=(PI_15_2015, LATER_VERSION))


def told_segments(
    subject: SubjectFacts, agency: Agency, settings: PolicySettings
) -> list[tuple[date | None, str, str]]:
    """Each told segment's start, rule and policy version."""
    timeline = build_timeline(subject, settings)
    return [(s.start, s.rule, s.policy) for s in timeline_told_to(agency, subject, timeline)]


def test_a_childhood_segment_ending_before_the_birthday_is_told_as_decided() -> None:
    subject = facts(probation_dob=EARLIER, police_dob=None)

    assert told_segments(subject, Agency.POLICE, TWO_VERSIONS) == [
        (None, RULE_OUT_UNDER_18, PI_15_2015_ID),
        (CHILDHOOD_VERSION_START, RULE_NONE_NOT_IN_SCOPE, "pi-later"),
        (REGISTRATION.start, RULE_POLICE_REGISTERED, "pi-later"),
    ]
    assert told_segments(subject, Agency.PROBATION, TWO_VERSIONS) == [
        (None, RULE_OUT_UNDER_18, PI_15_2015_ID),
        (CHILDHOOD_VERSION_START, RULE_OUT_UNDER_18, "pi-later"),
        (EIGHTEEN_AT_EARLIER, RULE_NONE_NOT_IN_SCOPE, "pi-later"),
        (REGISTRATION.start, RULE_POLICE_REGISTERED, "pi-later"),
    ]


def test_a_flag_on_the_first_day_of_a_told_segment_gives_that_segment_s_rule() -> None:
    """Police assess on the last day of the first version and on the first of the next:
    the ownership notice gives them the childhood rule, then the adult one."""
    subject = with_assessments(
        facts(probation_dob=EARLIER, police_dob=None),
        *assessed(
            Agency.POLICE,
            POLICE_REF,
            CHILDHOOD_VERSION_START - timedelta(days=1),
            CHILDHOOD_VERSION_START,
        ),
    )
    timeline = build_timeline(subject, TWO_VERSIONS)
    flags = find_flags(subject, timeline, date(2026, 11, 28))
    notices = notices_for_subject(subject, timeline, flags)

    expected = {"police-A0": RULE_OUT_UNDER_18, "police-A1": RULE_NONE_NOT_IN_SCOPE}
    assert {f.assessment_id: f.rule_told for f in flags if f.agency is Agency.POLICE} == expected
    assert {
        n.body["assessment_id"]: n.body["rule_at_reference_date"]
        for n in notices
        if n.agency is Agency.POLICE and n.kind == NOTICE_FLAG
    } == expected


def test_a_childhood_someone_owns_is_told_with_its_end_to_an_agency_without_the_date() -> None:
    """Under a policy that gives the police ARMS for a child, the police lose it on the
    18th birthday, and must be told that day though they do not hold the date."""
    rules = tuple(
        (rule, Owner.POLICE if rule == RULE_OUT_UNDER_18 else owner)
        for rule, owner in PI_15_2015.rules
    )
    settings = PolicySettings(policies=(PolicyVersion("pi-owned-childhood", None, rules),))
    subject = facts(probation_dob=EARLIER, police_dob=None)
    timeline = build_timeline(subject, settings)

    told_timeline = timeline_told_to(Agency.POLICE, subject, timeline)

    assert list(told_timeline) == list(timeline)
    assert owner_on(told_timeline, EVE_OF_EIGHTEEN) is Owner.POLICE
    assert owner_on(told_timeline, EIGHTEEN_AT_EARLIER) is Owner.NONE
