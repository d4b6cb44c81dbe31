"""National-scale benchmark of `arms-sync run` on the embedded default (SQLite).

Generates a synthetic pair of feeds with `arms-sync synth` (100,000 subjects by
default, over 500,000 records), then measures in one run:
- the time Python's `json` module takes merely to parse both files;
- `arms-sync run` over the plain files, no keys (issue target: <= 8x json, peak RSS <= 1.5 GiB);
- the same with a key directory (at-rest encryption, notices sealed into the outbox);
- the same over sealed feed files (issue target: <= 1.10x the plain run with keys);
- an override's preview (`reconcile assign` without `--apply`) on the plain run's ledger;
- the same feeds run again on the plain and the keyed run's ledgers (a day when nothing
  changed: every record is compared with its stored version, every subject decided again).
Each run is a separate process, on a fresh ledger but for the runs "again"; peak RSS is the
largest sampled sum over the run's process and its feed-validation workers.

    .venv/bin/python bench/national.py [--subjects 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "sync.cli"]
AS_OF = "2026-11-28"
GIB = 1024**3


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process with its own children.

    The peak is the largest sum, sampled every 50 ms, of the resident memory of
    the child and every process under it (the feed-validation workers too).
    """
    with tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(child.pid))
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
        if child.returncode != 0:
            stderr.seek(0)
            sys.exit(f"{' '.join(args[3:5])} failed: {stderr.read()[-400:]}")
    return elapsed, peak


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 once it has gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        pending.extend(int(child) for child in children)
    return total


def sync_run(feeds: list[Path], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """`arms-sync run` over a probation and a police feed: wall seconds and peak RSS."""
    probation, police = feeds
    args = ["--probation-feed", str(probation), "--police-feed", str(police), "--as-of", AS_OF]
    return run([*CLI, "run", *args], cwd, env)


def reconcile_preview_seconds(ledger_dir: Path) -> float:
    """Wall seconds of an override's preview (`reconcile assign`, not applied) on a ledger."""
    first = subprocess.run(
        [*CLI, "export", "ownership"], cwd=ledger_dir, capture_output=True, text=True, check=True
    ).stdout.partition("\n")[0]
    subject_id = json.loads(first)["subject_id"]
    args = ["--owner", "police", "--from", "2025-01-01", "--operator", "bench", "--reason", "bench"]
    seconds, _ = run([*CLI, "reconcile", "assign", subject_id, *args], ledger_dir)
    return seconds


def json_parse_seconds(files: list[Path]) -> float:
    """Time to parse every line of the files with the json module (the floor)."""
    start = time.perf_counter()
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
    return time.perf_counter() - start


def count_lines(path: Path) -> int:
    """How many lines (records) a feed file holds."""
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def main() -> None:
    """Parse the options and run the measurements in a scratch folder."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="Keep the work folder here.")
    parser.add_argument(
        "--linker",
        choices=["identifiers", "probabilistic"],
        default="probabilistic",
        help="How person records are linked (ARMS_SYNC_LINKER).",
    )
    options = parser.parse_args()
    os.environ["ARMS_SYNC_LINKER"] = options.linker
    print(f"linker: {options.linker}")
    work = Path(tempfile.mkdtemp(prefix="arms-sync-bench-"))
    try:
        measure(work, options.subjects, options.seed)
    finally:
        if options.keep:
            shutil.move(str(work), options.keep)
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure(work: Path, subjects: int, seed: int) -> None:
    """Make the feeds, then time the json parse and the three runs, printing each figure."""
    feeds = work / "feeds"
    synth_s, _ = run(
        [
            *CLI,
            "synth",
            "--subjects",
            str(subjects),
            "--seed",
            str(seed),
            "--out",
            str(feeds),
            "--as-of",
            AS_OF,
        ],
        work,
    )
    files = [feeds / "probation.jsonl", feeds / "police.jsonl"]
    records = sum(count_lines(path) for path in files)
    size = sum(path.stat().st_size for path in files)
    print(
        f"feeds: {subjects} subjects, {records} records, {size / 1e6:.1f} MB "
        f"(synth {synth_s:.1f} s)"
    )

    parse_s = json_parse_seconds(files)
    print(f"json.loads of every line: {parse_s:.2f} s")

    plain_dir = work / "plain"
    plain_dir.mkdir()
    plain_s, plain_rss = sync_run(files, plain_dir)
    print(
        f"run, plain files, no keys: {plain_s:.2f} s, peak RSS {plain_rss / GIB:.2f} GiB, "
        f"ratio to json parse {plain_s / parse_s:.2f} (target <= 8; RSS <= 1.5 GiB)"
    )

    preview_s = reconcile_preview_seconds(plain_dir)
    print(
        f"reconcile assign preview on that ledger: {preview_s:.2f} s, "
        f"ratio to the run {preview_s / plain_s:.2f}"
    )

    again_s, again_rss = sync_run(files, plain_dir)
    print(
        f"run again on that ledger, nothing changed: {again_s:.2f} s, peak RSS "
        f"{again_rss / GIB:.2f} GiB, ratio to the first run {again_s / plain_s:.2f}"
    )

    keys = work / "keys"
    for party in ("hub", "probation", "police"):
        run([*CLI, "keys", "generate", "--party", party, "--dir", str(keys)], work)
    env = {"ARMS_SYNC_KEYS_DIR": str(keys)}
    sealed = []
    for path, party in zip(files, ("probation", "police"), strict=True):
        target = feeds / f"{party}.sealed.jsonl"
        run(
            [
                *CLI,
                "envelope",
                "seal",
                "--from",
                party,
                "--to",
                "hub",
                str(path),
                str(target),
                "--keys",
                str(keys),
            ],
            work,
        )
        sealed.append(target)

    keyed_dir = work / "keyed"
    keyed_dir.mkdir()
    keyed_s, keyed_rss = sync_run(files, keyed_dir, env)
    print(
        f"run, plain files, with keys (encrypted at rest, notices queued): {keyed_s:.2f} s, "
        f"peak RSS {keyed_rss / GIB:.2f} GiB"
    )

    keyed_again_s, keyed_again_rss = sync_run(files, keyed_dir, env)
    print(
        f"run again on that ledger, nothing changed: {keyed_again_s:.2f} s, peak RSS "
        f"{keyed_again_rss / GIB:.2f} GiB, ratio to the first run {keyed_again_s / keyed_s:.2f}"
    )

    sealed_dir = work / "sealed"
    sealed_dir.mkdir()
    sealed_s, sealed_rss = sync_run(sealed, sealed_dir, env)
    print(
        f"run, sealed files, with keys: {sealed_s:.2f} s, peak RSS {sealed_rss / GIB:.2f} GiB, "
        f"ratio to plain with keys {sealed_s / keyed_s:.3f} (target <= 1.10)"
    )


if __name__ == "__main__":
    main()
