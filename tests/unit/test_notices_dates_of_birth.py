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
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.core.notices import (
    NOTICE_HANDOVER,
    NOTICE_OWNERSHIP,
    Notice,
    notices_for_subject,
    timeline_told_to,
)
from sync.core.policy import PolicySettings, Segment, adult_from, build_timeline
from sync.core.records import (
    Agency,
    Gender,
    Offence,
    Owner,
    Period,
    Person,
    SubjectFacts,
    Supervision,
    SupervisionKind,
)

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
