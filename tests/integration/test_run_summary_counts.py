"""A run's summary counts what it stored: subjects, owners on its date, orphans and open flags.

On SQLite, over synthetic feeds and one record whose person is missing: the
summary agrees with the ownership export for the run's date and with the
ledger's orphans and open flags, each count keyed in name order.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.cycle import run_cycle
from sync.exports import export_ownership
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.settings import Settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.feed_records import licence

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)


def test_the_summary_counts_what_the_run_stored(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=60, seed=7, today=AS_OF))
    with (feeds / "probation.jsonl").open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(licence("S-ORPHAN-1", "X999999", "2025-01-01", None)) + "\n")
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    app = App(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    try:
        summary = run_cycle(app, sources, AS_OF)
        lines = [json.loads(line) for line in export_ownership(app.ledger, AS_OF)]
        flags = schema.flags
        with app.ledger.engine.connect() as conn:
            orphans = conn.execute(select(func.count()).select_from(schema.orphans)).scalar_one()
            open_flags = conn.execute(
                select(flags.c.kind, func.count())
                .where(flags.c.closed_at.is_(None))
                .group_by(flags.c.kind)
            ).all()
    finally:
        app.close()
    owners = Counter(str(line["owner"]) for line in lines)
    assert len(owners) == 3
    assert summary.subjects == len(lines) > 0
    assert summary.owners_today == dict(owners)
    assert list(summary.owners_today) == sorted(owners)
    assert summary.orphans == orphans == 1
    assert summary.open_flags == {str(kind): int(count) for kind, count in open_flags}
    assert len(summary.open_flags) > 1
    assert list(summary.open_flags) == sorted(summary.open_flags)
