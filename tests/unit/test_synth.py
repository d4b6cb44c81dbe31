"""The synthetic feed generator: determinism, feed-v1 shape, valid identifiers, truth, noise.

Assertions compare and count; on failure they name record ids only, never names,
dates of birth or PNC/CRO numbers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.core.identifiers import (
    InvalidIdentifier,
    canonical_crn,
    canonical_cro,
    canonical_noms,
    canonical_pnc,
    canonical_police_ref,
    is_junk_identifier,
)
from sync.core.matching.areas import PROBATION_REGIONS, region_of
from sync.core.matching.cleaning import clean_name
from sync.core.matching.nicknames import are_nicknames
from sync.core.records import Agency, AssessmentStatus, Gender, Offence, SupervisionKind
from sync.errors import UsageError
from sync.feeds.jsonl import Rejected, iter_lines
from sync.feeds.models import FeedContext
from sync.synth.histories import Event
from sync.synth.options import NoiseKind, SynthOptions
from sync.synth.randomness import SynthRandom
from sync.synth.references import (
    JUNK_CRO,
    make_crn,
    make_cro,
    make_noms,
    make_pnc,
    make_police_ref,
    mistype,
)
from sync.synth.stream import iter_feed_records, iter_subjects, write_synthetic_feeds
from sync.synth.vocabulary import NICKNAMES, POLICE_FORCES

TODAY = date(2026, 11, 28)
CLEAN_SUBJECTS = 1_000
NOISY_SUBJECTS = 2_500
STAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
FEEDS = {Agency.PROBATION: "probation.jsonl", Agency.POLICE: "police.jsonl"}

Record = dict[str, Any]

REQUIRED = {
    "person": ("surname", "forenames", "gender", "area"),
    "supervision": ("person_id", "kind", "offence", "start", "end"),
    "custody": ("person_id", "start"),
    "registration": ("person_id", "start"),
    "assessment": ("person_id", "started_on", "status"),
    "merge": ("source_person_id", "target_person_id"),
}
AGENCY_TYPES = {
    Agency.PROBATION: {"person", "supervision", "custody", "assessment", "merge"},
    Agency.POLICE: {"person", "registration", "assessment", "merge"},
}
DATE_FIELDS = ("start", "end", "terminated_on", "started_on", "completed_on", "date_of_birth")


def _read(path: Path) -> list[Record]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


class Feeds:
    """One generated directory, parsed."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.records = {agency: _read(out / name) for agency, name in FEEDS.items()}
        self.truth = _read(out / "truth.jsonl")
        self._persons: dict[tuple[str, str], list[Record]] | None = None

    def all_records(self) -> list[tuple[Agency, Record]]:
        return [(agency, rec) for agency, recs in self.records.items() for rec in recs]

    def persons(self) -> dict[tuple[str, str], list[Record]]:
        """Every version of each person record, keyed by (agency, id)."""
        if self._persons is None:
            found: dict[tuple[str, str], list[Record]] = {}
            for agency, record in self.all_records():
                if record["type"] == "person":
                    found.setdefault((agency.value, str(record["id"])), []).append(record)
            self._persons = found
        return self._persons

    def first_person_record(self, truth: Record) -> Record:
        refs = truth["records"]
        assert isinstance(refs, list)
        first = refs[0]
        return self.persons()[first["agency"], first["person_id"]][0]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Feeds:
    out = tmp_path_factory.mktemp("clean")
    write_synthetic_feeds(out, SynthOptions(CLEAN_SUBJECTS, seed=11, today=TODAY))
    return Feeds(out)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Feeds:
    out = tmp_path_factory.mktemp("noisy")
    write_synthetic_feeds(out, SynthOptions(NOISY_SUBJECTS, seed=12, noise=1.0, today=TODAY))
    return Feeds(out)


# Determinism -----------------------------------------------------------------


