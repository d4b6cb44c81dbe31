"""CLI commands that do the main work: `run`, `synth` and `demo`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.status import Status

from sync.cli.context import (
    ISO_DATE,
    KEYS_OPTION,
    WRITE_REFUSALS,
    CliState,
    cannot_write,
    is_terminal,
    output_folder,
    pass_state,
    writing,
)
from sync.cycle import RunSummary, deliver_to_gateways, run_cycle
from sync.errors import ArmsSyncError
from sync.sources import open_source, require_distinct_feeds
from sync.synth.options import DEFAULT_TODAY as SYNTH_DEFAULT_AS_OF
from sync.wording import noun

DEMO_SUBJECTS = 2_000
DEMO_SEED = 2015


@click.command()
@click.option(
    "--probation-feed",
    required=True,
    help="Probation feed: a file (plain or sealed JSON Lines) or the gateway's https:// URL.",
)
@click.option(
    "--police-feed",
    required=True,
    help="Police feed: a file (plain or sealed JSON Lines) or the gateway's https:// URL.",
)
@click.option("--as-of", type=ISO_DATE, help="The date taken as today (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option(
    "--distributed",
    is_flag=True,
    help="Enqueue the cycle on the broker for the workers, show progress, wait for its outcome.",
)
@KEYS_OPTION
@pass_state
def run(
    state: CliState,
    probation_feed: str,
    police_feed: str,
    as_of: date | None,
    as_json: bool,
    distributed: bool,
    keys_dir: Path | None,
) -> None:
    """One full sync cycle: pull both feeds, decide, flag, store (in-process or on workers)."""
    state.keys_dir = keys_dir
    require_distinct_feeds(probation_feed, police_feed)
    app = state.app
    _warn_of_a_day_ahead(as_of, app.today())
    if distributed:
        from sync.cli.worker_cmds import run_distributed_shown

        summary = run_distributed_shown(app, probation_feed, police_feed, as_of or app.today())
        _report_run(summary, as_json)
        return
    sources = {
        "probation": open_source(probation_feed, "probation", app),
        "police": open_source(police_feed, "police", app),
    }
    with _status("Syncing both feeds") as status:
        progress = None if status is None else status.update
        summary = run_cycle(app, sources, as_of or app.today(), progress)
        if progress is not None and any(source.live for source in sources.values()):
            progress("Delivering notices to the agencies' gateways")
        deliver_to_gateways(app, sources, summary)
    _report_run(summary, as_json)


def _warn_of_a_day_ahead(as_of: date | None, today: date) -> None:
    """Warn of an `--as-of` after today, a likely slip of the year: the run decides as of
    it, and so do the duplicate report and the manual acts after it (they take the
    latest run's day), while `export ownership` without `--as-of` shows today's owner."""
    if as_of is not None and as_of > today:
        click.echo(
            f"Warning: --as-of {as_of.isoformat()} is after today ({today.isoformat()} in "
            "England and Wales); the run decides as of that day, and so do the duplicate "
            "report and manual acts after it.",
            err=True,
        )


def _report_run(summary: RunSummary, as_json: bool) -> None:
    """Print the summary; fail with one sentence when a gateway let the run down."""
    if as_json:
        click.echo(json.dumps(summary.as_dict(), sort_keys=True))
    else:
        print_summary(summary)
    failures = []
    if summary.feed_errors:
        failures.append(f"the {_gateways(summary.feed_errors)} could not be read")
    if summary.delivery_errors:
        failures.append(f"the {_gateways(summary.delivery_errors)} did not take every notice batch")
    if failures:
        told = " and ".join(failures)
        raise ArmsSyncError(
            f"{told[0].upper()}{told[1:]}; the rest of the run completed and the next run "
            "resumes where this one stopped."
        )


def _gateways(errors: Mapping[str, str]) -> str:
    """'police gateway', or 'police and probation gateways'."""
    agencies = " and ".join(sorted(errors))
    return f"{agencies} {noun(len(errors), 'gateway')}"


def _status(message: str) -> AbstractContextManager[Status | None]:
    """A spinner with the stage under way on a terminal; nothing when piped."""
    if is_terminal():
        return Console(stderr=True).status(message)
    return nullcontext()


def print_summary(summary: RunSummary) -> None:
    """A short, readable account of a run (counts only)."""
    for line in summary.lines():
        click.echo(line)


@click.command()
@click.option(
    "--subjects",
    type=click.IntRange(min=1),
    default=1_000,
    show_default=True,
    help="People to make up.",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="The same seed makes the same data."
)
@click.option(
    "--noise",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of realistic data-entry errors (0 clean, 1 full rates).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the two feeds and the truth they were made from.",
)
@click.option(
    "--as-of",
    type=ISO_DATE,
    default=SYNTH_DEFAULT_AS_OF.isoformat(),
    show_default=True,
    help="The date the data is generated as of (fixed, so a seed always gives the same files).",
)
def synth(subjects: int, seed: int, noise: float, out: Path, as_of: date) -> None:
    """Write a synthetic pair of agency feeds and the truth they were built from.

    The same options give byte-identical files on any day: the data is dated
    relative to `--as-of`, not to today.
    """
    from sync.synth.options import SynthOptions
    from sync.synth.stream import write_synthetic_feeds

    with writing(output_folder(out)):
        result = write_synthetic_feeds(out, SynthOptions(subjects, seed, noise, as_of))
    click.echo(
        f"wrote {out / 'probation.jsonl'}, {out / 'police.jsonl'}, {out / 'truth.jsonl'} "
        f"(as of {as_of.isoformat()}, seed {seed})"
    )
    click.echo(json.dumps(_jsonable(result), sort_keys=True))


def _jsonable(value: object) -> object:
    from dataclasses import is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return str(value)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the synthetic feeds and the reports.",
)
@click.option(
    "--subjects",
    type=click.IntRange(min=10),
    default=DEMO_SUBJECTS,
    show_default=True,
    help="People in the synthetic data.",
)
@pass_state
def demo(state: CliState, out: Path, subjects: int) -> None:
    """The main job on the embedded default: synthetic data, a full sync, the report.

    The ledger is arms-sync.db in the --out folder, unless --db,
    ARMS_SYNC_DATABASE_URL or the settings file's database_url names another.
    """
    from sync.demo import run_demo
    from sync.settings import load_settings

    output_folder(out)
    if state.db is None and "database_url" not in load_settings(state.config).model_fields_set:
        state.db = f"sqlite:///{out / 'arms-sync.db'}"
    state.operator()  # the report's disclosure names it: refused now, not after the run
    try:
        run_demo(state.app, out, subjects, DEMO_SEED)
    except OSError as error:
        if error.errno in WRITE_REFUSALS:
            raise cannot_write(out, error) from error
        reason = error.strerror or type(error).__name__
        raise ArmsSyncError(f"The demo stopped: {reason}.") from error
