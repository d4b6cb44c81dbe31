"""What each agency's synthetic records look like: identifier styles, periods, assessments, merges.

Assertions name truth ids or record ids only, never names, dates of birth or
PNC/CRO numbers.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sync.core.identifiers import canonical_cro, canonical_pnc
from sync.core.records import AssessmentStatus, SupervisionKind
from sync.synth.histories import YEAR
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.unit.test_synth import TODAY, Feeds, Record
from tests.unit.test_synth_truth_agrees import Person, people

IN_PROGRESS_WITHIN_DAYS = 60


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> list[Person]:
    """A clean population: no noise, so every record is as its agency's system writes it."""
    out = tmp_path_factory.mktemp("clean")
    write_synthetic_feeds(out, SynthOptions(2_000, seed=41, today=TODAY))
    return people(Feeds(out))


def _day(text: object) -> date:
    return date.fromisoformat(str(text))


def _tid(person: Person) -> str:
    return str(person.truth["truth_id"])


def test_police_person_records_carry_a_canonical_pnc_and_padded_cro_and_no_noms(
    population: list[Person],
) -> None:
    """The police write every PNC in full (`YYYY/NNNNNNNC`), CROs padded, and hold no NOMS."""
    wrong = []
    for person in population:
        for record in person.person_records():
            if record["agency"] != "police":
                continue
            pnc, cro = record["pnc"], record["cro"]
            if pnc is None or canonical_pnc(str(pnc), TODAY) != pnc:
                wrong.append((_tid(person), "pnc"))
            if cro is not None and canonical_cro(str(cro)) != cro:
                wrong.append((_tid(person), "cro"))
            if "noms" in record:
                wrong.append((_tid(person), "noms"))
    assert wrong == []


def test_only_people_who_were_in_custody_have_a_noms_number(population: list[Person]) -> None:
    """A NOMS (prison) number is on probation's record only for someone with custody."""
    with_noms = [
        person
        for person in population
        if any(record.get("noms") is not None for record in person.of_type("person", "probation"))
    ]
    assert with_noms
    assert [_tid(person) for person in with_noms if not person.of_type("custody")] == []


def test_post_sentence_supervision_lasts_one_year(population: list[Person]) -> None:
    """Post-sentence supervision runs twelve months (365 days, inclusive) from release."""
    pss = [
        (_tid(person), record)
        for person in population
        for record in person.newest("supervision")
        if record["kind"] == SupervisionKind.POST_SENTENCE_SUPERVISION.value
    ]
    assert pss
    wrong = [
        tid
        for tid, record in pss
        if record["end"] is None
        or _day(record["end"]) != _day(record["start"]) + timedelta(days=YEAR - 1)
    ]
    assert wrong == []


def test_only_licences_run_without_an_end(population: list[Person]) -> None:
    """A supervision's end is null only for a (life) licence, as feed v1 says."""
    wrong = [
        str(record["id"])
        for person in population
        for record in person.of_type("supervision")
        if record["end"] is None and record["kind"] != SupervisionKind.LICENCE.value
    ]
    assert wrong == []


def test_an_assessment_in_progress_is_the_latest_and_recent(population: list[Person]) -> None:
    """Only an agency's latest assessment of a person is still in progress, begun lately."""
    wrong = []
    in_progress = 0
    for person in population:
        for agency in ("probation", "police"):
            current = [
                record
                for record in person.newest("assessment")
                if record["agency"] == agency and record.get("deleted") is not True
            ]
            # On a tie the one still in progress is the later.
            current.sort(
                key=lambda r: (
                    str(r["started_on"]),
                    r["status"] == AssessmentStatus.IN_PROGRESS.value,
                )
            )
            for position, record in enumerate(current):
                if record["status"] != AssessmentStatus.IN_PROGRESS.value:
                    continue
                in_progress += 1
                recent = _day(record["started_on"]) > TODAY - timedelta(
                    days=IN_PROGRESS_WITHIN_DAYS
                )
                if position != len(current) - 1 or not recent:
                    wrong.append(str(record["id"]))
    assert in_progress > 0
    assert wrong == []


def test_a_merge_comes_after_both_person_records(population: list[Person]) -> None:
    """A source system merges two person records only once both exist."""
    merges = 0
    wrong = []
    for person in population:
        stamps = {
            (agency, record["id"]): str(record["updated_at"])
            for agency, _, record in person.records
            if record["type"] == "person"
        }
        for agency, _, record in person.records:
            if record["type"] != "merge":
                continue
            merges += 1
            merged = str(record["updated_at"])
            for name in ("source_person_id", "target_person_id"):
                if merged <= stamps[agency, record[name]]:
                    wrong.append(str(record["id"]))
    assert merges > 0
    assert wrong == []


def test_police_only_people_are_assessed_while_registered(population: list[Person]) -> None:
    """With no supervision, the police assess (complete, or begin an open assessment) only
    while the registration runs."""
    wrong = []
    assessed = 0
    for person in population:
        if person.truth["kind"] != "police_only":
            continue
        periods = [
            (_day(r["start"]), None if r["end"] is None else _day(r["end"]))
            for r in person.newest("registration")
        ]
        for record in person.newest("assessment"):
            assessed += 1
            day = _day(record["completed_on"] or record["started_on"])
            if not any(start <= day and (end is None or day <= end) for start, end in periods):
                wrong.append(_tid(person))
    assert assessed > 0
    assert wrong == []


