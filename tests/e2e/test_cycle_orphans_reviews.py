"""A distributed cycle keeps the orphans and the link reviews its link stage found.

The link stage stages them for the commit, which stores them as `run` does: an
orphaned record is listed, and a pair the matcher left for a person to decide
becomes a review item, however the subjects are split into decide batches.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.ledger import schema
from sync.ledger.tables_manual import review_items
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import cycle_status
from tests.e2e.test_workers import ONE_SUBJECT_A_BATCH, run_cycle_inline, service_app
from tests.feed_records import licence, merge, person, write_feeds

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

close_apps = shared.close_apps


def test_a_cycle_stores_its_orphans_and_its_review_items(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    shared_pnc = "2002/0073319Z"  # one PNC, surname and birth date both plainly disagreeing
    write_feeds(
        tmp_path,
        [
            person(
                "probation", "X000001", surname="ALPHA", date_of_birth="1960-03-04", pnc=shared_pnc
            ),
            licence("S-1", "X000009", "2025-01-01", None),  # its person is not in the feed
        ],
        [person("police", "P-1", surname="ZULU", date_of_birth="1990-07-08", pnc=shared_pnc)],
    )
    app = service_app(fresh_postgres_url)
    cycle_id, _executed = run_cycle_inline(app, ONE_SUBJECT_A_BATCH, tmp_path)

    assert cycle_status(app, cycle_id) == "succeeded"
    assert [(o["agency"], o["record_id"]) for o in app.ledger.list_orphans()] == [
        ("probation", "S-1")
    ]
    with app.ledger.engine.connect() as conn:
        items = conn.execute(select(func.count()).select_from(review_items)).scalar()
        summary = conn.execute(select(schema.runs.c.summary)).scalar_one()
    assert items == 1
    assert json.loads(summary)["link_reviews"] == 1


def test_a_cycle_keeps_why_a_merge_was_not_applied(fresh_postgres_url: str, tmp_path: Path) -> None:
    """A merge closing a loop is listed as such, not as a record missing its person."""
    write_feeds(
        tmp_path,
        [
            person("probation", "X000001"),
            person("probation", "X000002", surname="OTHER"),
            merge("probation", "M-1", "X000001", "X000002"),
            merge("probation", "M-2", "X000002", "X000001"),
        ],
        [],
    )
    app = service_app(fresh_postgres_url)
    cycle_id, _executed = run_cycle_inline(app, ONE_SUBJECT_A_BATCH, tmp_path)

    assert cycle_status(app, cycle_id) == "succeeded"
    [orphan] = app.ledger.list_orphans()
    assert (orphan["record_type"], orphan["reason"].split(":")[0]) == ("merge", "merge not applied")
