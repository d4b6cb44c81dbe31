"""The sync cycle split into tasks for a background deployment, with the ledger as the truth.

`work` keeps each task's state (pending, running, done, dead) and attempts in
`cycle_tasks`, the advisory locks, re-dispatch and dead letters; `cycles`
starts and reads a cycle; `stages` does the work of ingest, link, decide and
deliver by calling the same service code as the in-process run, and `commit`
stores the pass with `decide_and_store` (decided afresh if the ledger changed
since the link stage read it), its notices and the run's summary in one
transaction; `store` stages what one stage hands to the next; `status`
reads progress and freshness; `report` writes the nightly report. Nothing here
imports Celery: the `workers` package sends the task references these
functions return.
"""
