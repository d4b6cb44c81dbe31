"""CPU time of `match_population` on a synthetic population, and a same-output check.

Reads the person records of a `sync.synth` output directory (or generates one),
times `match_population` in CPU seconds (`time.process_time`) and wall seconds,
and, given a baseline copy of the matcher package, times that copy on the same
records in the same process and checks that both give the same links and
reviews (references, `matched_by`, reasons equal; weights within `TOLERANCE`).
The baseline copy must import itself under its own directory name (a copy of
`sync/core/matching` whose `sync.core.matching` imports are renamed).

    .venv/bin/python -m sync.cli synth --subjects 100000 --seed 1 --out /tmp/mp \\
        --as-of 2026-11-28
    .venv/bin/python bench/matching_speed.py --data /tmp/mp --baseline /tmp/copy/old_matching
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matching import TODAY, read_persons

from sync.bulk import paused_garbage_collection
from sync.core.matching import MatchResult, match_population
from sync.core.records import Person
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds

TOLERANCE = 1e-9

Matcher = Callable[[Sequence[Person]], Any]


@dataclass(frozen=True, slots=True)
class Timing:
    """CPU and wall seconds of one call, and its result."""

    cpu: float
    wall: float
    result: Any


def timed(matcher: Matcher, persons: Sequence[Person]) -> Timing:
    """Run a matcher over the records, timing CPU and wall (the collector paused, as
    in a run)."""
    cpu, wall = time.process_time(), time.perf_counter()
    with paused_garbage_collection():
        result = matcher(persons)
    return Timing(time.process_time() - cpu, time.perf_counter() - wall, result)


def load_persons(args: argparse.Namespace) -> list[Person]:
    """The records of `--data`, or of a freshly generated population."""
    if args.data is not None:
        return read_persons(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        options = SynthOptions(args.subjects, args.seed, args.noise, TODAY)
        write_synthetic_feeds(Path(tmp), options)
        return read_persons(Path(tmp))


def load_baseline(package: Path) -> Matcher:
    """`match_population` of a baseline copy of the matcher package."""
    sys.path.insert(0, str(package.parent))
    module = importlib.import_module(package.name)
    matcher: Matcher = module.match_population
    return matcher


def _link_rows(result: Any) -> list[tuple[Any, ...]]:
    return [(link.a, link.b, link.matched_by, link.weight) for link in result.links]


def _review_rows(result: Any) -> list[tuple[Any, ...]]:
    return [(review.a, review.b, review.reason, review.weight) for review in result.reviews]


def _row_differs(before: tuple[Any, ...], after: tuple[Any, ...]) -> bool:
    """True when two rows differ in a key or by more than `TOLERANCE` in weight."""
    if before[:-1] != after[:-1]:
        return True
    old_weight, new_weight = before[-1], after[-1]
    if old_weight is None or new_weight is None:
        return old_weight is not new_weight
    return bool(abs(old_weight - new_weight) > TOLERANCE)


def _same_rows(old: list[tuple[Any, ...]], new: list[tuple[Any, ...]]) -> int:
    """How many rows differ (all of them, when the counts differ)."""
    if len(old) != len(new):
        return max(len(old), len(new))
    return sum(_row_differs(before, after) for before, after in zip(old, new, strict=True))


def compare(old: Any, new: MatchResult) -> bool:
    """Print whether two results agree; True when they do."""
    links = _same_rows(_link_rows(old), _link_rows(new))
    reviews = _same_rows(_review_rows(old), _review_rows(new))
    print(
        f"links {len(old.links)} vs {len(new.links)} (differing {links}); "
        f"reviews {len(old.reviews)} vs {len(new.reviews)} (differing {reviews})"
    )
    return links == 0 and reviews == 0


def report(name: str, timing: Timing) -> None:
    """Print one run's times."""
    print(f"{name:<9} cpu {timing.cpu:7.2f}s  wall {timing.wall:7.2f}s")


def main() -> int:
    """Parse options, time the matcher (and the baseline), compare outputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a `sync.synth` output directory")
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--baseline", type=Path, help="a renamed copy of the matcher package")
    args = parser.parse_args()
    persons = load_persons(args)
    print(f"records {len(persons)}")
    baseline = timed(load_baseline(args.baseline), persons) if args.baseline else None
    current = timed(match_population, persons)
    if baseline is not None:
        report("baseline", baseline)
    report("current", current)
    if baseline is None:
        return 0
    print(f"cpu ratio current/baseline {current.cpu / baseline.cpu:.3f}")
    same = compare(baseline.result, current.result)
    print("outputs identical" if same else "OUTPUTS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
