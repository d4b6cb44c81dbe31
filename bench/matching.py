"""Benchmark of the person matcher on noisy synthetic feeds with known truth.

Generates feeds with `sync.synth`, reads their person lines through the feed
adapter's validation and conversion (identifiers made canonical, junk and
invalid PNC/CRO set aside, invalid lines rejected), runs
`match_population` and prints pairwise precision, recall, F1, the share of
records left for review and the wall time; then, when the optional `bench`
extra is installed (`splink`, `duckdb`), runs Splink 4 on DuckDB over exactly
the same records and prints its figures beside ours with the ratio of times;
then the median latency of `MatchIndex.match` for single records against a
larger indexed population.

    .venv/bin/python bench/matching.py --subjects 20000 --index-subjects 100000
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import combinations
from pathlib import Path
from typing import Any

from sync.bulk import paused_garbage_collection
from sync.core.matching import MatchIndex, match_population
from sync.core.matching.cleaning import clean_person
from sync.core.records import Agency, Person, RecordRef
from sync.feeds.convert import feed_state
from sync.feeds.jsonl import Accepted, iter_lines, today_context
from sync.ledger.store import RecordVersion, StoredRecord
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds

TODAY = date(2026, 11, 28)
LATENCY_PROBES = 500
MILLISECONDS = 1000.0
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
SPLINK_PREDICT_FLOOR = min(SPLINK_THRESHOLDS)
SPLINK_U_PAIRS = 5_000_000
SPLINK_PRIOR_RECALL = 0.8
SPLINK_SEED = 2026

Pair = tuple[RecordRef, RecordRef]


def _lines(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _person_versions(path: Path, agency: str) -> Iterator[RecordVersion]:
    """One feed's accepted person lines (deletions too), validated as the feed adapter does."""
    with path.open("rb") as handle:
        for item in iter_lines(handle, today_context(agency, TODAY)):
            if isinstance(item, Accepted) and item.version.rtype == "person":
                yield item.version


def _wins(new: RecordVersion, old: RecordVersion | None) -> bool:
    """The ledger's consumer rule: a later `updated_at` wins, a tie with new content wins."""
    if old is None or new.updated_at > old.updated_at:
        return True
    return new.updated_at == old.updated_at and new.digest != old.digest


def read_persons(out_dir: Path) -> list[Person]:
    """Each person record as the ledger would hold it: its winning version, unless deleted."""
    latest: dict[tuple[str, str], RecordVersion] = {}
    for agency in ("probation", "police"):
        for version in _person_versions(out_dir / f"{agency}.jsonl", agency):
            key = (version.agency, version.rid)
            if _wins(version, latest.get(key)):
                latest[key] = version
    stored = [
        StoredRecord(v.agency, v.rtype, v.rid, json.loads(v.payload))
        for v in latest.values()
        if not v.deleted and v.payload is not None
    ]
    return list(feed_state(stored).persons)


def read_truth(out_dir: Path, known: set[RecordRef]) -> set[Pair]:
    """Every pair of records that truly belong to one person."""
    pairs: set[Pair] = set()
    for row in _lines(out_dir / "truth.jsonl"):
        records = row["records"]
        assert isinstance(records, list)
        refs = sorted(RecordRef(Agency(item["agency"]), str(item["person_id"])) for item in records)
        refs = [ref for ref in refs if ref in known]
        pairs.update(combinations(refs, 2))
    return pairs


def _closure(pairs: set[Pair], refs: list[RecordRef]) -> set[Pair]:
    """All pairs inside the clusters the linked pairs make."""
    parent = {ref: ref for ref in refs}

    def find(ref: RecordRef) -> RecordRef:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    for a, b in pairs:
        parent[find(a)] = find(b)
    clusters: dict[RecordRef, list[RecordRef]] = {}
    for ref in refs:
        clusters.setdefault(find(ref), []).append(ref)
    return {pair for members in clusters.values() for pair in combinations(sorted(members), 2)}


@dataclass(frozen=True, slots=True)
class Quality:
    """Pairwise precision, recall and F1 of one run, and its wall time."""

    precision: float
    recall: float
    f1: float
    seconds: float