def _bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in (*FEEDS.values(), "truth.jsonl")}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    options = SynthOptions(200, seed=5, noise=0.5, today=TODAY)
    write_synthetic_feeds(tmp_path / "a", options)
    write_synthetic_feeds(tmp_path / "b", options)
    identical = _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert identical


def test_the_files_are_readable_by_their_owner_alone_even_when_written_over(
    tmp_path: Path,
) -> None:
    names = (*FEEDS.values(), "truth.jsonl")
    for name in names:
        (tmp_path / name).write_text("old\n")
        (tmp_path / name).chmod(0o644)
    write_synthetic_feeds(tmp_path, SynthOptions(20, seed=5, today=TODAY))
    assert {name: (tmp_path / name).stat().st_mode & 0o777 for name in names} == dict.fromkeys(
        names, 0o600
    )
    assert all((tmp_path / name).read_text() != "old\n" for name in names)


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    write_synthetic_feeds(tmp_path / "a", SynthOptions(200, seed=5, today=TODAY))
    write_synthetic_feeds(tmp_path / "b", SynthOptions(200, seed=6, today=TODAY))
    first, second = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert all(first[name] != second[name] for name in first)


def test_stream_matches_the_written_files(tmp_path: Path) -> None:
    options = SynthOptions(150, seed=9, noise=1.0, today=TODAY)
    write_synthetic_feeds(tmp_path, options)
    written = Feeds(tmp_path)
    streamed: dict[Agency, list[Record]] = {Agency.PROBATION: [], Agency.POLICE: []}
    for agency, record in iter_feed_records(options):
        streamed[agency].append(record)
    same = streamed == written.records
    assert same


def test_summary_counts_what_was_written(tmp_path: Path) -> None:
    summary = write_synthetic_feeds(tmp_path, SynthOptions(300, seed=3, today=TODAY))
    feeds = Feeds(tmp_path)
    assert summary.subjects == len(feeds.truth) == 300
    for agency, records in feeds.records.items():
        assert summary.records[agency.value] == Counter(str(r["type"]) for r in records)
        assert summary.agency_records(agency.value) == len(records)
    assert summary.total_records == sum(len(r) for r in feeds.records.values())


def test_streaming_does_not_build_the_whole_population() -> None:
    options = SynthOptions(10**9, seed=1, today=TODAY)
    first = list(islice(iter_feed_records(options), 2_000))
    assert len(first) == 2_000


