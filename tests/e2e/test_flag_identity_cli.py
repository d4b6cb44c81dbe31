"""`arms-sync run` then `report duplicates`: a relinked person's assessment keeps its one flag."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from sync.ledger import schema
from tests.conftest import run_cli
from tests.feed_records import run_args, write_feeds
from tests.relink_scenario import AFTER, BEFORE, PROBATION

pytestmark = pytest.mark.e2e
KIND = "assessed_without_owner"


def _run(folder: Path, police: list[Any]) -> None:
    run_cli(*run_args(*write_feeds(folder, PROBATION, police)), cwd=folder)


def _report_rows(folder: Path, assessment_id: str) -> list[dict[str, Any]]:
    output = run_cli("report", "duplicates", "--format", "json", cwd=folder).stdout
    flags: list[dict[str, Any]] = json.loads(output)["flags"]
    return [f for f in flags if f["kind"] == KIND and f["assessment_id"] == assessment_id]


def _subject_of(folder: Path, person_id: str) -> str:
    for line in run_cli("export", "links", cwd=folder).stdout.splitlines():
        subject = json.loads(line)
        if any(record["person_id"] == person_id for record in subject["records"]):
            return str(subject["subject_id"])
    raise AssertionError("person not exported")


def _first_seen(folder: Path, assessment_id: str) -> list[datetime]:
    """The first-seen times stored for the assessment's flags of the kind."""
    engine = create_engine(f"sqlite:///{folder / 'arms-sync.db'}")
    table = schema.flags
    query = select(table.c.first_seen).where(
        table.c.kind == KIND, table.c.assessment_id == assessment_id
    )
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).scalars())
    finally:
        engine.dispose()


def test_a_relinked_person_keeps_one_flag_per_assessment_and_kind(tmp_path: Path) -> None:
    _run(tmp_path, BEFORE)
    assert _subject_of(tmp_path, "Q-9") == _subject_of(tmp_path, "A000001")
    (before,) = _report_rows(tmp_path, "QA")
    old_subject = _subject_of(tmp_path, "Q-1")
    first_seen = _first_seen(tmp_path, "QA")
    assert before["subject_id"] == old_subject

    _run(tmp_path, AFTER)
    new_subject = _subject_of(tmp_path, "Q-1")
    assert new_subject == _subject_of(tmp_path, "A000001") != old_subject
    (after,) = _report_rows(tmp_path, "QA")
    assert (after["subject_id"], after["state"], after["closed_at"]) == (new_subject, "open", None)
    assert after["first_seen"] == before["first_seen"]
    assert _first_seen(tmp_path, "QA") == first_seen
