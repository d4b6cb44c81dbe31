"""A policy file with a later version: decisions from its effective date carry its id.

The run records the policy it decided under (versions and training dates), so a
stored decision can be told which made it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli_ledger import run_args
from tests.e2e.test_reconcile_cli import arms_sync

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "policy.toml"
LATER_FROM = "2026-01-01"


def _settings_with_a_later_version(folder: Path) -> Path:
    first = SHIPPED.read_text(encoding="utf-8")
    later = first[first.index("rollout_offset_months") :].split("\n# A later version")[0]
    policy = folder / "policy.toml"
    policy.write_text(
        f'{first}\n[[version]]\nid = "pi-later"\neffective_from = {LATER_FROM}\n{later}',
        encoding="utf-8",
    )
    settings = folder / "settings.toml"
    settings.write_text(
        f'[arms_sync]\npolicy_file = "{policy}"\n[arms_sync.training_dates]\nnw = 2016-04-30\n',
        encoding="utf-8",
    )
    return settings


def test_decisions_from_a_later_version_s_date_carry_its_id(tmp_path: Path) -> None:
    settings = _settings_with_a_later_version(tmp_path)
    run = arms_sync("--config", str(settings), *run_args(tmp_path), cwd=tmp_path)
    timeline = arms_sync("--config", str(settings), "export", "timeline", cwd=tmp_path)

    recorded = json.loads(run.stdout)["policy"]
    assert recorded["versions"] == [
        {"id": "pi-15-2015", "effective_from": None},
        {"id": "pi-later", "effective_from": LATER_FROM},
    ]
    assert recorded["training_dates"] == {"NW": "2016-04-30"}
    segments = [s for line in timeline.stdout.splitlines() for s in json.loads(line)["segments"]]
    before = [s for s in segments if s["to"] is not None and s["to"] < LATER_FROM]
    after = [s for s in segments if s["from"] is not None and s["from"] >= LATER_FROM]
    assert before
    assert after
    assert {s["policy"] for s in before} == {"pi-15-2015"}
    assert {s["policy"] for s in after} == {"pi-later"}
    assert all(
        s["policy"] == "pi-15-2015"
        for s in segments
        if s["from"] is not None and s["from"] < LATER_FROM
    )