def measure(linked: set[Pair], truth: set[Pair], seconds: float) -> Quality:
    """Precision, recall and F1 of linked pairs against the truth."""
    hits = len(linked & truth)
    precision = hits / len(linked) if linked else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Quality(precision, recall, f1, seconds)


def report_quality(name: str, quality: Quality) -> None:
    """Print one run's figures on one line."""
    print(
        f"{name:<26} precision {quality.precision:.4f}  recall {quality.recall:.4f}  "
        f"F1 {quality.f1:.4f}  time {quality.seconds:.2f}s"
    )


@dataclass(frozen=True, slots=True)
class Population:
    """A synthetic population's person records and its true pairs."""

    persons: list[Person]
    truth: set[Pair]


def make_population(subjects: int, seed: int, noise: float) -> Population:
    """Generate feeds and read back their person records and truth."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        write_synthetic_feeds(out, SynthOptions(subjects, seed, noise, TODAY))
        persons = read_persons(out)
        truth = read_truth(out, {person.ref for person in persons})
    return Population(persons, truth)


def bench_population(population: Population) -> Quality:
    """Match a whole synthetic population and score it against the truth."""
    persons, truth = population.persons, population.truth
    started = time.perf_counter()
    with paused_garbage_collection():  # as in a run
        result = match_population(persons)
    seconds = time.perf_counter() - started
    linked = {(link.a, link.b) for link in result.links}
    refs = sorted(person.ref for person in persons)
    print(f"records {len(persons)}  true pairs {len(truth)}  links {len(linked)}")
    report_quality("arms-sync (pairs)", measure(linked, truth, seconds))
    clusters = measure(_closure(linked, refs), truth, seconds)
    report_quality("arms-sync (clusters)", clusters)
    reviewed = {ref for review in result.reviews for ref in (review.a, review.b)}
    print(
        f"review pairs {len(result.reviews)}  records in review "
        f"{len(reviewed)} ({len(reviewed) / len(persons):.2%})"
    )
    by_kind: dict[str, int] = {}
    for link in result.links:
        by_kind[link.matched_by] = by_kind.get(link.matched_by, 0) + 1
    print(f"links by kind {dict(sorted(by_kind.items()))}")
    return clusters


def splink_available() -> bool:
    """True when the optional Splink benchmark extra imports."""
    return importlib.util.find_spec("splink") is not None


def splink_rows(persons: list[Person]) -> list[dict[str, object]]:
    """The records as Splink input rows, cleaned exactly as arms-sync cleans them."""
    rows: list[dict[str, object]] = []
    for number, person in enumerate(persons):
        clean = clean_person(person)
        born = clean.date_of_birth
        rows.append(
            {
                "unique_id": number,
                "surname": clean.surname or None,
                "forename": clean.forename or None,
                "surname_sx": clean.surname_code or None,
                "forename_sx": clean.forename_code or None,
                "dob": born.isoformat() if born else None,
                "dob_month": born.isoformat()[:7] if born else None,
                "pnc": clean.pnc,
                "cro": clean.cro,
                "noms": clean.noms,
                "gender": clean.gender,
                "region": clean.region,
            }
        )
    return rows


def _splink_settings() -> Any:
    """A Splink model comparable to ours: fields, levels and blocking rules."""
    cl = importlib.import_module("splink.comparison_library")
    splink = importlib.import_module("splink")
    block_on = splink.block_on
    return splink.SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("surname", [0.95, 0.88]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("forename", [0.94, 0.88]).configure(
                term_frequency_adjustments=True
            ),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("pnc"),
            cl.ExactMatch("cro"),
            cl.ExactMatch("noms"),
            cl.ExactMatch("gender"),
            cl.ExactMatch("region"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("pnc"),
            block_on("cro"),
            block_on("noms"),
            block_on("dob", "surname_sx"),
            block_on("dob", "forename_sx"),
            block_on("surname_sx", "forename_sx", "dob_month"),
            block_on("surname", "forename"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def _train_and_predict(rows: list[dict[str, object]]) -> Any:
    """Train Splink (u by random sampling, m by EM) and predict pairs."""
    pandas = importlib.import_module("pandas")
    splink = importlib.import_module("splink")
    block_on = splink.block_on
    linker = splink.Linker(
        pandas.DataFrame(rows),
        _splink_settings(),
        db_api=splink.DuckDBAPI(),
        set_up_basic_logging=False,
    )
    linker.training.estimate_probability_two_random_records_match(
        [block_on("pnc"), block_on("cro")], recall=SPLINK_PRIOR_RECALL
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=SPLINK_U_PAIRS, seed=SPLINK_SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname", "forename")
    )
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_PREDICT_FLOOR)
    return linker, predictions


def _splink_clusters(linker: Any, predictions: Any, threshold: float) -> Any:
    """Splink's clusters at one match probability, as a pandas frame."""
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    return clusters.as_pandas_dataframe()


