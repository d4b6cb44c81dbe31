"""A merge into a person record its agency later deleted, on both databases.

The deleted target is absent from every decision (`feed-v1.md`), so the merge
waits as one whose target never arrived (`docs/decisions.md`): the source
counts as a person again, with the records pointing at it, and the merge is
listed as an orphan that names the deletion, for someone to look at. The
ledger then decides as one never fed the target.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.exports import export_ownership
from sync.settings import Settings
from tests.feed_records import deleted_person, licence, merge, person, write_sources

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
DELETED_REASON = "orphan: refers to a person record its agency deleted"


def _owners(app: App) -> list[tuple[list[str], str, str]]:
    lines = [json.loads(line) for line in export_ownership(app.ledger, AS_OF)]
    return [([r["person_id"] for r in x["records"]], x["owner"], x["rule"]) for x in lines]


def test_a_merge_into_a_deleted_person_waits_and_its_source_counts_again(
    ledger_url: str, tmp_path: Path
) -> None:
    merged_away = [
        person("probation", "X920001"),
        person("probation", "X920002", forenames="B"),
        merge("probation", "MG-1", "X920001", "X920002", updated_at="2026-02-01T00:00:00Z"),
        licence("SU-1", "X920001", "2025-01-01", "2027-01-01"),
    ]
    deletion = [deleted_person("probation", "X920002", "2026-03-01T00:00:00Z")]
    for day in ("day1", "day2"):
        (tmp_path / day).mkdir()
    app = App(Settings(database_url=ledger_url))
    try:
        run_cycle(app, write_sources(tmp_path / "day1", merged_away, []), AS_OF)
        assert _owners(app) == [(["X920002"], "probation", "PROB-SEXUAL")]
        assert app.ledger.list_orphans() == []

        run_cycle(app, write_sources(tmp_path / "day2", deletion, []), AS_OF)
        owners = _owners(app)
        orphans = [(o["record_id"], o["reason"]) for o in app.ledger.list_orphans()]
    finally:
        app.close()
    assert owners == [(["X920001"], "probation", "PROB-SEXUAL")]
    assert orphans == [("MG-1", DELETED_REASON)]