def test_probation_does_not_assess_people_it_supervises_for_other_offences_only(
    population: list[Person],
) -> None:
    """A probation-only case for a non-sexual offence has no ARMS assessment."""
    other = [
        person
        for person in population
        if person.truth["kind"] == "probation_only" and person.truth["scenario"] == "other_offence"
    ]
    assert other
    assert [_tid(person) for person in other if person.of_type("assessment")] == []


def test_the_police_assess_again_once_supervision_ends_while_still_registered(
    population: list[Person],
) -> None:
    """Supervision over long ago and the registration still running: the police have
    assessed the person since."""
    wrong = []
    checked = 0
    long_ago = TODAY - timedelta(days=YEAR // 2)
    for person in population:
        if person.truth["kind"] != "overlap":
            continue
        [plan] = person.newest("supervision")
        last = plan.get("terminated_on") or plan["end"]
        if last is None or _day(last) >= long_ago:
            continue
        registered_until = [r["end"] for r in person.newest("registration")]
        if not any(end is None or _day(end) > TODAY for end in registered_until):
            continue
        checked += 1
        police_since = [
            record
            for record in person.newest("assessment")
            if record["agency"] == "police"
            and _day(record["completed_on"] or record["started_on"]) > _day(last)
        ]
        if not police_since:
            wrong.append(_tid(person))
    assert checked > 0
    assert wrong == []


def test_people_convicted_of_a_sexual_offence_are_registered_from_conviction(
    population: list[Person],
) -> None:
    """In a new-conviction overlap the registration starts by the first custody or supervision."""
    wrong = []
    for person in population:
        if person.truth["scenario"] not in {"licence", "community_order"}:
            continue
        starts = [
            _day(record["start"])
            for kind in ("custody", "supervision")
            for record in person.newest(kind)
        ]
        [registration] = person.newest("registration")
        if _day(registration["start"]) > min(starts):
            wrong.append(_tid(person))
    assert wrong == []


def test_no_custody_ends_after_today(population: list[Person]) -> None:
    """A custody period still running has no end yet: no current one is dated after today."""
    wrong = [
        str(record["id"])
        for person in population
        for record in person.newest("custody")
        if record["end"] is not None and _day(record["end"]) > TODAY
    ]
    assert wrong == []


def test_people_registered_for_years_were_assessed_by_the_police_lately(
    population: list[Person],
) -> None:
    """Someone the police alone have registered for over three years, still registered, had
    an assessment in the last two years (ARMS is repeated at least every two years)."""
    wrong = []
    checked = 0
    for person in population:
        if person.truth["kind"] != "police_only":
            continue
        [registration] = person.newest("registration")
        end = registration["end"]
        if _day(registration["start"]) > TODAY - timedelta(days=3 * YEAR):
            continue
        if end is not None and _day(end) <= TODAY:
            continue
        checked += 1
        days = [_day(r["completed_on"] or r["started_on"]) for r in person.newest("assessment")]
        if not days or max(days) < TODAY - timedelta(days=2 * YEAR):
            wrong.append(_tid(person))
    assert checked > 0
    assert wrong == []


def test_a_second_person_record_holds_some_of_the_persons_assessments(
    population: list[Person],
) -> None:
    """When an agency holds a person twice, the earliest of several assessments (or the one
    assessment of a merged record) points at the second record, not all at the first."""
    wrong = []
    checked = 0
    for person in population:
        merged = {agency for agency, _, record in person.records if record["type"] == "merge"}
        for agency in ("probation", "police"):
            ids = [str(r["id"]) for r in person.person_records() if r["agency"] == agency]
            assessments = [r for r in person.newest("assessment") if r["agency"] == agency]
            if len(ids) < 2 or len(assessments) < (1 if agency in merged else 2):
                continue
            checked += 1
            if not any(r["person_id"] == ids[1] for r in assessments):
                wrong.append(_tid(person))
    assert checked > 0
    assert wrong == []


def test_probation_assesses_some_but_not_all_sexual_element_cases(
    population: list[Person],
) -> None:
    """Probation-only cases with a sexual element are assessed by probation only sometimes."""
    assessed = [
        bool(person.of_type("assessment"))
        for person in population
        if person.truth["scenario"] == "sexual_element"
    ]
    assert any(assessed)
    assert not all(assessed)


def _has_older_content(fresh: Record) -> bool:
    """Whether this record has content an older version would lack: a PNC, a completion,
    an end."""
    kind = fresh["type"]
    if kind == "person":
        return fresh.get("pnc") is not None
    if kind == "assessment":
        return bool(fresh["status"] == AssessmentStatus.COMPLETED.value)
    if kind == "supervision":
        return fresh.get("end") is not None
    return True


def test_a_stale_version_differs_from_the_version_that_replaced_it(
    population: list[Person],
) -> None:
    """An older version that arrives late carries older content, so a consumer that let it
    win would be seen to: a person without the PNC, an assessment not yet completed, a
    period with another end."""
    wrong = []
    stale_seen = 0
    for person in population:
        latest: dict[tuple[str, object, object], Record] = {}
        for agency, _, record in person.records:
            key = (agency, record["type"], record["id"])
            fresh = latest.get(key)
            if fresh is not None and str(record["updated_at"]) < str(fresh["updated_at"]):
                comparable = _has_older_content(fresh)
                if comparable:
                    stale_seen += 1
                    without_stamp = {**record, "updated_at": None}
                    if without_stamp == {**fresh, "updated_at": None}:
                        wrong.append(str(record["id"]))
                continue
            latest[key] = record
    assert stale_seen > 0
    assert wrong == []
