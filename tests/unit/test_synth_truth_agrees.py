"""The synthetic generator's truth file agrees with the feeds it wrote.

Every event, case kind, scenario and noise kind a truth line claims can be seen
in that person's records, and what the records show is claimed. Assertions name
truth ids only, never names, dates of birth or PNC/CRO numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from sync.core.identifiers import (
    NAME_SYSTEM_PREFIXES,
    PLACEHOLDER_DATES_OF_BIRTH,
    InvalidIdentifier,
    canonical_cro,
    canonical_pnc,
)
from sync.core.records import Agency, AssessmentStatus, SupervisionKind
from sync.synth.histories import Event
from sync.synth.options import NoiseKind, SynthOptions
from sync.synth.references import JUNK_CRO
from sync.synth.stream import write_synthetic_feeds
from tests.unit.test_synth import TODAY, Feeds, Record

ADULT_YEARS = 18
YOUNGEST_AT_FIRST_FACT_DAYS = 12 * 365
PLACEHOLDERS = {day.isoformat() for day in PLACEHOLDER_DATES_OF_BIRTH}
SCENARIOS = {
    "police_only": {"registered"},
    "probation_only": {"other_offence", "sexual_element", "sexual_unregistered"},
    "overlap": {"licence", "community_order", "registered_then_supervised"},
}
LICENCE_KINDS = {SupervisionKind.LICENCE.value, SupervisionKind.POST_SENTENCE_SUPERVISION.value}
ORDER_KINDS = {
    SupervisionKind.COMMUNITY_ORDER.value,
    SupervisionKind.SUSPENDED_SENTENCE_ORDER.value,
}


@dataclass
class Person:
    """One truth line with every version of every record that belongs to it, in arrival order."""

    truth: Record
    records: list[tuple[str, int, Record]] = field(default_factory=list)

    def of_type(self, kind: str, agency: str | None = None) -> list[Record]:
        """Every version of this person's records of one type (of one agency)."""
        return [
            record
            for name, _, record in self.records
            if record["type"] == kind and agency in (None, name)
        ]

    def newest(self, kind: str) -> list[Record]:
        """The winning version of each record of one type (later stamp, then later arrival)."""
        winners: dict[tuple[str, object], tuple[str, int, Record]] = {}
        for name, position, record in self.records:
            if record["type"] != kind:
                continue
            key = (name, record["id"])
            stamp = str(record["updated_at"])
            if key not in winners or stamp >= winners[key][0]:
                winners[key] = (stamp, position, record)
        return [record for _, _, record in winners.values()]

    def person_records(self) -> list[Record]:
        """The first version of each person record, in the order the truth lists them."""
        first: dict[tuple[str, object], Record] = {}
        for name, _, record in self.records:
            if record["type"] == "person":
                first.setdefault((name, record["id"]), record)
        return [first[ref["agency"], ref["person_id"]] for ref in self.truth["records"]]


def people(feeds: Feeds) -> list[Person]:
    """Each truth line with its records; a record belongs to the person its reference names."""
    by_id = {str(truth["truth_id"]): Person(truth) for truth in feeds.truth}
    owner = {
        (ref["agency"], ref["person_id"]): str(truth["truth_id"])
        for truth in feeds.truth
        for ref in truth["records"]
    }
    for agency, records in feeds.records.items():
        for position, record in enumerate(records):
            pointer = record.get("person_id", record.get("target_person_id", record["id"]))
            by_id[owner[agency.value, pointer]].records.append((agency.value, position, record))
    return list(by_id.values())


def _day(text: object) -> int:
    return date.fromisoformat(str(text)).toordinal()


def _birthday(born: str, years: int) -> int:
    """The ordinal of the day someone born on `born` turns `years` (1 March for 29 February)."""
    day = date.fromisoformat(born)
    try:
        return day.replace(year=day.year + years).toordinal()
    except ValueError:
        return date(day.year + years, 3, 1).toordinal()


