"""A distributed cycle decides a merged person's records with the person they were merged into.

A record pointing at a person its agency merged into another belongs to the
target person (feed-v1, `merge`): the decide batch holding the target takes
it, so the cycle stores what the in-process run stores, however small its
batches.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.distributed.work import KIND_DECIDE
from sync.exports import export_ownership
from sync.feeds.files import PlainFileSource
from sync.settings import load_settings
from tests.e2e import test_workers as shared
from tests.e2e.test_deliver_stage import cycle_status
from tests.e2e.test_workers import (
    ONE_SUBJECT_A_BATCH,
    TODAY,
    feed_specs,
    ledger_outputs,
    run_cycle_inline,
    service_app,
)
from tests.feed_records import licence, merge, person, write_feeds

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

close_apps = shared.close_apps


def merged_feeds(folder: Path) -> None:
    """Probation merged X100001 into X100002; the licence still names X100001."""
    write_feeds(
        folder,
        [
            person("probation", "X100001"),
            person("probation", "X100002", surname="SAMPLE"),
            merge("probation", "M1", "X100001", "X100002"),
            licence("L1", "X100001", "2026-01-01", None),
        ],
        [person("police", "Y100001", surname="REVIEW")],
    )


def test_a_record_of_a_merged_person_is_decided_with_its_target(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """The merged person's licence makes the target probation's from its start, as in `run`."""
    merged_feeds(tmp_path)
    app = service_app(fresh_postgres_url)
    cycle_id, executed = run_cycle_inline(app, ONE_SUBJECT_A_BATCH, tmp_path)
    decided = [ref for ref in executed if ref.kind == KIND_DECIDE]
    assert len(decided) == 2  # the target and the police's person, each in a batch of its own
    assert cycle_status(app, cycle_id) == "succeeded"

    reference = App(load_settings(None, database_url=f"sqlite:///{tmp_path / 'in-process.db'}"))
    try:
        reference.ledger.ensure_schema()
        sources = {a: PlainFileSource(Path(s)) for a, s in feed_specs(tmp_path).items()}
        run_cycle(reference, sources, TODAY)
        expected = ledger_outputs(reference)
    finally:
        reference.close()
    ownership = [json.loads(line) for line in export_ownership(app.ledger, TODAY)]
    [target] = [line for line in ownership if "X100002" in json.dumps(line["records"])]
    assert (target["owner"], target["from"]) == ("probation", "2026-01-01")
    assert ledger_outputs(app) == expected
