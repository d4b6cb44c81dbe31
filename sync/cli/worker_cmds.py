"""Background deployment commands: `worker`, `beat`, `status`, `dead-letters`, `run --distributed`.

`worker` and `beat` run Celery for the application `workers.app.create_app`
builds from `ARMS_SYNC_*` settings; `status` prints what
`workers.status_report` finds; `run --distributed` shows the progress of the
cycle `workers.cycle_run` starts and waits for.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import click

from sync.app import App
from sync.cli.context import CliState, is_terminal, pass_state
from sync.cycle import RunSummary
from sync.distributed.cycles import require_postgresql_url
from sync.distributed.work import (
    CYCLE_ABANDONED,
    list_dead_letters,
    retry_dead_letter,
)
from sync.errors import ArmsSyncError, UsageError
from sync.gateway_clients import check_gateway_url
from sync.ledger.moments import iso_utc
from sync.sources import URL_SCHEMES
from sync.wording import counted
from workers.status_report import BROKER_NOT_USED, held_unsent, status_report

if TYPE_CHECKING:
    from sync.settings import Settings
    from workers.settings import WorkerSettings

DEFAULT_BEAT_SCHEDULE_FILE = "celerybeat-schedule"


def _worker_settings(state: CliState, **overrides: Any) -> WorkerSettings:
    from workers.settings import load_worker_settings

    return load_worker_settings(database_url=state.db, config=state.config, **overrides)


@click.command()
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="Worker processes (default: settings)."
)
@click.option("--queues", help="Comma-separated queues to consume (default: both).")
@click.option("--hostname", help="Celery node name (default: celery@host).")
@click.option("--loglevel", default="INFO", show_default=True, help="Celery's log level.")
@pass_state
def worker(
    state: CliState,
    concurrency: int | None,
    queues: str | None,
    hostname: str | None,
    loglevel: str,
) -> None:
    """Run a background worker (Celery, prefork pool); start more to scale out."""
    from workers.app import create_app

    settings = _worker_settings(state, concurrency=concurrency)
    _refuse_unusable_settings(settings)
    celery_app = create_app(settings)
    argv = [
        "worker",
        "--pool",
        "prefork",
        f"--concurrency={settings.concurrency}",
        f"--loglevel={loglevel}",
        "--task-events",
        "--queues",
        queues or f"{settings.queue},{settings.delivery_queue}",
    ]
    if hostname:
        argv += ["--hostname", hostname]
    celery_app.worker_main(argv)


@click.command()
@click.option(
    "--schedule-file",
    default=DEFAULT_BEAT_SCHEDULE_FILE,
    show_default=True,
    help="Where beat keeps its last run times.",
)
@click.option("--loglevel", default="INFO", show_default=True, help="Celery's log level.")
@pass_state
def beat(state: CliState, schedule_file: str, loglevel: str) -> None:
    """Run the scheduler: pulls, deliveries, re-dispatch and the nightly report."""
    from workers.app import create_app

    settings = _worker_settings(state)
    _refuse_unusable_settings(settings)
    celery_app = create_app(settings)
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={schedule_file}"])


def _refuse_unusable_settings(settings: Any) -> None:
    """Refuse to start a worker or beat on a ledger other hosts cannot share, or with a
    gateway URL no client may be built for (which would fail every task that uses it)."""
    from workers.settings import app_settings

    service = app_settings(settings)
    require_postgresql_url(service.database_url)
    feeds = [feed for feed in settings.feeds().values() if feed.startswith(URL_SCHEMES)]
    _check_gateway_urls(service, [*feeds, *settings.gateways().values()])
    _refuse_a_ledger_it_cannot_open(service)


def _refuse_a_ledger_it_cannot_open(service: Settings) -> None:
    """Refuse to start when the ledger cannot be reached, or opened with this host's key.

    Each task would fail before the ledger could count its attempt, so none
    would ever be dead-lettered: the process would look healthy while no work
    is done. The sentence is the one any command gives (exit 2 for a key or
    setting to mend, 1 for a server that cannot be reached).
    """
    app = App(service)
    try:
        _ = app.ledger
    finally:
        app.close()


def _check_gateway_urls(service: Settings, urls: Iterable[str]) -> None:
    """Refuse, in one sentence (`check_gateway_url`), the first URL no client may use."""
    for url in urls:
        check_gateway_url(service, url)


# -- run --distributed -------------------------------------------------------
def run_distributed_shown(
    app: App, probation_spec: str, police_spec: str, as_of: date
) -> RunSummary:
    """`run --distributed`: the cycle's run summary, its progress shown on a terminal."""
    from workers.cycle_run import run_distributed

    with _progress() as show:
        return run_distributed(app, probation_spec, police_spec, as_of, show=show)


