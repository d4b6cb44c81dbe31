"""What `arms-sync demo` leaves behind and prints: today's feeds, delivered notices, the report.

One demo run in a fresh folder (and a second one in the same folder), started
as a user would; the checks read the folder it wrote and the lines it printed.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.cli.run_cmds import DEMO_SEED
from sync.gateway.store import NoticeStore
from sync.local_day import day_in_england
from sync.reports.models import hours_text
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

SUBJECTS = 30
FEED_FILES = ("probation.jsonl", "police.jsonl", "truth.jsonl")
REPORTS = ("duplicates-report.csv", "duplicates-report.html", "duplicates-report.json")
DELIVERED = re.compile(r"^(probation|police) gateway: delivered (\d+) notices? in (\d+) batch")


@dataclass(frozen=True)
class Demo:
    """A finished demo: its folder, the day it ran (UTC) and what it printed."""

    out: Path
    day: str
    result: subprocess.CompletedProcess[str]

    def line(self, prefix: str) -> str:
        """The one printed line starting with `prefix`, without it."""
        [found] = [
            line.removeprefix(prefix)
            for line in self.result.stdout.splitlines()
            if line.startswith(prefix)
        ]
        return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo run once over a small population (again, should it span midnight in England)."""
    while True:
        cwd = tmp_path_factory.mktemp("demo")
        out = cwd / "out"
        day = day_in_england(datetime.now(UTC)).isoformat()
        result = run_cli("demo", "--subjects", str(SUBJECTS), "--out", str(out), cwd=cwd)
        if day_in_england(datetime.now(UTC)).isoformat() == day:
            return Demo(out, day, result)


def test_the_demo_feeds_are_the_fixed_seed_dated_as_of_the_day_it_runs(
    demo: Demo, tmp_path: Path
) -> None:
    """Its clean feeds are those of the demo's seed generated as of the day it ran."""
    expected = SynthOptions(SUBJECTS, seed=DEMO_SEED, today=datetime.fromisoformat(demo.day).date())
    write_synthetic_feeds(tmp_path, expected)
    for name in FEED_FILES:
        same = (demo.out / "feeds" / name).read_bytes() == (tmp_path / name).read_bytes()
        assert same, name


def test_each_gateway_holds_the_batches_the_demo_says_it_delivered(demo: Demo) -> None:
    """The run's notices go back to both agencies: each gateway stores the batches printed."""
    printed = {
        match[1]: (int(match[2]), int(match[3]))
        for line in demo.result.stdout.splitlines()
        if (match := DELIVERED.match(line))
    }
    held = {}
    for agency in printed:
        store = NoticeStore(demo.out / "gateways" / agency)
        try:
            held[agency] = store.count()
        finally:
            store.close()
    assert sorted(printed) == ["police", "probation"]
    assert all(notices > 0 for notices, _ in printed.values())
    assert held == {agency: batches for agency, (_, batches) in printed.items()}


def test_the_printed_figures_are_those_of_the_report_written(demo: Demo) -> None:
    """The redundant-assessment count and hours printed are the JSON report's, and every
    report file printed exists."""
    summary = json.loads((demo.out / "duplicates-report.json").read_text())["summary"]
    assert demo.line("Redundant completed assessments: ") == (
        f"{summary['redundant_completed']} (about {hours_text(summary['hours_lost_estimate'])}"
        " officer hours, an estimate)."
    )
    written = [Path(path) for path in demo.line("Reports written: ").split(", ")]
    assert sorted(written) == [demo.out / name for name in REPORTS]
    assert all(path.is_file() for path in written)


def test_a_second_demo_in_the_same_folder_keeps_its_keys(demo: Demo) -> None:
    """Keys are made once per demo folder: running it again reuses them."""
    keys = demo.out / "keys"
    before = {path.name: path.read_bytes() for path in keys.iterdir() if path.is_file()}
    run_cli("demo", "--subjects", str(SUBJECTS), "--out", str(demo.out), cwd=demo.out.parent)
    after = {path.name: path.read_bytes() for path in keys.iterdir() if path.is_file()}
    assert before
    assert after == before