def test_records_of_subjects_are_interleaved(clean: Feeds) -> None:
    owner = {
        (ref["agency"], ref["person_id"]): truth["truth_id"]
        for truth in clean.truth
        for ref in truth["records"]
    }
    sequence = [
        owner[Agency.PROBATION.value, r.get("person_id", r.get("target_person_id", r["id"]))]
        for r in clean.records[Agency.PROBATION]
    ]
    adjacent_same = sum(1 for a, b in pairwise(sequence) if a == b)
    assert adjacent_same < len(sequence) / 5
    positions: dict[str, list[int]] = {}
    for index, subject in enumerate(sequence):
        positions.setdefault(subject, []).append(index)
    spans = sorted(p[-1] - p[0] for p in positions.values() if len(p) >= 3)
    assert spans[len(spans) // 2] > 50


def test_options_are_checked() -> None:
    with pytest.raises(UsageError):
        SynthOptions(-1, seed=1)
    with pytest.raises(UsageError):
        SynthOptions(10, seed=1, noise=1.5)


# Feed-v1 shape ---------------------------------------------------------------


def _shape_problems(agency: Agency, record: Record) -> list[str]:
    """Reasons a record breaks feed v1 (names the field, never the value)."""
    kind = str(record.get("type"))
    problems = []
    if kind not in AGENCY_TYPES[agency]:
        problems.append("type")
    if record.get("agency") != agency.value:
        problems.append("agency")
    if not isinstance(record.get("id"), str) or not STAMP_RE.match(str(record.get("updated_at"))):
        problems.append("id or updated_at")
    problems += [name for name in REQUIRED.get(kind, ()) if name not in record]
    for name in DATE_FIELDS:
        value = record.get(name)
        if value is not None:
            try:
                date.fromisoformat(str(value))
            except ValueError:
                problems.append(name)
    return problems


def _rule_problems(record: Record) -> list[str]:
    """Value rules: enums, period order, completed assessments, no future facts."""
    problems = []
    kind = record["type"]
    today = TODAY.isoformat()
    if str(record["updated_at"])[:10] > today:
        problems.append("updated_at in the future")
    if kind == "person" and record["gender"] not in {g.value for g in Gender}:
        problems.append("gender")
    if kind == "supervision":
        if record["kind"] not in {k.value for k in SupervisionKind}:
            problems.append("kind")
        if record["offence"] not in {o.value for o in Offence}:
            problems.append("offence")
    for later in ("end", "terminated_on"):
        value = record.get(later)
        if "start" in record and value is not None and str(value) < str(record["start"]):
            problems.append(later)
    if kind == "assessment":
        status = record["status"]
        if status not in {s.value for s in AssessmentStatus}:
            problems.append("status")
        if status == AssessmentStatus.COMPLETED.value and (
            record.get("completed_on") is None
            or str(record["completed_on"]) < str(record["started_on"])
        ):
            problems.append("completed_on")
        if str(record["started_on"]) > today:
            problems.append("started_on in the future")
    return problems


@pytest.mark.parametrize("which", ["clean", "noisy"])
def test_every_record_has_the_fields_feed_v1_requires(
    which: str, request: pytest.FixtureRequest
) -> None:
    feeds: Feeds = request.getfixturevalue(which)
    bad = [
        (agency.value, record.get("id"), problem)
        for agency, record in feeds.all_records()
        for problem in _shape_problems(agency, record) + _rule_problems(record)
    ]
    assert bad == []


@pytest.mark.parametrize("which", ["clean", "noisy"])
def test_every_line_passes_feed_validation(which: str, request: pytest.FixtureRequest) -> None:
    feeds: Feeds = request.getfixturevalue(which)
    rejected = []
    for agency, name in FEEDS.items():
        context = FeedContext(agency.value, TODAY)
        with (feeds.out / name).open("rb") as lines:
            rejected += [
                (agency.value, item.record_id, item.reason)
                for item in iter_lines(lines, context)
                if isinstance(item, Rejected)
            ]
    assert rejected == []


def test_agency_constraints(clean: Feeds) -> None:
    probation_types = {r["type"] for r in clean.records[Agency.PROBATION]}
    police_types = {r["type"] for r in clean.records[Agency.POLICE]}
    assert "registration" not in probation_types
    assert {"supervision", "custody"}.isdisjoint(police_types)
    assert probation_types == AGENCY_TYPES[Agency.PROBATION]
    assert police_types == AGENCY_TYPES[Agency.POLICE]


def test_areas_are_region_and_force_codes(clean: Feeds) -> None:
    assert len(PROBATION_REGIONS) == 12
    assert len(POLICE_FORCES) == 43
    forces = {force for force, _ in POLICE_FORCES}
    probation = {r["area"] for r in clean.records[Agency.PROBATION] if r["type"] == "person"}
    police = {r["area"] for r in clean.records[Agency.POLICE] if r["type"] == "person"}
    assert probation == set(PROBATION_REGIONS)
    assert police <= forces
    assert len(police) > 30


def test_every_force_lies_in_the_region_the_matcher_gives_it() -> None:
    assert all(region_of(force) == region for force, region in POLICE_FORCES)


def test_every_nickname_the_generator_can_use_is_one_the_matcher_knows() -> None:
    unknown = [
        (formal, short)
        for formal, shorts in NICKNAMES.items()
        for short in shorts
        if not are_nicknames(clean_name(formal), clean_name(short))
    ]
    assert unknown == []


def test_every_reference_resolves_to_a_person_of_the_same_agency(noisy: Feeds) -> None:
    persons = noisy.persons()
    dangling = []
    for agency, record in noisy.all_records():
        for name in ("person_id", "source_person_id", "target_person_id"):
            if name in record and (agency.value, record[name]) not in persons:
                dangling.append((agency.value, record["id"], name))
    assert dangling == []


# Identifiers -------------------------------------------------------------------


def test_clean_identifiers_are_all_valid(clean: Feeds) -> None:
    invalid = []
    forms: Counter[str] = Counter()
    for (agency, person_id), versions in clean.persons().items():
        for record in versions:
            try:
                if agency == Agency.PROBATION.value:
                    canonical_crn(person_id)
                    if record.get("noms") is not None:
                        canonical_noms(str(record["noms"]))
                else:
                    canonical_police_ref(person_id)
                if record["pnc"] is not None:
                    canonical_pnc(str(record["pnc"]), TODAY)
                    forms["pnc short" if len(str(record["pnc"])) < 13 else "pnc long"] += 1
                if record["cro"] is not None:
                    cro = canonical_cro(str(record["cro"]))
                    if is_junk_identifier(cro):
                        invalid.append((agency, person_id, "cro junk"))
                    forms["cro short" if cro.startswith("SF") else "cro standard"] += 1
            except InvalidIdentifier:
                invalid.append((agency, person_id, "identifier"))
    assert invalid == []
    assert all(forms[form] > 0 for form in ("pnc short", "pnc long", "cro short", "cro standard"))


def test_distinct_people_never_share_a_pnc(noisy: Feeds) -> None:
    owners: dict[str, set[str]] = {}
    for truth in noisy.truth:
        record = noisy.first_person_record(truth)
        if record["pnc"] is not None:
            pnc = canonical_pnc(str(record["pnc"]), TODAY)
            owners.setdefault(pnc, set()).add(str(truth["truth_id"]))
    shared = sum(1 for subjects in owners.values() if len(subjects) > 1)
    assert shared == 0


@settings(max_examples=200, deadline=None)
@given(
    counter=st.integers(0, 5_000_000),
    year=st.integers(1960, 2026),
    short_form=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_made_identifiers_validate_and_mistyped_ones_do_not(
    counter: int, year: int, short_form: bool, seed: int
) -> None:
    rng = SynthRandom(seed)
    pnc = make_pnc(counter, year)
    cro = make_cro(counter % 999_999, year, short_form)
    for written in (pnc.canonical(), pnc.short()):
        round_trips = canonical_pnc(written, TODAY) == pnc.canonical()
        assert round_trips
        with pytest.raises(InvalidIdentifier):
            canonical_pnc(mistype(written, rng), TODAY)
    for padded in (True, False):
        written = cro.written(padded)
        canonical_cro(written)
        with pytest.raises(InvalidIdentifier):
            canonical_cro(mistype(written, rng))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 999_998), st.integers(0, 999_998))
