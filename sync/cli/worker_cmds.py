"""Background deployment commands: `worker`, `beat`, `status`, `dead-letters`, `run --distributed`.

`worker` and `beat` run Celery for the application `workers.app.create_app`
builds from `ARMS_SYNC_*` settings; `status` reads queue depths from the
broker and freshness and dead letters from the ledger; `run_distributed` is
what `run --distributed` calls: it records a cycle, sends its first tasks,
re-dispatches what the ledger says is owed while it waits, and returns the
run's summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from sync.app import App
from sync.cli.context import CliState, is_terminal, pass_state
from sync.cycle import RunSummary
from sync.delivery import failure_words, held_for_keys
from sync.distributed.cycles import require_postgresql, require_postgresql_url, start_next_cycle
from sync.distributed.status import (
    AgencyFreshness,
    CycleProgress,
    agency_freshness,
    any_cycle_recorded,
    cycle_deliveries,
    cycle_delivery_errors,
    cycle_progress,
    open_cycle_ids,
)
from sync.distributed.work import (
    CYCLE_ABANDONED,
    CYCLE_BLOCKED,
    CYCLE_RUNNING,
    FINISHED_CYCLES,
    dispatch_pending,
    list_dead_letters,
    retry_dead_letter,
)
from sync.errors import ArmsSyncError, Interrupted, UsageError
from sync.gateway_clients import check_gateway_url
from sync.ledger import schema
from sync.ledger.moments import as_utc, iso_utc
from sync.ledger.runs import UNFINISHED_OUTCOMES, FinishedRun, latest_finished_run
from sync.sources import URL_SCHEMES, feed_for_workers
from sync.wording import counted

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from sync.settings import Settings
    from workers.settings import WorkerSettings

WAIT_POLL_SECONDS = 0.5
DEFAULT_BEAT_SCHEDULE_FILE = "celerybeat-schedule"
# What `status` found of the broker (`--json`: "broker").
BROKER_REACHABLE = "reachable"
BROKER_UNREACHABLE = "unreachable"
BROKER_NOT_USED = "not used"


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
def run_distributed(
    app: App,
    probation_spec: str,
    police_spec: str,
    as_of: date,
    timeout_seconds: float | None = None,
) -> RunSummary:
    """Enqueue one full cycle on the broker, show progress, wait, and return its summary."""
    from workers.app import broker_problem, create_app, send
    from workers.settings import load_worker_settings

    require_postgresql(app)
    # Checked here, in one sentence, rather than by each worker until the task is dead-lettered.
    feeds = {
        "probation": feed_for_workers(probation_spec, "probation", app),
        "police": feed_for_workers(police_spec, "police", app),
    }
    settings = load_worker_settings(database_url=app.settings.database_url)
    _check_gateway_urls(app.settings, settings.gateways().values())
    celery_app = create_app(settings)
    problem = broker_problem(celery_app)
    if problem is not None:
        raise ArmsSyncError(
            f"The broker{_broker_place(settings.broker_url)} cannot be reached ({problem}); "
            "start it, or check ARMS_SYNC_BROKER_URL."
        )
    started = start_next_cycle(app, feeds, settings.gateways(), as_of)
    if started is None:
        open_ids = ", ".join(str(cycle_id) for cycle_id in open_cycle_ids(app.ledger.engine))
        other = f"Cycle {open_ids} is still open" if open_ids else "Another cycle is being started"
        raise ArmsSyncError(
            f"{other}: cycles run one at a time; "
            "see `arms-sync status`, or `arms-sync dead-letters` if it is blocked."
        )
    cycle_id, refs = started
    send(celery_app, refs)
    try:
        progress = _wait_for_cycle(app, celery_app, settings, cycle_id, timeout_seconds)
    except KeyboardInterrupt:
        raise Interrupted(
            f"Stopped waiting: cycle {cycle_id} goes on in the workers; see `arms-sync status`."
        ) from None
    summary = stored_summary(app, progress.run_id)
    summary.delivered.update(cycle_deliveries(app.ledger.engine, cycle_id))
    summary.delivery_errors.update(cycle_delivery_errors(app.ledger.engine, cycle_id))
    return summary


def _wait_for_cycle(
    app: App,
    celery_app: Any,
    settings: WorkerSettings,
    cycle_id: int,
    timeout_seconds: float | None,
) -> CycleProgress:
    """Show the cycle's progress until it finishes, re-dispatching what is owed; refused
    in one sentence when it is blocked, abandoned or out of time."""
    from workers.app import send

    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    with _progress() as show:
        while True:
            progress = cycle_progress(app.ledger.engine, cycle_id)
            show(progress.stage, progress.done, progress.total)
            if progress.status in FINISHED_CYCLES:
                break
            if progress.status == CYCLE_BLOCKED:
                raise ArmsSyncError(
                    f"Cycle {cycle_id} stopped on a task that kept failing; "
                    "see `arms-sync dead-letters`."
                )
            if progress.status == CYCLE_ABANDONED:
                raise ArmsSyncError(
                    f"Cycle {cycle_id} was abandoned by an operator; the next cycle decides "
                    "over what it read."
                )
            if deadline is not None and time.monotonic() > deadline:
                raise ArmsSyncError(f"Cycle {cycle_id} did not finish in time; it continues.")
            send(celery_app, dispatch_pending(app.ledger.engine, settings.rules, app.clock()))
            time.sleep(WAIT_POLL_SECONDS)
    return progress


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


def stored_summary(app: App, run_id: int) -> RunSummary:
    """The summary a finished run stored (counts, and the feed errors of a partial run)."""
    from sqlalchemy import select

    table = schema.runs
    with app.ledger.engine.connect() as conn:
        raw = conn.execute(select(table.c.summary).where(table.c.id == run_id)).scalar_one()
    return RunSummary.from_dict(json.loads(raw))


# -- status ------------------------------------------------------------------
def _age(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    return (now - as_utc(moment)).total_seconds()


def _still_ahead(moment: datetime | None, now: datetime) -> datetime | None:
    """The stored moment (made aware) if it is still to come, else None."""
    aware = None if moment is None else as_utc(moment)
    return aware if aware is not None and aware > now else None


def _broker_place(url: str) -> str:
    """` at HOST:PORT` as the broker URL writes them (never its password), or ""."""
    place = urlsplit(url).netloc.rpartition("@")[2]
    return f" at {place}" if place else ""


def _status_report(state: CliState) -> tuple[dict[str, Any], list[str]]:
    """What `status` shows (queues, agencies, dead letters, open cycles) and the problems."""
    from workers.app import create_app, queue_depths_or_problem

    settings = _worker_settings(state)
    engine = state.app.ledger.engine
    problems: list[str] = []
    depths, broker = None, BROKER_NOT_USED
    if _has_workers(settings, engine):
        depths, unreachable = queue_depths_or_problem(create_app(settings))
        broker = BROKER_REACHABLE if unreachable is None else BROKER_UNREACHABLE
        if unreachable is not None:
            problems.append(
                f"the broker{_broker_place(settings.broker_url)} cannot be reached "
                f"({unreachable}); start it, or check ARMS_SYNC_BROKER_URL"
            )
    agencies = _agency_status(state.app, settings, problems)
    with engine.connect() as conn:
        last_run = latest_finished_run(conn)
    if last_run is not None and last_run.status in UNFINISHED_OUTCOMES:
        problems.append(_unfinished(last_run))
    letters = list_dead_letters(engine)
    if letters:
        problems.append(f"{counted(len(letters), 'dead letter')}: see `arms-sync dead-letters`")
    cycles = [cycle_progress(engine, cycle_id) for cycle_id in open_cycle_ids(engine)]
    problems.extend(
        f"cycle {cycle.cycle_id} is blocked at its {cycle.stage} stage and holds back every "
        "later cycle: retry its letter once the cause is mended, or abandon it"
        for cycle in cycles
        if cycle.status == CYCLE_BLOCKED
    )
    problems.extend(_running_too_long(cycles, settings, state.app.clock()))
    report = {
        "broker": broker,
        "queues": depths,
        "agencies": agencies,
        "last_run": None if last_run is None else _run_shown(last_run),
        "dead_letters": len(letters),
        "open_cycles": [
            {"cycle_id": c.cycle_id, "stage": c.stage, "status": c.status, "tasks": c.tasks}
            for c in cycles
        ],
        "problems": problems,
    }
    return report, problems


def _run_shown(run: FinishedRun) -> dict[str, Any]:
    """The latest finished run as `status --json` gives it."""
    return {
        "run_id": run.run_id,
        "status": run.status,
        "kind": run.kind,
        "as_of": run.as_of.isoformat(),
        "finished_at": iso_utc(run.finished_at),
        "feed_errors": run.feed_errors,
    }


def _unfinished(run: FinishedRun) -> str:
    """The problem of a latest run that failed or was interrupted: its decisions were
    not stored, so the ledger's, if any, are older than the records it read."""
    return (
        f"the latest run, {run.run_id}, {run.status} at {iso_utc(run.finished_at)} without "
        "storing its decisions: mend what stopped it, as its command said, and run again"
    )


