"""What `arms-sync status` reports of a deployment, and the problems it must raise.

Queue depths come from the broker (only where the deployment has background
workers); everything else from the ledger, which it only reads: each agency's
last whole pull and delivery, notices waiting and why, the latest finished
run, the in-process runs in flight (and any whose process is gone), dead
letters and open cycles. The command line prints the report or its JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from sync.app import App
from sync.delivery import failure_words, held_for_keys
from sync.distributed.status import (
    AGENCIES,
    AgencyFreshness,
    CycleProgress,
    agency_freshness,
    any_cycle_recorded,
    cycle_progress,
    open_cycle_ids,
)
from sync.distributed.work import CYCLE_BLOCKED, CYCLE_RUNNING, list_dead_letters
from sync.ledger.moments import as_utc, iso_utc
from sync.ledger.runs import (
    UNFINISHED_OUTCOMES,
    FinishedRun,
    RunInProgress,
    any_in_process_run,
    in_process_runs_in_progress,
    latest_finished_run,
)
from sync.wording import counted

if TYPE_CHECKING:
    from workers.settings import WorkerSettings

# What `status` found of the broker (`--json`: "broker").
BROKER_REACHABLE = "reachable"
BROKER_UNREACHABLE = "unreachable"
BROKER_NOT_USED = "not used"


def broker_place(url: str) -> str:
    """` at HOST:PORT` as the broker URL writes them (never its password), or ""."""
    place = urlsplit(url).netloc.rpartition("@")[2]
    return f" at {place}" if place else ""


def _age(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    return (now - as_utc(moment)).total_seconds()


def _still_ahead(moment: datetime | None, now: datetime) -> datetime | None:
    """The stored moment (made aware) if it is still to come, else None."""
    aware = None if moment is None else as_utc(moment)
    return aware if aware is not None and aware > now else None


def status_report(app: App, settings: WorkerSettings) -> tuple[dict[str, Any], list[str]]:
    """What `status` shows (queues, agencies, runs, dead letters, open cycles) and the
    problems (an in-process run whose process is gone among them)."""
    engine = app.ledger.engine
    problems: list[str] = []
    depths, broker, workers = _queues(settings, engine, problems)
    agencies = _agency_status(app, settings, problems)
    last_run, in_progress = _runs(app, problems)
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
    problems.extend(running_too_long(cycles, settings, app.clock()))
    if workers == 0 and (cycles or any((depths or {}).values())):
        problems.append(_no_worker(depths or {}, cycles))
    report = {
        "broker": broker,
        "queues": depths,
        "workers": workers,
        "agencies": agencies,
        "last_run": None if last_run is None else _run_shown(last_run),
        "runs_in_progress": [
            {
                "run_id": run.run_id,
                "as_of": run.as_of.isoformat(),
                "started_at": iso_utc(run.started_at),
            }
            for run in in_progress
        ],
        "dead_letters": len(letters),
        "open_cycles": [
            {"cycle_id": c.cycle_id, "stage": c.stage, "status": c.status, "tasks": c.tasks}
            for c in cycles
        ],
        "problems": problems,
    }
    return report, problems


def _queues(
    settings: WorkerSettings, engine: Engine, problems: list[str]
) -> tuple[dict[str, int] | None, str, int | None]:
    """The queues' depths (None when not read), what was found of the broker, and how
    many workers answered its ping (None when not asked); a broker that cannot be
    reached is added to `problems`."""
    if not _has_workers(settings, engine):
        return None, BROKER_NOT_USED, None
    from workers.app import answering_workers, create_app, queue_depths_or_problem

    with closing(create_app(settings)) as celery_app:  # Celery loads only here
        depths, unreachable = queue_depths_or_problem(celery_app)
        if unreachable is None:
            return depths, BROKER_REACHABLE, answering_workers(celery_app)
    problems.append(
        f"the broker{broker_place(settings.broker_url)} cannot be reached "
        f"({unreachable}); start it, or check ARMS_SYNC_BROKER_URL"
    )
    return depths, BROKER_UNREACHABLE, None


def _no_worker(depths: dict[str, int], cycles: list[CycleProgress]) -> str:
    """The problem of work waiting (task messages queued, a cycle open) while no worker
    answers: nothing takes it until one is started."""
    waiting = []
    if any(depths.values()):
        waiting.append(f"{counted(sum(depths.values()), 'task message')} queued")
    if cycles:
        waiting.append(f"{counted(len(cycles), 'cycle')} open")
    return (
        f"no worker answered the broker's ping while {' and '.join(waiting)}: start "
        "`arms-sync worker` (or see why the workers stopped in their logs)"
    )


def _runs(app: App, problems: list[str]) -> tuple[FinishedRun | None, list[RunInProgress]]:
    """The latest finished run and the in-process runs alive; a run whose process is
    gone, and a latest run that failed or was interrupted, are added to `problems`."""
    gone = app.ledger.in_process_runs_gone()
    with app.ledger.engine.connect() as conn:
        last_run = latest_finished_run(conn)
        recorded_running = in_process_runs_in_progress(conn)
    problems.extend(_gone(run) for run in recorded_running if run.run_id in gone)
    if last_run is not None and last_run.status in UNFINISHED_OUTCOMES:
        problems.append(_unfinished(last_run))
    return last_run, [run for run in recorded_running if run.run_id not in gone]


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


def _gone(run: RunInProgress) -> str:
    """The problem of an in-process run whose process ended without recording an
    outcome: its decisions were not stored, as for an interrupted run."""
    return (
        f"run {run.run_id}, as of {run.as_of.isoformat()}, started at "
        f"{iso_utc(run.started_at)}, ended without recording an outcome (its process is "
        "gone: killed, out of memory or its machine lost) and stored no decisions: mend "
        "what stopped it and run again (the next run records it as interrupted)"
    )


def _unfinished(run: FinishedRun) -> str:
    """The problem of a latest run that failed or was interrupted: its decisions were
    not stored, so the ledger's, if any, are older than the records it read."""
    return (
        f"the latest run, {run.run_id}, {run.status} at {iso_utc(run.finished_at)} without "
        "storing its decisions: mend what stopped it, as its command said, and run again"
    )