def test_different_counters_never_give_the_same_reference(first: int, second: int) -> None:
    same = first == second
    assert (make_pnc(first, 2000).serial == make_pnc(second, 2000).serial) is same
    assert (make_cro(first, 0, False).serial == make_cro(second, 0, False).serial) is same
    assert (make_crn(first) == make_crn(second)) is same
    assert (make_police_ref(first, "MET") == make_police_ref(second, "MET")) is same
    assert (make_noms(first) == make_noms(second)) is same
    canonical_crn(make_crn(first))
    canonical_noms(make_noms(first))
    canonical_police_ref(make_police_ref(first, "NWALES"))


# Truth -------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["clean", "noisy"])
def test_truth_covers_every_person_record_exactly_once(
    which: str, request: pytest.FixtureRequest
) -> None:
    feeds: Feeds = request.getfixturevalue(which)
    in_truth = Counter(
        (ref["agency"], ref["person_id"]) for truth in feeds.truth for ref in truth["records"]
    )
    assert set(in_truth) == set(feeds.persons())
    assert max(in_truth.values()) == 1
    assert len({t["truth_id"] for t in feeds.truth}) == len(feeds.truth)


def test_clean_mode_has_no_noise_and_consistent_details(clean: Feeds) -> None:
    assert all(truth["noise"] == [] for truth in clean.truth)
    persons = clean.persons()
    inconsistent = []
    for truth in clean.truth:
        versions = [persons[ref["agency"], ref["person_id"]][0] for ref in truth["records"]]
        details = {(r["surname"], r["forenames"], r["date_of_birth"]) for r in versions}
        if len(details) != 1:
            inconsistent.append(truth["truth_id"])
    assert inconsistent == []