@contextmanager
def _progress() -> Iterator[Any]:
    """A progress bar on a terminal; a silent callback when piped."""
    if not is_terminal():
        yield lambda *_: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("cycle", total=None)

        def show(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"cycle: {stage}", completed=done, total=total or None)

        yield show


# -- status ------------------------------------------------------------------
def _last_run_line(run: dict[str, Any] | None) -> str:
    """The status line of the latest finished run."""
    if run is None:
        return "none finished yet"
    line = f"{run['run_id']} {run['status']} at {run['finished_at']}, as of {run['as_of']}"
    for agency, sentence in run["feed_errors"].items():
        line += f"; its {agency} feed was not read whole: {sentence}"
    return line


def _queues_shown(report: dict[str, Any]) -> str:
    """The status line of the queues: their depths, or why there are none to show."""
    if report["broker"] == BROKER_NOT_USED:
        return "none (no background workers: no broker, feeds or gateways set, no cycle run)"
    if report["queues"] is None:
        return "unreachable"
    return ", ".join(f"{name} {depth}" for name, depth in report["queues"].items())


def _oldest_waiting(agency: dict[str, Any]) -> str:
    """The status line's note of the oldest notice batch still waiting for delivery, and
    of the attempts to deliver it that failed."""
    oldest = agency["oldest_undelivered"]
    if oldest is None:
        return ""
    note = f", oldest notices waiting since {oldest}"
    if agency["failed_attempts"]:
        tried = counted(agency["failed_attempts"], "failed attempt")
        note += f" after {tried} (last: {agency['last_failure']})"
    if agency["held"] is not None:
        note += f"; {held_unsent(agency['held'])}"
    return note


