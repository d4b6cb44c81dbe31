"""A run's summary counts what it stored: subjects, owners on its date, orphans, open flags
and review items.

On SQLite, over synthetic feeds and one record whose person is missing: the
summary agrees with the ownership export for the run's date, with the
ledger's orphans and open flags, and with the duplicate report, each count
keyed in name order. Gender and date-of-birth conflicts are review items, not
flags (docs/decisions.md), so they are counted apart, as the report leaves them out.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.core.duplicates import REVIEW_KINDS
from sync.cycle import run_cycle
from sync.exports import export_ownership
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters
from sync.settings import Settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.feed_records import licence, person

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)


def test_the_summary_counts_what_the_run_stored(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=60, seed=7, today=AS_OF))
    with (feeds / "probation.jsonl").open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(licence("S-ORPHAN-1", "X999999", "2025-01-01", None)) + "\n")
    _add_conflicts(feeds)
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    app = App(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    try:
        summary = run_cycle(app, sources, AS_OF)
        lines = [json.loads(line) for line in export_ownership(app.ledger, AS_OF)]
        reported = ledger_report(app, ReportFilters()).summary.flags
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
    stored = {str(kind): int(count) for kind, count in open_flags}
    assert summary.open_flags == {k: n for k, n in stored.items() if k not in REVIEW_KINDS}
    assert summary.review_items == {k: n for k, n in stored.items() if k in REVIEW_KINDS}
    assert summary.open_flags == dict(sorted(reported.items()))
    assert len(summary.open_flags) > 1
    assert set(summary.review_items) == {"dob_conflict", "gender_conflict"}
    assert list(summary.open_flags) == sorted(summary.open_flags)
    assert list(summary.review_items) == sorted(summary.review_items)


def _add_conflicts(feeds: Path) -> None:
    """Two people each agency holds under one PNC: one recorded with two genders, the
    other with two dates of birth (review items)."""
    pairs: tuple[tuple[str, str, str, dict[str, str]], ...] = (
        ("X900001", "CONFLICT-1", "2002/0073319Z", {"gender": "F"}),
        ("X900002", "CONFLICT-2", "1979/0163001B", {"date_of_birth": "1971-03-04"}),
    )
    with (feeds / "probation.jsonl").open("a", encoding="utf-8") as stream:
        for crn, _, pnc, _ in pairs:
            record = person("probation", crn, surname="CONFLICTED", pnc=pnc)
            stream.write(json.dumps(record) + "\n")
    with (feeds / "police.jsonl").open("a", encoding="utf-8") as stream:
        for _, ref, pnc, differing in pairs:
            record = person("police", ref, surname="CONFLICTED", pnc=pnc, **differing)
            stream.write(json.dumps(record) + "\n")
