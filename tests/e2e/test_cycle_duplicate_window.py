"""A distributed cycle's decide batches flag duplicates within the window from settings.

Two assessments of one subject by the two agencies form a `duplicate` pair when
their reference dates are at most W days apart (duplicates.md); the decide
tasks read W from the settings, as `run` does.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.ledger.flag_rows import iter_flag_rows
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import cycle_status
from tests.e2e.test_workers import ONE_SUBJECT_A_BATCH, run_cycle_inline, service_app
from tests.feed_records import completed_assessment, person, write_feeds

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

close_apps = shared.close_apps


def test_a_pair_is_a_duplicate_at_the_window_and_not_a_day_beyond(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """Neither agency owns these subjects, so each assessment is flagged; only the pair
    180 days apart (W = 180) is also a duplicate."""
    write_feeds(
        tmp_path,
        [
            person("probation", "X000001", pnc="1990/0004242E"),
            person("probation", "X000002", pnc="2002/0073319Z", surname="OTHER"),
            completed_assessment("probation", "A-1", "X000001", "2026-01-01"),
            completed_assessment("probation", "A-2", "X000002", "2026-01-01"),
        ],
        [
            person("police", "P-1", pnc="1990/0004242E"),
            person("police", "P-2", pnc="2002/0073319Z", surname="OTHER"),
            completed_assessment("police", "PA-1", "P-1", "2026-06-30"),  # 180 days on
            completed_assessment("police", "PA-2", "P-2", "2026-07-01"),  # 181 days on
        ],
    )
    app = service_app(fresh_postgres_url)
    assert app.settings.window_days == 180
    cycle_id, _executed = run_cycle_inline(app, ONE_SUBJECT_A_BATCH, tmp_path)

    assert cycle_status(app, cycle_id) == "succeeded"
    flags = {(row.kind, row.assessment_id) for row in iter_flag_rows(app.ledger)}
    duplicates = {assessment for kind, assessment in flags if kind == "duplicate"}
    assert duplicates == {"A-1", "PA-1"}
    without_owner = {assessment for kind, assessment in flags if kind == "assessed_without_owner"}
    assert without_owner == {"A-1", "A-2", "PA-1", "PA-2"}
