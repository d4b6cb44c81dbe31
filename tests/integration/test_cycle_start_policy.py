"""Starting a distributed cycle refuses a policy version edited under a recorded id (PostgreSQL).

The refusal comes before the cycle or its run is recorded, not later from a
task of the cycle, in the sentence the in-process run gives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.cycle import run_cycle
from sync.distributed.cycles import start_cycle
from sync.errors import ConfigurationError
from sync.ledger import schema
from sync.ledger import tables_cycle as tables
from sync.settings import load_settings
from tests.e2e.test_workers import TODAY, feed_specs
from tests.feed_records import person, write_sources
from tests.integration.test_cycle_outcomes import POLICY

pytestmark = pytest.mark.integration


def counts(app: App) -> tuple[int, int]:
    """How many runs and cycles the ledger holds."""
    with app.ledger.engine.connect() as conn:
        runs = conn.execute(select(func.count()).select_from(schema.runs)).scalar_one()
        cycles = conn.execute(select(func.count()).select_from(tables.cycles)).scalar_one()
    return int(runs), int(cycles)


def test_a_cycle_is_not_started_under_a_policy_version_edited_since_it_was_recorded(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """The edited version is named; no run and no cycle are recorded."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.format(offset=6), encoding="utf-8")
    sources = write_sources(tmp_path, [person("probation", "X000001")], [person("police", "GMP-1")])
    first = App(load_settings(None, database_url=fresh_postgres_url, policy_file=policy))
    try:
        first.ledger.ensure_schema()
        run_cycle(first, sources, TODAY)
    finally:
        first.close()
    policy.write_text(POLICY.format(offset=3), encoding="utf-8")
    edited = App(load_settings(None, database_url=fresh_postgres_url, policy_file=policy))
    try:
        with pytest.raises(ConfigurationError, match="Policy version local-first is not the one"):
            start_cycle(edited, feed_specs(tmp_path), {}, date(2026, 11, 29))
        assert counts(edited) == (1, 0)
    finally:
        edited.close()
