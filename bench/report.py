"""Benchmark: the duplicate-assessment report at national scale, in every format.

Runs `arms-sync run` over a synthetic national pair of feeds (100,000 subjects by
default), then times `arms-sync report duplicates` for json, csv and html in
separate processes, as a user runs them. Target (issue): each written in under 5 s.

    .venv/bin/python bench/report.py [--subjects 100000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "sync.cli"]
AS_OF = "2026-11-28"
TARGET_SECONDS = 5.0


def timed(args: list[str], cwd: Path) -> float:
    """Wall seconds of one CLI call (exits on failure)."""
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{args[3]} failed: {result.stderr[-300:]}")
    return time.perf_counter() - start


def main() -> None:
    """Make the feeds, run once, then time each report format."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subjects", type=int, default=100_000)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="arms-sync-report-bench-"))
    try:
        feeds = work / "feeds"
        timed(
            [
                *CLI,
                "synth",
                "--subjects",
                str(options.subjects),
                "--out",
                str(feeds),
                "--as-of",
                AS_OF,
            ],
            work,
        )
        run_s = timed(
            [
                *CLI,
                "run",
                "--probation-feed",
                str(feeds / "probation.jsonl"),
                "--police-feed",
                str(feeds / "police.jsonl"),
                "--as-of",
                AS_OF,
            ],
            work,
        )
        print(f"{options.subjects} subjects; run took {run_s:.1f} s")
        for fmt in ("json", "csv", "html"):
            out = work / f"report.{fmt}"
            seconds = timed(
                [*CLI, "report", "duplicates", "--format", fmt, "--out", str(out)], work
            )
            print(
                f"report duplicates --format {fmt}: {seconds:.2f} s, "
                f"{out.stat().st_size / 1e6:.1f} MB (target < {TARGET_SECONDS:g} s)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
