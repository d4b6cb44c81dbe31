"""`arms-sync rejects`: the JSON lines' fields and the table's cells and closing count."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sync.cli.data_cmds import REJECT_FIELDS, _echo_rejects_json, _print_rejects_table

FIRST_SEEN = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def _rejected(record_id: str | None, fixed_in_run: int | None) -> dict[str, Any]:
    """A rejected line as the ledger lists it."""
    return {
        "agency": "probation",
        "record_type": None if record_id is None else "person",
        "record_id": record_id,
        "source": "SAMPLE.jsonl",
        "position": "line 7",
        "reason": "surname: missing",
        "first_seen": FIRST_SEEN,
        "fixed_in_run": fixed_in_run,
    }


ORPHAN = {
    "agency": "police",
    "record_type": "assessment",
    "record_id": "PA-9",
    "reason": "orphan: refers to a person record the ledger never received",
}


def test_every_json_line_has_the_same_fields_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    """A rejected line and an orphan both carry every field; the orphan's place is null."""
    _echo_rejects_json([_rejected("X123", 4)], [ORPHAN])

    rejected, orphan = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert list(rejected) == list(REJECT_FIELDS) == list(orphan)
    assert rejected["first_seen"] == "2026-11-28T09:30:00+00:00"
    assert rejected["fixed_in_run"] == 4
    assert (orphan["source"], orphan["position"], orphan["first_seen"]) == (None, None, None)
    assert orphan["fixed_in_run"] is None
    assert (orphan["record_id"], orphan["reason"]) == (ORPHAN["record_id"], ORPHAN["reason"])


def test_the_table_shows_each_cell_and_counts_standing_fixed_and_orphaned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Unknown type and id show as '-', a fixed line names its run, the count splits them."""
    rows = [_rejected(None, None), _rejected("X124", 3), _rejected("X125", None)]
    _print_rejects_table(rows, [ORPHAN])

    out = capsys.readouterr().out
    shown = [line for line in out.splitlines() if "probation" in line or "police" in line]
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in shown]
    unidentified, fixed, standing, orphan = cells
    assert unidentified == [
        "probation", "-", "-", "SAMPLE.jsonl", "line 7", "surname: missing", ""
    ]  # fmt: skip
    assert fixed[1:3] == ["person", "X124"]
    assert fixed[-1] == "run 3"
    assert standing[1:3] == ["person", "X125"]
    assert standing[-1] == ""
    assert orphan == ["police", "assessment", "PA-9", "-", "-", ORPHAN["reason"], ""]
    assert out.splitlines()[-1] == "3 rejected (2 still standing, 1 since fixed), 1 orphaned"