def test_clean_mode_case_mix(clean: Feeds) -> None:
    kinds = Counter(str(truth["kind"]) for truth in clean.truth)
    events = Counter(e for truth in clean.truth for e in truth["events"])
    assert kinds["overlap"] > kinds["probation_only"] > 0
    assert kinds["police_only"] > 0
    expected = {
        Event.HANDOVER, Event.DUPLICATE_ASSESSMENT, Event.DUPLICATE_PERSON_RECORD, Event.MERGE,
        Event.RECALL, Event.EARLY_TERMINATION, Event.STALE_VERSION, Event.DELETED_RECORD,
        Event.IN_PROGRESS_ASSESSMENT, Event.CANCELLED_ASSESSMENT, Event.TURNS_18,
    }  # fmt: skip
    assert expected <= set(events)
    genders = Counter(r["gender"] for r in clean.records[Agency.PROBATION] if r["type"] == "person")
    assert genders["M"] > genders["F"] > 0
    offences = {r["offence"] for r in clean.records[Agency.PROBATION] if r["type"] == "supervision"}
    assert offences == {o.value for o in Offence}


def test_records_per_subject_are_realistic(clean: Feeds) -> None:
    total = sum(len(records) for records in clean.records.values())
    assert 5.0 <= total / len(clean.truth) <= 6.5


def test_overlapping_sexual_offenders_are_mostly_registered(clean: Feeds) -> None:
    sexual = [
        t for t in clean.truth if t["scenario"] != "other_offence" and t["kind"] != "police_only"
    ]
    registered = [t for t in sexual if t["kind"] == "overlap"]
    assert len(registered) > len(sexual) / 2


def test_merges_point_at_two_records_of_one_person(clean: Feeds) -> None:
    owner = {
        (ref["agency"], ref["person_id"]): truth["truth_id"]
        for truth in clean.truth
        for ref in truth["records"]
    }
    merges = [(a, r) for a, r in clean.all_records() if r["type"] == "merge"]
    assert merges
    assert all(
        owner[a.value, r["source_person_id"]] == owner[a.value, r["target_person_id"]]
        and r["source_person_id"] != r["target_person_id"]
        for a, r in merges
    )


def test_stale_versions_arrive_later_with_an_older_stamp(clean: Feeds) -> None:
    stale = deletions = 0
    for records in clean.records.values():
        newest: dict[tuple[object, object], str] = {}
        for record in records:
            key = (record["type"], record["id"])
            stamp = str(record["updated_at"])
            if key in newest and stamp < newest[key]:
                stale += 1
            if record.get("deleted") is True:
                deletions += 1
                assert key in newest
                assert stamp > newest[key]
            newest[key] = max(stamp, newest.get(key, stamp))
    assert stale > 0
    assert deletions > 0


# Noise -------------------------------------------------------------------------------


def test_noise_mode_produces_every_noise_kind(noisy: Feeds) -> None:
    seen = {kind for truth in noisy.truth for kind in truth["noise"]}
    every = {v for k, v in vars(NoiseKind).items() if not k.startswith("_")}
    assert every <= seen


