"""Test-only tasks, registered only when `ARMS_SYNC_WORKER_TEST_TASKS=workers.testing`.

`arms_sync.probe` runs a `probe` task of a cycle through the ledger machinery
like any other task, and kills its worker process (`os._exit`) every time:
the poison message the dead-letter path must stop. Probe tasks are outside the
cycle's stages, so the rest of the cycle completes.
"""

from __future__ import annotations

import os
from typing import Any

from sync.app import App
from sync.distributed.work import KIND_PROBE, CycleRules, TaskRef
from workers.app import task_name
from workers.tasks import _run, celery_task

POISON_EXIT_STATUS = 70


def _die(_app: App, _rules: CycleRules, _ref: TaskRef) -> list[TaskRef]:
    os._exit(POISON_EXIT_STATUS)


@celery_task(task_name(KIND_PROBE))
def probe_task(self: Any, cycle_id: int, arg: str) -> None:
    """Kill the worker process while holding the probe task."""
    _run(self, TaskRef(KIND_PROBE, int(cycle_id), str(arg)), work=_die)