def running_too_long(
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


def _agencies_pulled_on_schedule(settings: WorkerSettings, engine: Engine) -> set[str]:
    """The agencies whose pulls must not go stale: those whose feeds the workers pull;
    with none, on a ledger `run` keeps (from cron, say) once the pull interval is set
    to its schedule, both agencies, which every run reads."""
    pulled = set(settings.feeds())
    if not pulled and "pull_interval_seconds" in settings.model_fields_set:
        with engine.connect() as conn:
            if any_in_process_run(conn):
                pulled |= set(AGENCIES)
    return pulled


def _agency_status(app: App, settings: WorkerSettings, problems: list[str]) -> list[dict[str, Any]]:
    """Each agency's last pull and delivery, its oldest waiting notice (why it waits, if it
    is held for keys or its last attempt failed) and any wait its gateway asked for; a
    stale pull or notices waiting too long are added to `problems`."""
    agencies = []
    now = app.clock()
    pulled = _agencies_pulled_on_schedule(settings, app.ledger.engine)
    for fresh in agency_freshness(app.ledger.engine):
        pull_age = _age(fresh.last_pull, now)
        waiting_age = _age(fresh.oldest_undelivered, now)
        if fresh.agency in pulled and (pull_age is None or pull_age > settings.stale_pull_seconds):
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


def held_unsent(held: str) -> str:
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
        problem = f"notices to {agency} are {held_unsent(waiting.held)}"
    else:
        problem = f"notices to {agency} are waiting too long"
        if waiting.last_failure is not None:
            problem += f" (last attempt: {waiting.last_failure})"
    if agency in settings.gateways() or last_delivery is not None:
        return problem
    return f"{problem}, with no gateway set to take them (ARMS_SYNC_{agency.upper()}_GATEWAY)"