def _cluster_pairs(frame: Any, refs: list[RecordRef]) -> set[Pair]:
    """Every pair of records inside the same Splink cluster."""
    members: dict[object, list[RecordRef]] = {}
    for unique_id, cluster_id in zip(frame["unique_id"], frame["cluster_id"], strict=True):
        members.setdefault(cluster_id, []).append(refs[int(unique_id)])
    return {pair for group in members.values() for pair in combinations(sorted(group), 2)}


def bench_splink(population: Population) -> Quality:
    """Run Splink on the same records; print each threshold's figures, return the best.

    The time is the whole run (training, prediction and clustering at the
    threshold that gives Splink its best F1), like ours (no training needed).
    """
    persons, truth = population.persons, population.truth
    refs = [person.ref for person in persons]
    rows = splink_rows(persons)
    started = time.perf_counter()
    linker, predictions = _train_and_predict(rows)
    trained = time.perf_counter() - started
    best: Quality | None = None
    for threshold in SPLINK_THRESHOLDS:
        started = time.perf_counter()
        frame = _splink_clusters(linker, predictions, threshold)
        seconds = trained + time.perf_counter() - started
        quality = measure(_cluster_pairs(frame, refs), truth, seconds)
        report_quality(f"splink p>={threshold} (clusters)", quality)
        if best is None or quality.f1 > best.f1:
            best = quality
    assert best is not None
    return best


def report_comparison(ours: Quality, theirs: Quality) -> None:
    """Print arms-sync beside Splink's best, with the ratio of times."""
    report_quality("arms-sync (clusters)", ours)
    report_quality("splink best (clusters)", theirs)
    ratio = ours.seconds / theirs.seconds if theirs.seconds else float("inf")
    print(
        f"F1 arms-sync {ours.f1:.4f} vs splink {theirs.f1:.4f}; "
        f"time ratio arms-sync/splink {ratio:.2f}"
    )


def bench_index(subjects: int, seed: int, noise: float) -> None:
    """Median latency of matching one record against a large indexed population."""
    persons = make_population(subjects, seed, noise).persons
    probes = persons[-LATENCY_PROBES:]
    started = time.perf_counter()
    index = MatchIndex.build(persons[:-LATENCY_PROBES])
    built = time.perf_counter() - started
    timings = []
    for probe in probes:
        started = time.perf_counter()
        index.match(probe)
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings) * MILLISECONDS
    worst = max(timings) * MILLISECONDS
    print(
        f"index of {len(index)} records built in {built:.1f}s; "
        f"single-record match median {median:.2f} ms, max {worst:.2f} ms"
    )


def main() -> None:
    """Parse options and run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--index-subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument(
        "--splink",
        action=argparse.BooleanOptionalAction,
        default=splink_available(),
        help="also run Splink 4 on the same records (default: on when splink imports)",
    )
    args = parser.parse_args()
    population = make_population(args.subjects, args.seed, args.noise)
    ours = bench_population(population)
    if args.splink:
        theirs = bench_splink(population)
        report_comparison(ours, theirs)
    if args.index_subjects:
        bench_index(args.index_subjects, args.seed + 1, args.noise)


if __name__ == "__main__":
    main()