def _asked_to_wait(agency: str, not_before: str | None) -> str:
    """The status line's note of a feed wait the gateway asked for, if one lasts, and the
    command that clears it."""
    if not_before is None:
        return ""
    return (
        f"; its gateway asked not to be called for its feed before {not_before} "
        f"(`arms-sync ledger clear-wait {agency}` calls it at the next pull)"
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Queue depths, last pull and delivery per agency, dead letters; exit 1 when stale."""
    report, problems = status_report(state.app, _worker_settings(state))
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        click.echo(f"queues: {_queues_shown(report)}")
        if report["workers"] is not None:
            click.echo(f"workers: {counted(report['workers'], 'worker')} answered a ping")
        for agency in report["agencies"]:
            click.echo(
                f"{agency['agency']}: last whole pull {agency['last_pull'] or 'never'}, "
                f"last delivery {agency['last_delivery'] or 'never'}"
                + _oldest_waiting(agency)
                + _asked_to_wait(agency["agency"], agency["pull_not_before"])
            )
        click.echo(f"last run: {_last_run_line(report['last_run'])}")
        for run in report["runs_in_progress"]:
            click.echo(
                f"run in progress: {run['run_id']} since {run['started_at']}, as of {run['as_of']}"
            )
        for cycle in report["open_cycles"]:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(cycle["tasks"].items()))
            click.echo(
                f"cycle {cycle['cycle_id']}: {cycle['stage']} ({cycle['status']}); "
                f"tasks: {counts or 'none yet'}"
            )
        click.echo(f"dead letters: {report['dead_letters']}")
        for problem in problems:
            click.echo(f"problem: {problem}")
    if problems:
        raise ArmsSyncError("The deployment needs attention: " + "; ".join(problems) + ".")


# -- dead letters ------------------------------------------------------------
@click.group("dead-letters", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
@click.option(
    "--all",
    "include_retried",
    is_flag=True,
    help="Include letters retried, or whose cycle was abandoned.",
)
@click.pass_context
def dead_letters(ctx: click.Context, as_json: bool, include_retried: bool) -> None:
    """Tasks that kept failing: list them, `retry ID` to queue one again, or `abandon CYCLE`."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(CliState)
    assert state is not None
    letters = list_dead_letters(state.app.ledger.engine, include_retried)
    for letter in letters:
        row = {key: _plain(value) for key, value in letter.items()}
        if as_json:
            click.echo(json.dumps(row, sort_keys=True))
        else:
            click.echo(
                f"{row['id']}: cycle {row['cycle_id']} {row['task_key']} "
                f"attempts {row['attempts']} last error {row['last_error']} "
                f"last seen {row['last_seen']}" + _feed(row) + _closed(row)
            )
    if not as_json:
        click.echo(_letters_total(letters, include_retried))


def _letters_total(letters: list[dict[str, Any]], include_retried: bool) -> str:
    """The listing's last line: how many letters, and with `--all` how many still wait."""
    total = counted(len(letters), "dead letter")
    if not include_retried:
        return total
    waiting = sum(1 for letter in letters if not _closed(letter))
    return f"{total}, {waiting} waiting for a retry"


def _feed(row: dict[str, Any]) -> str:
    """The listing's note of the feed an ingest letter's retry reads: where to put it back."""
    return "" if row["feed"] is None else f" feed {row['feed']}"


def _closed(row: dict[str, Any]) -> str:
    """The listing's note of a letter no longer waiting: retried, or its cycle abandoned."""
    if row["retried_at"] is not None:
        return f" retried {row['retried_at']}"
    return " (its cycle was abandoned)" if row["cycle_status"] == CYCLE_ABANDONED else ""


def _plain(value: object) -> object:
    return iso_utc(value) if isinstance(value, datetime) else value


@dead_letters.command("retry")
@click.argument("letter_id", type=int)
@pass_state
def retry(state: CliState, letter_id: int) -> None:
    """Queue a dead-lettered task again with a fresh attempts count."""
    from workers.app import create_app, send

    app = state.app
    ref = retry_dead_letter(app.ledger.engine, letter_id, app.clock())
    if ref is None:
        raise UsageError(
            f"There is no dead letter {letter_id} waiting for a retry "
            "(see `arms-sync dead-letters --all`)."
        )
    with closing(create_app(_worker_settings(state))) as celery_app:
        sent = send(celery_app, [ref])
    if sent:
        click.echo(f"queued {ref.key} of cycle {ref.cycle_id} again")
    else:
        click.echo(
            f"{ref.key} of cycle {ref.cycle_id} is owed again; the broker cannot be reached "
            "now, so the next re-dispatch sends it.",
            err=True,
        )


@dead_letters.command("abandon")
@click.argument("cycle_id", type=int)
@click.option(
    "--operator", help="Who is acting (default: ARMS_SYNC_OPERATOR or the settings file)."
)
@click.option("--apply", "do_apply", is_flag=True, help="Abandon it (else only a preview).")
@pass_state
def abandon(state: CliState, cycle_id: int, operator: str | None, do_apply: bool) -> None:
    """Give up a blocked cycle, so cycles run again.

    For a cycle blocked on a dead letter no retry will mend. Its unfinished
    tasks stop, its staged work is erased and its letters stop waiting; what
    it read stays in the ledger for the next cycle. Without `--apply`, says
    what it would do.
    """
    from sync.audit.pipeline_hooks import cli_actor
    from sync.distributed.abandon import abandon_cycle

    actor = cli_actor(state.operator(operator))
    app = state.app
    outcome = abandon_cycle(app.ledger.engine, cycle_id, actor, app.clock(), apply=do_apply)
    click.echo(outcome.sentence(do_apply))
