"""The spec's conformance examples, end to end through the CLI, on both databases."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

import pytest

from tests.conftest import run_cli
from tests.unit.test_report_build import CLI_FLAG_KEYS, CLI_SUMMARY_KEYS, CLI_TOP_KEYS

pytestmark = pytest.mark.e2e
AS_OF = "2026-11-28"


def _expected_ownership(examples: Path) -> dict[str, list[dict[str, object]]]:
    by_date: dict[str, list[dict[str, object]]] = defaultdict(list)
    for line in (examples / "expected-ownership.jsonl").read_text().splitlines():
        item = json.loads(line)
        by_date[item["as_of"]].append(item)
    return by_date


def _flag_identity(flag: dict[str, object]) -> tuple[object, ...]:
    if flag["kind"] == "duplicate_person_record":
        return (flag["kind"], flag["agency"], tuple(sorted(cast(list[str], flag["person_ids"]))))
    return (flag["kind"], flag["agency"], flag["assessment_id"])


def test_examples_decide_exactly_as_the_spec(
    examples_dir: Path, ledger_url: str, tmp_path: Path
) -> None:
    db = ["--db", ledger_url]
    run_cli(
        *db,
        "run",
        "--probation-feed",
        str(examples_dir / "probation.jsonl"),
        "--police-feed",
        str(examples_dir / "police.jsonl"),
        "--as-of",
        AS_OF,
        cwd=tmp_path,
    )
    mismatches = []
    for as_of, expectations in _expected_ownership(examples_dir).items():
        exported = run_cli(*db, "export", "ownership", "--as-of", as_of, cwd=tmp_path).stdout
        by_record = {}
        for line in exported.splitlines():
            subject = json.loads(line)
            for record in subject["records"]:
                by_record[(record["agency"], record["person_id"])] = subject
        for expected in expectations:
            record = expected["record"]
            got = by_record[(record["agency"], record["person_id"])]  # type: ignore[index]
            if (got["owner"], got["rule"], got["mandatory"]) != (
                expected["owner"],
                expected["rule"],
                expected["mandatory"],
            ):
                mismatches.append((record, as_of))
    assert mismatches == []

    report = json.loads(
        run_cli(*db, "report", "duplicates", "--format", "json", cwd=tmp_path).stdout
    )
    expected_flags = [
        json.loads(line)
        for line in (examples_dir / "expected-flags.jsonl").read_text().splitlines()
    ]
    assert sorted(map(_flag_identity, report["flags"])) == sorted(
        map(_flag_identity, expected_flags)
    )
    assert report["as_of"] == AS_OF
    assert sum(report["summary"]["flags"].values()) == len(report["flags"])
    assert_keys_in_contract_order(report)


def _in_order(keys: list[str], contract: tuple[str, ...]) -> list[str]:
    """The contract's keys as they come in `keys` (all there, in the contract's order)."""
    return [key for key in keys if key in contract]


def assert_keys_in_contract_order(report: dict[str, Any]) -> None:
    """The report, its summary and every flag name `cli.md`'s keys in `cli.md`'s order."""
    assert tuple(report)[: len(CLI_TOP_KEYS)] == CLI_TOP_KEYS
    assert tuple(report["summary"])[: len(CLI_SUMMARY_KEYS)] == CLI_SUMMARY_KEYS
    assert list(report["summary"]["by_area"][0])[:2] == ["area", "flags"]
    assert list(report["summary"]["by_month"][0])[:2] == ["month", "flags"]
    for flag in report["flags"]:
        assert tuple(_in_order(list(flag), CLI_FLAG_KEYS)) == CLI_FLAG_KEYS
        if flag["counterpart"] is not None:
            counterpart = list(flag["counterpart"])[:3]
            assert counterpart == ["agency", "assessment_id", "reference_date"]