def _seen_events(person: Person) -> set[str]:
    """The events the records themselves show."""
    seen: set[str] = set()
    supervisions = person.of_type("supervision")
    starts = [_day(record["start"]) for record in supervisions]
    if any(record.get("terminated_on") is not None for record in supervisions):
        seen.add(Event.EARLY_TERMINATION)
    if any(record["end"] is None for record in supervisions):
        seen.add(Event.LIFE_LICENCE)
    if starts and any(_day(c["start"]) > min(starts) for c in person.of_type("custody")):
        seen.add(Event.RECALL)
    merged = {agency for agency, _, record in person.records if record["type"] == "merge"}
    if merged:
        seen.add(Event.MERGE)
    for agency in (Agency.PROBATION.value, Agency.POLICE.value):
        ids = {record["id"] for record in person.of_type("person", agency)}
        if len(ids) > 1 and agency not in merged:
            seen.add(Event.DUPLICATE_PERSON_RECORD)
    newest: dict[tuple[str, object, object], str] = {}
    arrived: set[tuple[str, object]] = set()
    for agency, _, record in person.records:
        key = (agency, record["type"], record["id"])
        stamp = str(record["updated_at"])
        if key in newest and stamp < newest[key]:
            seen.add(Event.STALE_VERSION)
        newest[key] = max(stamp, newest.get(key, stamp))
        if record.get("deleted") is True:
            seen.add(Event.DELETED_RECORD)
        if record["type"] == "person":
            arrived.add((agency, record["id"]))
        elif "person_id" in record and (agency, record["person_id"]) not in arrived:
            seen.add(Event.LATE_PERSON)
    statuses = {str(record["status"]) for record in person.newest("assessment")}
    if AssessmentStatus.IN_PROGRESS.value in statuses:
        seen.add(Event.IN_PROGRESS_ASSESSMENT)
    if AssessmentStatus.CANCELLED.value in statuses:
        seen.add(Event.CANCELLED_ASSESSMENT)
    born = person.person_records()[0]["date_of_birth"]
    if starts and _birthday(str(born), ADULT_YEARS) > min(starts):
        seen.add(Event.TURNS_18)
    return seen


