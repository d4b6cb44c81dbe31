"""`arms-sync rejects --warnings`: a record accepted with several warnings shows each of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import person, run_args, write_feed

pytestmark = pytest.mark.e2e

CRO_WARNING = "cro: placeholder value, treated as absent"
PNC_WARNING = "pnc: check letter does not match, set aside"


def test_every_warning_of_a_record_is_in_its_table_row(ledger_url: str, tmp_path: Path) -> None:
    """Both values set aside on one person are named on its row, not only the first; the
    count below the table is in the singular."""
    db = ["--db", ledger_url]
    probation = write_feed(tmp_path / "probation.jsonl", [person("probation", "X000001")])
    police = write_feed(
        tmp_path / "police.jsonl",
        [person("police", "LAN-1", pnc="2018/0123456X", cro="000000/00Z")],
    )
    run_cli(*db, *run_args(probation, police), cwd=tmp_path)

    listed = run_cli(*db, "rejects", "--warnings", "--json", cwd=tmp_path).stdout
    [row] = [json.loads(line) for line in listed.splitlines()]
    assert sorted(row["warnings"]) == [CRO_WARNING, PNC_WARNING]

    table = run_cli(*db, "rejects", "--warnings", cwd=tmp_path).stdout
    assert "; ".join(row["warnings"]) in table
    assert table.splitlines()[-1] == "1 record with warnings"
    assert "2018/0123456X" not in listed + table