def _running_too_long(
    cycles: Iterable[CycleProgress], settings: WorkerSettings, now: datetime
) -> list[str]:
    """A problem for each running cycle older than three pull intervals (as a stale pull).

    Its tasks may be waiting for workers that cannot take them: a worker that cannot
    open the ledger (a key file gone, the database out of its reach) fails each task
    before the ledger can count the attempt, so none is ever dead-lettered.
    """
    return [
        f"cycle {cycle.cycle_id} has been running since {iso_utc(cycle.started_at)} and is "
        f"at its {cycle.stage} stage with {counted(cycle.total - cycle.done, 'task')} not "
        "done: see the workers' logs (a worker that cannot open the ledger leaves its tasks "
        "pending)"
        for cycle in cycles
        if cycle.status == CYCLE_RUNNING
        and (age := _age(cycle.started_at, now)) is not None
        and age > settings.stale_pull_seconds
    ]


def _has_workers(settings: WorkerSettings, engine: Engine) -> bool:
    """Whether the deployment has background workers, so that `status` must reach their
    broker: a broker, feeds or gateways set for them, or a worker cycle in the ledger. A
    ledger only `run` keeps has no broker to check, and the default one may be another's."""
    configured = "broker_url" in settings.model_fields_set
    return configured or bool(settings.feeds() or settings.gateways()) or any_cycle_recorded(engine)


