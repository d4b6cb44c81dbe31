"""Run records: their statuses and kinds.

A run is `running` until its outcome is recorded: `succeeded`, `partial` (a
gateway let it down) or `failed` (it raised). In-process runs (`run`, and the
run each reconcile act starts) are of kind `in_process`; a distributed
cycle's run, which lives across many tasks and processes, of kind
`distributed`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection

from sync.ledger import schema

RUN_RUNNING = "running"
RUN_SUCCEEDED = "succeeded"
RUN_PARTIAL = "partial"
RUN_FAILED = "failed"

KIND_IN_PROCESS = "in_process"
KIND_DISTRIBUTED = "distributed"


def insert_run(conn: Connection, as_of: date, now: datetime, kind: str) -> int:
    """Record a run as started (inside `conn`'s transaction) and return its id."""
    result = conn.execute(
        schema.runs.insert().values(started_at=now, as_of=as_of, status=RUN_RUNNING, kind=kind)
    )
    run_id = result.inserted_primary_key
    assert run_id is not None
    return int(run_id[0])
