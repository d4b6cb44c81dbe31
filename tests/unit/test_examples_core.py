"""The pure core against the conformance examples, for subjects built by hand.

Each subject below copies, record for record, one group of
`spec/examples/probation.jsonl` and `police.jsonl` (already linked, as the
matcher would link them). The test reads the decisions and flags the specs
require from `expected-ownership.jsonl` and `expected-flags.jsonl` and checks
the policy engine and the duplicate rules give exactly those for these subjects.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sync.core.duplicates import DUPLICATE_REPORT_KINDS, find_flags
from sync.core.policy import PolicySettings, build_timeline, segment_at
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Gender,
    Offence,
    Period,
    Person,
    SubjectFacts,
    Supervision,
    SupervisionKind,
)

AS_OF = date(2026, 11, 28)
WINDOW_DAYS = 180
SETTINGS = PolicySettings()
ADULT = date(1975, 6, 15)
LICENCE = SupervisionKind.LICENCE
ORDER = SupervisionKind.COMMUNITY_ORDER
SEXUAL = Offence.SEXUAL


def probation(person_id: str, gender: Gender = Gender.MALE, dob: date = ADULT) -> Person:
    return Person(Agency.PROBATION, person_id, "EXAMPLE", person_id, gender, "NW", dob)


def police(person_id: str, gender: Gender = Gender.MALE, dob: date = ADULT) -> Person:
    return Person(Agency.POLICE, person_id, "EXAMPLE", person_id, gender, "LANC", dob)


def sup(
    sup_id: str,
    person_id: str,
    kind: SupervisionKind,
    offence: Offence,
    start: date,
    end: date,
    terminated_on: date | None = None,
) -> Supervision:
    return Supervision(sup_id, person_id, kind, offence, start, end, terminated_on)


def registered(reg_id: str, person_id: str, start: date) -> Period:
    return Period(reg_id, person_id, start, None)


def done(agency: Agency, assessment_id: str, person_id: str, started: date, on: date) -> Assessment:
    return Assessment(agency, assessment_id, person_id, started, on, AssessmentStatus.COMPLETED)


def worked_example(n: int, police_on: date, recall: bool = False) -> SubjectFacts:
    crn, ref, dob = f"W90000{n}", f"WEX-{n}", date(1970, 1, 2)
    return SubjectFacts(
        subject_id=f"W{n}",
        persons=(probation(crn, dob=dob), police(ref, dob=dob)),
        supervisions=(sup(f"WS-{n}", crn, LICENCE, SEXUAL, date(2025, 3, 1), date(2027, 2, 28)),),
        custodies=(
            (Period(f"WC-{n}", crn, date(2025, 5, 1), date(2025, 6, 15)),) if recall else ()
        ),
        registrations=(registered(f"WR-{n}", ref, date(2019, 1, 1)),),
        assessments=(
            done(Agency.PROBATION, f"WA-{n}", crn, date(2025, 4, 1), date(2025, 4, 20)),
            done(Agency.POLICE, f"WPA-{n}", ref, police_on, police_on),
        ),
    )


def probation_only(person_id: str, supervision: Supervision, dob: date = ADULT) -> SubjectFacts:
    return SubjectFacts(
        subject_id=person_id,
        persons=(probation(person_id, dob=dob),),
        supervisions=(supervision,),
    )


def both_agencies(
    crn: str, ref: str, registration_start: date, *supervisions: Supervision
) -> SubjectFacts:
    return SubjectFacts(
        subject_id=crn,
        persons=(probation(crn), police(ref)),
        supervisions=supervisions,
        registrations=(registered(f"{ref}-R", ref, registration_start),),
    )


SUBJECTS: tuple[SubjectFacts, ...] = (
    worked_example(0, date(2025, 5, 10)),
    worked_example(1, date(2024, 11, 2)),
    worked_example(2, date(2025, 5, 10), recall=True),
    probation_only(
        "U000001",
        sup("US-1", "U000001", LICENCE, SEXUAL, date(2024, 9, 1), date(2027, 8, 31)),
        dob=date(2007, 3, 10),
    ),
    probation_only(
        "E000001",
        sup("ES-1", "E000001", ORDER, Offence.SEXUAL_ELEMENT, date(2024, 5, 1), date(2026, 4, 30)),
    ),
    probation_only(
        "M000000", sup("MS-0", "M000000", LICENCE, SEXUAL, date(2015, 10, 1), date(2017, 9, 30))
    ),
    probation_only(
        "M000001", sup("MS-1", "M000001", LICENCE, SEXUAL, date(2015, 10, 1), date(2016, 7, 31))
    ),
    probation_only(
        "M000002", sup("MS-2", "M000002", ORDER, SEXUAL, date(2015, 8, 29), date(2017, 8, 28))
    ),
    probation_only(
        "M000003", sup("MS-3", "M000003", ORDER, SEXUAL, date(2015, 8, 28), date(2017, 8, 27))
    ),
    probation_only(
        "M000004", sup("MS-4", "M000004", LICENCE, SEXUAL, date(2016, 2, 29), date(2016, 8, 28))
    ),
    both_agencies(
        "R000001",
        "R-1",
        date(2012, 1, 1),
        sup("RS-1", "R000001", LICENCE, Offence.OTHER, date(2024, 2, 1), date(2025, 12, 31)),
    ),
    both_agencies(
        "T000001",
        "T-1",
        date(2022, 11, 1),
        sup(
            "TS-1",
            "T000001",
            LICENCE,
            SEXUAL,
            date(2023, 1, 1),
            date(2026, 12, 31),
            terminated_on=date(2024, 6, 30),
        ),
    ),
    SubjectFacts(
        subject_id="C",
        persons=(probation("C000001"), police("C-1", gender=Gender.FEMALE)),
        registrations=(registered("CR-1", "C-1", date(2018, 1, 1)),),
    ),
    SubjectFacts(
        subject_id="D",
        persons=(probation("D000001"), probation("D000002"), police("D-1")),
        supervisions=(
            sup("DS-1", "D000001", LICENCE, SEXUAL, date(2026, 1, 1), date(2028, 12, 31)),
        ),
        registrations=(registered("DR-1", "D-1", date(2015, 1, 1)),),
        assessments=(
            Assessment(
                Agency.POLICE, "DPA-1", "D-1", date(2026, 11, 1), None, AssessmentStatus.IN_PROGRESS
            ),
        ),
    ),
)


def subject_holding(agency: str, person_id: str) -> SubjectFacts | None:
    for facts in SUBJECTS:
        if any(p.agency.value == agency and p.person_id == person_id for p in facts.persons):
            return facts
    return None


def read_jsonl(examples_dir: Path, name: str) -> list[dict[str, Any]]:
    lines = (examples_dir / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def expected_ownership(examples_dir: Path) -> list[tuple[SubjectFacts, dict[str, Any]]]:
    cases = []
    for line in read_jsonl(examples_dir, "expected-ownership.jsonl"):
        facts = subject_holding(line["record"]["agency"], line["record"]["person_id"])
        if facts is not None:
            cases.append((facts, line))
    return cases


def test_every_hand_built_subject_has_expectations(examples_dir: Path) -> None:
    covered = {id(facts) for facts, _line in expected_ownership(examples_dir)}
    assert covered == {id(facts) for facts in SUBJECTS}


def test_ownership_matches_the_examples(examples_dir: Path) -> None:
    cases = expected_ownership(examples_dir)
    timelines = {id(facts): build_timeline(facts, SETTINGS) for facts in SUBJECTS}
    for facts, line in cases:
        segment = segment_at(timelines[id(facts)], date.fromisoformat(line["as_of"]))
        got = (segment.owner.value, segment.rule, segment.mandatory)
        assert got == (line["owner"], line["rule"], line["mandatory"])


def flag_identity(kind: str, agency: str | None, target: str | tuple[str, ...]) -> tuple[Any, ...]:
    return (kind, agency, target)


def test_flags_match_the_examples_for_these_subjects(examples_dir: Path) -> None:
    assessment_ids = {a.id for facts in SUBJECTS for a in facts.assessments}
    person_ids = {p.person_id for facts in SUBJECTS for p in facts.persons}
    expected = set()
    for line in read_jsonl(examples_dir, "expected-flags.jsonl"):
        if "assessment_id" in line and line["assessment_id"] in assessment_ids:
            expected.add(flag_identity(line["kind"], line["agency"], line["assessment_id"]))
        elif set(line.get("person_ids", ())) & person_ids:
            expected.add(flag_identity(line["kind"], line["agency"], tuple(line["person_ids"])))
    got = set()
    for facts in SUBJECTS:
        timeline = build_timeline(facts, SETTINGS)
        for flag in find_flags(facts, timeline, AS_OF, WINDOW_DAYS):
            if flag.kind not in DUPLICATE_REPORT_KINDS:
                continue
            agency = flag.agency.value if flag.agency is not None else None
            target = flag.assessment_id or flag.person_ids
            got.add(flag_identity(flag.kind.value, agency, target))
    assert got == expected
