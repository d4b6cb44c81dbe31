"""A policy file with a later version: decisions from its effective date carry its id.

The run records the policy it decided under (versions and training dates), so a
stored decision can be told which made it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli_ledger import run_args
from tests.e2e.test_reconcile_cli import arms_sync

pytestmark = pytest.mark.e2e

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
    assert [(v["id"], v["effective_from"]) for v in recorded["versions"]] == [
        ("pi-15-2015", None),
        ("pi-later", LATER_FROM),
    ]
    assert all(len(v["digest"]) == 16 for v in recorded["versions"])
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


def test_a_version_edited_under_an_id_already_used_is_refused(tmp_path: Path) -> None:
    arms_sync(*run_args(tmp_path), cwd=tmp_path)  # decided under the built-in pi-15-2015
    edited = tmp_path / "edited.toml"
    shipped = SHIPPED.read_text(encoding="utf-8")
    edited.write_text(shipped.replace("rollout_offset_months = 6", "rollout_offset_months = 9"))
    settings = tmp_path / "edited-settings.toml"
    settings.write_text(f'[arms_sync]\npolicy_file = "{edited}"\n', encoding="utf-8")
    before = arms_sync("export", "timeline", cwd=tmp_path).stdout

    refused = arms_sync("--config", str(settings), *run_args(tmp_path), cwd=tmp_path, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "Error: Policy version pi-15-2015 is not the one earlier runs decided under (its rules, "
        "months or date differ); give the changed policy a new id and an effective date, or "
        "restore the version as it was."
    )
    assert arms_sync("export", "timeline", cwd=tmp_path).stdout == before
    same = tmp_path / "same-settings.toml"
    same.write_text(f'[arms_sync]\npolicy_file = "{SHIPPED}"\n', encoding="utf-8")
    arms_sync("--config", str(same), *run_args(tmp_path), cwd=tmp_path)  # the same content
