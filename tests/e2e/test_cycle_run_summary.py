"""The run summary a distributed cycle stores is the one the in-process run stores.

Its feeds are recorded probation first, in the stored JSON as in `run`'s, and
notices to an agency whose keys cannot seal them are said to wait unsealed,
in the same words.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync.app import App
from sync.crypto import Party
from sync.crypto.keyring import list_keys, revoke
from sync.cycle import RunSummary, run_cycle
from sync.distributed.cycles import start_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.settings import load_settings
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e import test_workers as shared
from tests.e2e.test_commit_stage import run_until
from tests.e2e.test_deliver_stage import cycle_status
from tests.e2e.test_workers import TODAY, feed_specs
from tests.feed_records import person, registration, write_feeds
from tests.integration.gateway_process import make_keys

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

small_feeds = shared.small_feeds
close_apps = shared.close_apps
hub = deliver_stage.hub


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Every party's keys, the police's revoked with no new ones: notices to it stay unsealed."""
    folder = tmp_path / "keys"
    make_keys(folder)
    police = next(info for info in list_keys(folder) if info.party is Party.POLICE)
    revoke(folder, Party.POLICE, police.key_id)
    return folder


def stored_summary(app: App, run_id: int) -> str:
    """The summary JSON text stored with a run."""
    runs = schema.runs
    with app.ledger.engine.connect() as conn:
        return str(conn.execute(select(runs.c.summary).where(runs.c.id == run_id)).scalar_one())


def last_run_summary(app: App) -> dict[str, Any]:
    """The parsed summary of the ledger's latest run (key order kept)."""
    runs = schema.runs
    with app.ledger.engine.connect() as conn:
        run_id = conn.execute(select(runs.c.id).order_by(runs.c.id.desc()).limit(1)).scalar_one()
    found: dict[str, Any] = json.loads(stored_summary(app, run_id))
    return found


def in_process_run(
    keys: Path, specs: dict[str, str], tmp_path: Path
) -> tuple[RunSummary, dict[str, Any]]:
    """The same feeds through `run`'s in-process cycle on a ledger of its own: its summary
    as returned, and as stored."""
    reference = App(
        load_settings(None, database_url=f"sqlite:///{tmp_path / 'in-process.db'}", keys_dir=keys)
    )
    try:
        reference.ledger.ensure_schema()
        sources = {agency: PlainFileSource(Path(spec)) for agency, spec in specs.items()}
        summary = run_cycle(reference, sources, TODAY)
        return summary, last_run_summary(reference)
    finally:
        reference.close()


def test_a_cycles_summary_lists_feeds_and_unsealed_notices_as_run_does(
    hub: Callable[..., App], keys: Path, small_feeds: Path, tmp_path: Path
) -> None:
    """Probation's counts come first, and the police's notices are said to wait unsealed."""
    app = hub()
    cycle_id, queue = start_cycle(app, feed_specs(small_feeds), {}, TODAY)
    assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    cycle = last_run_summary(app)

    in_process, expected = in_process_run(keys, feed_specs(small_feeds), tmp_path)

    assert list(cycle["feeds"]) == list(expected["feeds"]) == ["probation", "police"]
    assert cycle["feeds"] == expected["feeds"]
    assert list(cycle["delivery_notes"]) == ["police"]
    assert cycle["delivery_notes"] == in_process.delivery_notes == expected["delivery_notes"]
    assert "unsealed" in cycle["delivery_notes"]["police"]


def test_a_cycle_names_the_unknown_fields_it_ignored_as_run_does(
    hub: Callable[..., App], keys: Path, tmp_path: Path
) -> None:
    """The ingest task's counts carry the ignored field names to the commit: the cycle's
    stored summary and its lines name them as the in-process run's do."""
    folder = tmp_path / "feeds"
    folder.mkdir()
    stray = {"end_date": "2020-01-01", "Jane Doe 1970": "x"}
    write_feeds(
        folder,
        [person("probation", "W900000")],
        [person("police", "P-1"), registration("R-1", "P-1", "2019-01-01", None, **stray)],
    )
    app = hub()
    cycle_id, queue = start_cycle(app, feed_specs(folder), {}, TODAY)
    assert run_until(app, queue, None) == []
    assert cycle_status(app, cycle_id) == "succeeded"
    cycle = last_run_summary(app)

    _, expected = in_process_run(keys, feed_specs(folder), tmp_path)

    assert cycle["feeds"] == expected["feeds"]
    assert cycle["feeds"]["police"]["unknown_fields"] == {"registration.end_date": 1}
    assert cycle["feeds"]["police"]["unknown_other"] == 1
    told = list(RunSummary.from_dict(cycle).lines())
    assert (
        "police: unknown fields ignored: registration.end_date (1 line), 1 field with another name"
        in told
    )
    assert "Jane" not in stored_summary(app, cycle["run_id"])