def _evidence(noisy: Feeds) -> Counter[str]:
    """Count the traces each noise kind leaves in the feeds themselves."""
    found: Counter[str] = Counter()
    nicknames = {short for shorts in NICKNAMES.values() for short in shorts}
    for versions in noisy.persons().values():
        record = versions[0]
        surname, forenames = str(record["surname"]), str(record["forenames"])
        found["prefix"] += surname.startswith(("MIG_ERROR_", "NO_SHOW_", "DUPLICATE_"))
        found["placeholder"] += record["date_of_birth"] in ("1900-01-01", "1970-01-01")
        found["junk"] += record["cro"] == JUNK_CRO
        found["nickname"] += forenames.split(" ", 1)[0] in nicknames
        for name, parse in (("pnc", lambda v: canonical_pnc(v, TODAY)), ("cro", canonical_cro)):
            if record[name] is not None:
                try:
                    parse(str(record[name]))
                except InvalidIdentifier:
                    found["invalid"] += 1
    return found


def test_noise_leaves_traces_in_the_feeds(noisy: Feeds) -> None:
    found = _evidence(noisy)
    assert all(found[kind] > 0 for kind in ("prefix", "placeholder", "junk", "nickname", "invalid"))


def test_noise_rates_are_near_the_targets(noisy: Feeds) -> None:
    multi = [t for t in noisy.truth if len(t["records"]) > 1]
    share = Counter(k for t in multi for k in t["noise"])
    missing = share[NoiseKind.MISSING_IDENTIFIER] / len(multi)
    assert 0.2 < missing < 0.4
    assert 0.02 < share[NoiseKind.NAME_TYPO] / len(multi) < 0.09


def test_twins_share_surname_and_birth_date_but_not_forename_or_pnc(noisy: Feeds) -> None:
    by_id = {truth["truth_id"]: truth for truth in noisy.truth}
    twins = [truth for truth in noisy.truth if "twin_of" in truth]
    assert twins
    wrong = []
    for twin in twins:
        mine = noisy.first_person_record(twin)
        theirs = noisy.first_person_record(by_id[twin["twin_of"]])
        same = (mine["surname"], mine["date_of_birth"]) == (
            theirs["surname"],
            theirs["date_of_birth"],
        )
        differ = mine["forenames"] != theirs["forenames"] and (
            mine["pnc"] is None or mine["pnc"] != theirs["pnc"]
        )
        if not (same and differ):
            wrong.append(twin["truth_id"])
    assert wrong == []


def test_common_names_belong_to_many_people_with_different_birth_dates(noisy: Feeds) -> None:
    common = [t for t in noisy.truth if NoiseKind.COMMON_NAME in t["noise"]]
    names: Counter[tuple[str, str]] = Counter()
    births: dict[tuple[str, str], set[str]] = {}
    for truth in common:
        record = noisy.first_person_record(truth)
        name = (str(record["forenames"]), str(record["surname"]))
        names[name] += 1
        births.setdefault(name, set()).add(str(record["date_of_birth"]))
    busiest, count = names.most_common(1)[0]
    distinct_births = len(births[busiest])
    assert count >= 5
    assert distinct_births > count / 2


@settings(max_examples=40, deadline=None)
@given(
    subjects=st.integers(0, 25),
    seed=st.integers(0, 2**32),
    noise=st.floats(0.0, 1.0),
)
def test_any_options_give_resolvable_records_and_complete_truth(
    subjects: int, seed: int, noise: float
) -> None:
    options = SynthOptions(subjects, seed=seed, noise=noise, today=TODAY)
    truth_refs = [
        (ref["agency"], ref["person_id"])
        for subject in iter_subjects(options)
        for ref in subject.truth["records"]  # type: ignore[attr-defined]
    ]
    persons: set[tuple[str, object]] = set()
    pointers: set[tuple[str, object]] = set()
    for agency, record in iter_feed_records(options):
        if record["type"] == "person":
            persons.add((agency.value, record["id"]))
        for name in ("person_id", "source_person_id", "target_person_id"):
            if name in record:
                pointers.add((agency.value, record[name]))
    assert len(truth_refs) == len(set(truth_refs))
    assert set(truth_refs) == persons
    assert pointers <= persons
