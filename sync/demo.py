"""`arms-sync demo`: synthetic agency data, a full sync, the duplicate report, a summary.

Everything runs on the embedded default (an SQLite ledger in the demo folder),
so a new user sees the whole product work without installing any server.
"""

from __future__ import annotations

from pathlib import Path

import click

from sync.app import App
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger.flag_rows import iter_flag_rows
from sync.reports.duplicates import build_report
from sync.reports.models import ReportFilters
from sync.reports.render import render
from sync.synth import SynthOptions, write_synthetic_feeds

REPORT_FORMATS = ("html", "csv", "json")


def run_demo(app: App, out: Path, subjects: int, seed: int) -> None:
    """Generate feeds, sync them, write the reports and print where everything is."""
    today = app.today()
    feeds_dir = out / "feeds"
    feeds_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"Generating synthetic feeds for {subjects} people…")
    write_synthetic_feeds(feeds_dir, SynthOptions(subjects=subjects, seed=seed, today=today))
    sources = {
        "probation": PlainFileSource(feeds_dir / "probation.jsonl"),
        "police": PlainFileSource(feeds_dir / "police.jsonl"),
    }
    click.echo("Syncing both agencies' feeds…")
    summary = run_cycle(app, sources, today)
    from sync.cli.run_cmds import print_summary

    print_summary(summary)
    report = build_report(
        list(iter_flag_rows(app.ledger)),
        as_of=today,
        window_days=app.settings.window_days,
        hours_per_assessment=app.settings.hours_per_assessment,
        filters=ReportFilters(),
    )
    written = []
    for fmt in REPORT_FORMATS:
        path = out / f"duplicates-report.{fmt}"
        path.write_bytes(render(report, fmt))
        written.append(path)
    figures = report.summary
    click.echo(
        f"Redundant completed assessments: {figures.redundant_completed} "
        f"(about {figures.hours_lost_estimate:g} officer hours, an estimate)."
    )
    click.echo("Reports written: " + ", ".join(str(path) for path in written))
    click.echo(f"Ledger: {app.settings.database_url}")