SEEN_EVENTS = {
    Event.EARLY_TERMINATION,
    Event.LIFE_LICENCE,
    Event.RECALL,
    Event.MERGE,
    Event.DUPLICATE_PERSON_RECORD,
    Event.STALE_VERSION,
    Event.DELETED_RECORD,
    Event.LATE_PERSON,
    Event.IN_PROGRESS_ASSESSMENT,
    Event.CANCELLED_ASSESSMENT,
    Event.TURNS_18,
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> list[Person]:
    """A clean population (no noise): every person record is the person's true details."""
    out = tmp_path_factory.mktemp("clean")
    write_synthetic_feeds(out, SynthOptions(2_000, seed=31, today=TODAY))
    return people(Feeds(out))


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> list[Person]:
    """A population at full noise."""
    out = tmp_path_factory.mktemp("noisy")
    write_synthetic_feeds(out, SynthOptions(3_000, seed=32, noise=1.0, today=TODAY))
    return people(Feeds(out))


def _disagreements(population: list[Person], names: set[str]) -> list[tuple[str, str]]:
    wrong = []
    for person in population:
        claimed = set(person.truth["events"]) & names
        for event in claimed ^ (_seen_events(person) & names):
            wrong.append((str(person.truth["truth_id"]), event))
    return wrong


@pytest.mark.parametrize(
    "event",
    sorted(SEEN_EVENTS),
)
def test_each_event_in_the_truth_is_exactly_what_the_records_show(
    clean: list[Person], event: str
) -> None:
    """A truth line names an event if and only if that person's records show it, and some do."""
    assert _disagreements(clean, {event}) == []
    assert any(event in person.truth["events"] for person in clean)


def test_the_truth_names_only_known_events_and_noise_each_once_in_order(
    noisy: list[Person],
) -> None:
    """Events and noise kinds are sorted and unique: a seed gives the same bytes in any process."""
    known_events = {v for k, v in vars(Event).items() if not k.startswith("_")}
    known_noise = {v for k, v in vars(NoiseKind).items() if not k.startswith("_")}
    wrong = [
        str(person.truth["truth_id"])
        for person in noisy
        for listed, known in (
            (person.truth["events"], known_events),
            (person.truth["noise"], known_noise),
        )
        if list(listed) != sorted(set(listed)) or not set(listed) <= known
    ]
    assert wrong == []


def test_kind_and_scenario_match_the_agencies_and_supervision(clean: list[Person]) -> None:
    """The case kind says which agencies hold the person; the scenario, what supervision it is."""
    wrong = []
    scenarios: set[str] = set()
    for person in clean:
        kind, scenario = str(person.truth["kind"]), str(person.truth["scenario"])
        scenarios.add(scenario)
        agencies = {str(ref["agency"]) for ref in person.truth["records"]}
        expected = {
            "police_only": {"police"},
            "probation_only": {"probation"},
            "overlap": {"probation", "police"},
        }[kind]
        supervisions = person.newest("supervision")
        offences = {str(record["offence"]) for record in supervisions}
        kinds = {str(record["kind"]) for record in supervisions}
        fits = {
            "registered": not supervisions,
            "other_offence": offences == {"other"},
            "sexual_element": offences == {"sexual_element"} and kinds <= ORDER_KINDS,
            "sexual_unregistered": offences == {"sexual"} and kinds <= ORDER_KINDS,
            "licence": offences <= {"sexual", "sexual_element"} and kinds <= LICENCE_KINDS,
            "community_order": offences <= {"sexual", "sexual_element"} and kinds <= ORDER_KINDS,
            "registered_then_supervised": len(supervisions) == 1,
        }[scenario]
        if agencies != expected or scenario not in SCENARIOS[kind] or not fits:
            wrong.append(str(person.truth["truth_id"]))
    assert wrong == []
    assert scenarios == set().union(*SCENARIOS.values())


def test_the_police_register_everyone_they_hold_and_probation_supervise_everyone_they_hold(
    clean: list[Person],
) -> None:
    """A police-held person has a registration; a probation-held one, a supervision."""
    wrong = []
    for person in clean:
        agencies = {str(ref["agency"]) for ref in person.truth["records"]}
        if "police" in agencies and not person.of_type("registration"):
            wrong.append((str(person.truth["truth_id"]), "registration"))
        if "probation" in agencies and not person.of_type("supervision"):
            wrong.append((str(person.truth["truth_id"]), "supervision"))
    assert wrong == []


def test_every_licence_follows_custody_that_ended_the_day_before(clean: list[Person]) -> None:
    """A licence or post-sentence supervision starts the day after a custody period ends."""
    wrong = []
    for person in clean:
        custody_ends = {_day(c["end"]) for c in person.newest("custody") if c["end"] is not None}
        for plan in person.newest("supervision"):
            if plan["kind"] in LICENCE_KINDS and _day(plan["start"]) - 1 not in custody_ends:
                wrong.append(str(person.truth["truth_id"]))
    assert wrong == []


def test_ages_fit_the_history(clean: list[Person]) -> None:
    """Nobody is under 12 (of 365 days) at their first fact; only one who turns 18 is a minor."""
    wrong = []
    for person in clean:
        born = str(person.person_records()[0]["date_of_birth"])
        starts = [
            _day(record["start"])
            for kind in ("supervision", "custody", "registration")
            for record in person.of_type(kind)
        ]
        first = min(starts)
        adult = Event.TURNS_18 not in person.truth["events"]
        too_young = first < _day(born) + YOUNGEST_AT_FIRST_FACT_DAYS
        if too_young or (adult and first < _birthday(born, ADULT_YEARS)):
            wrong.append(str(person.truth["truth_id"]))
    assert wrong == []


def _identifier_is_valid(name: str, value: object) -> bool:
    try:
        if name == "pnc":
            canonical_pnc(str(value), TODAY)
        else:
            canonical_cro(str(value))
    except InvalidIdentifier:
        return False
    return True


def _traces(first: Record, follower: Record) -> set[str]:
    """The noise kinds a follower record shows against the person's first record."""
    traces: set[str] = set()
    if str(follower["surname"]).startswith(NAME_SYSTEM_PREFIXES):
        traces.add(NoiseKind.SYSTEM_PREFIX)
    if follower["cro"] == JUNK_CRO:
        traces.add(NoiseKind.JUNK_CRO)
    if any(
        follower[name] is not None and not _identifier_is_valid(name, follower[name])
        for name in ("pnc", "cro")
    ):
        traces.add(NoiseKind.MISTYPED_IDENTIFIER)
    if any(first[name] is not None and follower[name] is None for name in ("pnc", "cro")):
        traces.add(NoiseKind.MISSING_IDENTIFIER)
    if follower["date_of_birth"] != first["date_of_birth"]:
        placeholder = follower["date_of_birth"] in PLACEHOLDERS
        traces.add(NoiseKind.PLACEHOLDER_DOB if placeholder else NoiseKind.DOB_ERROR)
    return traces


def test_a_persons_first_record_carries_no_record_noise(noisy: list[Person]) -> None:
    """Record-level noise touches only the records after a person's first."""
    wrong = []
    for person in noisy:
        first = person.person_records()[0]
        prefixed = str(first["surname"]).startswith(NAME_SYSTEM_PREFIXES)
        invalid = any(
            first[name] is not None and not _identifier_is_valid(name, first[name])
            for name in ("pnc", "cro")
        )
        if prefixed or invalid or first["cro"] == JUNK_CRO:
            wrong.append(str(person.truth["truth_id"]))
    assert wrong == []


def test_noise_the_records_show_is_in_the_truth(noisy: list[Person]) -> None:
    """A prefix, junk CRO, invalid or missing identifier or changed date of birth is claimed."""
    wrong = []
    for person in noisy:
        first, *followers = person.person_records()
        claimed = set(person.truth["noise"])
        for follower in followers:
            for trace in _traces(first, follower):
                either = {trace, NoiseKind.DOB_ERROR, NoiseKind.PLACEHOLDER_DOB}
                allowed = either if trace in either else {trace}
                if not claimed & allowed:
                    wrong.append((str(person.truth["truth_id"]), trace))
            names = (first["surname"], first["forenames"])
            if (follower["surname"], follower["forenames"]) != names and not claimed & {
                NoiseKind.NAME_TYPO,
                NoiseKind.SWAPPED_NAMES,
                NoiseKind.NAME_VARIANT,
                NoiseKind.SYSTEM_PREFIX,
                NoiseKind.NICKNAME,
            }:
                wrong.append((str(person.truth["truth_id"]), "name"))
    assert wrong == []


@pytest.mark.parametrize(
    "kind",
    [
        NoiseKind.SYSTEM_PREFIX,
        NoiseKind.JUNK_CRO,
        NoiseKind.DOB_ERROR,
        NoiseKind.PLACEHOLDER_DOB,
        NoiseKind.MISTYPED_IDENTIFIER,
    ],
)
def test_noise_in_the_truth_left_its_trace_in_the_records(noisy: list[Person], kind: str) -> None:
    """Each noise kind a truth line claims shows in one of the person's later records."""
    wrong = []
    claimed_by = 0
    for person in noisy:
        if kind not in person.truth["noise"]:
            continue
        if kind == NoiseKind.DOB_ERROR and NoiseKind.PLACEHOLDER_DOB in person.truth["noise"]:
            continue  # a placeholder written over the wrong date hides it
        claimed_by += 1
        first, *followers = person.person_records()
        traces = set().union(*(_traces(first, follower) for follower in followers))
        overwritten = kind == NoiseKind.MISTYPED_IDENTIFIER and NoiseKind.JUNK_CRO in traces
        if kind not in traces and not overwritten:
            wrong.append(str(person.truth["truth_id"]))
    assert wrong == []
    assert claimed_by > 0


def test_a_person_with_a_single_record_has_no_record_noise(noisy: list[Person]) -> None:
    """With no second record there is nothing to disagree with: only twin or common name."""
    single = [person for person in noisy if len(person.truth["records"]) == 1]
    wrong = [
        str(person.truth["truth_id"])
        for person in single
        if not set(person.truth["noise"]) <= {NoiseKind.TWIN, NoiseKind.COMMON_NAME}
    ]
    assert single
    assert wrong == []


def test_no_person_record_the_truth_lists_is_withdrawn(noisy: list[Person]) -> None:
    """Only assessments are deleted: every person record the truth lists stays in the feed."""
    deleted = [
        (str(person.truth["truth_id"]), str(record["type"]))
        for person in noisy
        for _, _, record in person.records
        if record.get("deleted") is True and record["type"] != "assessment"
    ]
    assert deleted == []


def _supervised_days(person: Person) -> list[tuple[int, int]]:
    """Each supervision's first and last day (its termination, else its planned end, else today)."""
    periods = []
    for plan in person.newest("supervision"):
        last = plan.get("terminated_on") or plan["end"]
        periods.append((_day(plan["start"]), TODAY.toordinal() if last is None else _day(last)))
    return periods


def test_events_about_assessments_are_seen_in_the_assessments(clean: list[Person]) -> None:
    """A handover means supervision ended, or began after police assessments; police
    assessing while supervised, or a duplicate assessment, means a police assessment
    inside the supervision."""
    wrong = []
    for person in clean:
        events = set(person.truth["events"])
        police_days = [
            _day(record["completed_on"] or record["started_on"])
            for record in person.newest("assessment")
            if record["agency"] == "police"
        ]
        inside = any(
            start <= day <= last for start, last in _supervised_days(person) for day in police_days
        )
        periods = _supervised_days(person)
        ended = any(last < TODAY.toordinal() for _, last in periods)
        assessed_before = any(day < start for start, _ in periods for day in police_days)
        if Event.HANDOVER in events and not (ended or assessed_before):
            wrong.append((str(person.truth["truth_id"]), Event.HANDOVER))
        for event in (Event.POLICE_ASSESS_WHILE_SUPERVISED, Event.DUPLICATE_ASSESSMENT):
            if event in events and not inside:
                wrong.append((str(person.truth["truth_id"]), event))
    assert wrong == []


@pytest.mark.parametrize(
    "scenarios",
    [("licence", "community_order"), ("registered_then_supervised",)],
)
def test_both_kinds_of_overlap_have_handovers_and_duplicate_assessments(
    clean: list[Person], scenarios: tuple[str, ...]
) -> None:
    """People convicted while registered and people registered on conviction both show
    handovers between the agencies and assessments done twice."""
    seen = {
        event
        for person in clean
        if person.truth["scenario"] in scenarios
        for event in person.truth["events"]
    }
    assert {Event.HANDOVER, Event.DUPLICATE_ASSESSMENT} <= seen