def _agency_status(app: App, settings: WorkerSettings, problems: list[str]) -> list[dict[str, Any]]:
    """Each agency's last pull and delivery, its oldest waiting notice (why it waits, if it
    is held for keys or its last attempt failed) and any wait its gateway asked for; a
    stale pull or notices waiting too long are added to `problems`."""
    agencies = []
    now = app.clock()
    for fresh in agency_freshness(app.ledger.engine):
        pull_age = _age(fresh.last_pull, now)
        waiting_age = _age(fresh.oldest_undelivered, now)
        if fresh.agency in settings.feeds() and (
            pull_age is None or pull_age > settings.stale_pull_seconds
        ):
            problems.append(f"the last {fresh.agency} pull is stale")
        waiting = _why_waiting(app, fresh)
        too_long = waiting_age is not None and waiting_age > settings.stale_delivery_seconds
        if too_long or waiting.held is not None:
            problems.append(_notices_waiting(fresh.agency, settings, fresh.last_delivery, waiting))
        agencies.append(
            {
                "agency": fresh.agency,
                "last_pull": iso_utc(fresh.last_pull),
                "last_delivery": iso_utc(fresh.last_delivery),
                "oldest_undelivered": iso_utc(fresh.oldest_undelivered),
                "held": waiting.held,
                "failed_attempts": fresh.delivery_attempts,
                "last_failure": waiting.last_failure,
                "pull_not_before": iso_utc(_still_ahead(fresh.pull_not_before, now)),
            }
        )
    return agencies


@dataclass(frozen=True, slots=True)
class _Waiting:
    """Why an agency's notices wait: held unsent for keys, and the last attempt's failure."""

    held: str | None = None
    last_failure: str | None = None


def _held_unsent(held: str) -> str:
    """Why notices are held unsent, as a clause of a status line or a problem."""
    return f"held unsent: {held.removesuffix('.')}"


def _why_waiting(app: App, fresh: AgencyFreshness) -> _Waiting:
    """Why the agency's notices wait, when some do: the deployment's keys as they are now
    (no delivery pass sends while the hub or the agency lacks an active key), and the
    failure kept with the batch next in line."""
    if fresh.oldest_undelivered is None:
        return _Waiting()
    return _Waiting(held_for_keys(app, fresh.agency), failure_words(fresh.delivery_failure))


def _notices_waiting(
    agency: str, settings: WorkerSettings, last_delivery: datetime | None, waiting: _Waiting
) -> str:
    """The problem of notices held unsent for keys (at once: only an operator mends it) or
    waiting too long, with why, when that is known; it names the missing gateway when no
    gateway is set for the agency and none was ever delivered to (keys given to `run` over
    files queue notices that only a gateway takes)."""
    if waiting.held is not None:
        problem = f"notices to {agency} are {_held_unsent(waiting.held)}"
    else:
        problem = f"notices to {agency} are waiting too long"
        if waiting.last_failure is not None:
            problem += f" (last attempt: {waiting.last_failure})"
    if agency in settings.gateways() or last_delivery is not None:
        return problem
    return f"{problem}, with no gateway set to take them (ARMS_SYNC_{agency.upper()}_GATEWAY)"


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
        note += f"; {_held_unsent(agency['held'])}"
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
    report, problems = _status_report(state)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        click.echo(f"queues: {_queues_shown(report)}")
        for agency in report["agencies"]:
            click.echo(
                f"{agency['agency']}: last whole pull {agency['last_pull'] or 'never'}, "
                f"last delivery {agency['last_delivery'] or 'never'}"
                + _oldest_waiting(agency)
                + _asked_to_wait(agency["agency"], agency["pull_not_before"])
            )
        click.echo(f"last run: {_last_run_line(report['last_run'])}")
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
    if send(create_app(_worker_settings(state)), [ref]):
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
