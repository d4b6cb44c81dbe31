"""An override none of whose records is current follows its subject id's successor, in `run`
and in a distributed cycle.

An override keeps the records its subject held when it was made and goes to
the subject holding most of them. When none of them is current, it falls back
on its stored subject id, or that id's successor once the id vanished. This
happens on a ledger of today, with no migration involved: the override is
made on a subject holding one probation record; a police record joins that
subject later; then the probation record is deleted by its agency and the
police record joins another subject, so the id vanishes and its successor is
the subject the police record went to. The override must be applied there,
by `run` and by a distributed cycle's decide tasks, whether its link stage
placed the overrides or the cycle's plans were staged before placements were.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import sync.cycle
from sync.app import App
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import run_cycle
from sync.distributed import store
from sync.distributed.cycles import start_cycle
from sync.distributed.work import KIND_DECIDE
from sync.feeds.files import PlainFileSource
from sync.ledger.override_moves import records_of_overrides
from sync.reconcile.overrides import AssignRequest, assign
from sync.settings import Settings
from tests.e2e import test_deliver_stage as deliver_stage
from tests.e2e.test_commit_stage import run_until
from tests.e2e.test_deliver_stage import cycle_status
from tests.e2e.test_workers import TODAY, feed_specs
from tests.integration.test_override_moves import (
    ACTOR,
    FIRST,
    LATER,
    PNC,
    _person,
    override_rows,
    rules_in_2020,
    subject_of,
)

pytestmark = pytest.mark.integration

hub = deliver_stage.hub
keys = deliver_stage.keys
LATEST = "2026-03-01T00:00:00Z"
OTHER_PNC = "1981/0000027L"
MADE_ON = "X700001"  # the probation record the override is made on, deleted at last
JOINER = "P7"  # the police record that joins its subject, then another one
Feeds = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def _tango(agency: str, person_id: str) -> dict[str, Any]:
    """A record of the other subject: two records sharing the other PNC."""
    record: dict[str, Any] = _person(agency, person_id, "TANGO", "1981-03-04", OTHER_PNC, FIRST)
    return record


def feeds_of(step: int) -> Feeds:
    """The probation and police feeds at each step (0: apart; 1: the police record joins the
    override's subject; 2: the probation record deleted, the police record moved on)."""
    made_on = _person("probation", MADE_ON, "ROMEO", "1970-01-02", None, FIRST)
    probation = [_tango("probation", "X700002")]
    police = [_tango("police", "P8")]
    if step == 0:
        return [made_on, *probation], police
    if step == 1:
        joined = _person("probation", MADE_ON, "ROMEO", "1970-01-02", PNC, LATER)
        joiner = _person("police", JOINER, "ROMEO", "1970-01-02", PNC, LATER)
        return [joined, *probation], [joiner, *police]
    deleted = {"type": "person", "agency": "probation", "id": MADE_ON, "deleted": True}
    deleted["updated_at"] = LATEST
    moved_on = _person("police", JOINER, "TANGO", "1981-03-04", OTHER_PNC, LATEST)
    return [deleted, *probation], [moved_on, *police]


def write_feeds(folder: Path, step: int) -> None:
    """The feeds of `step` as `probation.jsonl` and `police.jsonl` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for agency, rows in zip(("probation", "police"), feeds_of(step), strict=True):
        lines = "".join(json.dumps(row) + "\n" for row in rows)
        (folder / f"{agency}.jsonl").write_text(lines)


def run_step(app: App, folder: Path, step: int) -> None:
    """One in-process run of the feeds of `step`."""
    write_feeds(folder, step)
    sources = {a: PlainFileSource(Path(s)) for a, s in feed_specs(folder).items()}
    run_cycle(app, sources, TODAY)


def override_left_behind(app: App, folder: Path) -> tuple[str, str, str]:
    """Steps 0 and 1 run; the override made after step 0. Its id, its subject id, and the
    subject the police record will join (the successor once the id vanishes)."""
    run_step(app, folder, 0)
    subject = subject_of(app, MADE_ON)
    request = AssignRequest(subject, Owner.PROBATION, date(2020, 1, 1), date(2020, 12, 31))
    override = assign(app, request, ACTOR, apply=True).act_id
    assert override is not None
    with app.ledger.engine.connect() as conn:
        assert records_of_overrides(conn) == {override: (RecordRef(Agency.PROBATION, MADE_ON),)}
    run_step(app, folder, 1)
    assert subject_of(app, JOINER) == subject
    return override, subject, subject_of(app, "P8")


def test_a_run_applies_an_override_whose_records_are_all_gone_at_its_ids_successor(
    tmp_path: Path,
) -> None:
    app = App(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    try:
        override, vanished, successor = override_left_behind(app, tmp_path / "feeds")
        assert ("probation", "MANUAL") not in rules_in_2020(app, successor)
        run_step(app, tmp_path / "feeds", 2)
        assert subject_of(app, JOINER) == successor
        assert successor != vanished
        assert override_rows(app) == {override: successor}
        assert rules_in_2020(app, successor) == {("probation", "MANUAL")}
    finally:
        app.close()


def staged_as_before_placements(app: App, cycle_id: int) -> None:
    """Strip the placements from the cycle's staged link and plans, as a version staging no
    placements left them (a cycle begun before an upgrade, decided after it)."""
    ledger = app.ledger
    with ledger.engine.begin() as conn:
        link = store.get_staged(conn, ledger, cycle_id, store.PART_LINK)
        plans = list(store.iter_staged(conn, ledger, cycle_id, store.PART_PLAN))
        assert all("override_places" in part for part in (link, *plans))
        for part, value in [
            (store.PART_LINK, link),
            *((store.part_name(store.PART_PLAN, n), plan) for n, plan in enumerate(plans)),
        ]:
            value.pop("override_places")
            store.put_staged(conn, ledger, cycle_id, part, value)


@pytest.mark.parametrize("placements", [True, False], ids=["placed", "staged-before-placements"])
def test_a_distributed_cycle_applies_an_override_whose_records_are_all_gone_at_the_successor(
    hub: Callable[..., App], tmp_path: Path, placements: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its decide task applies the override at the successor, where the link stage placed
    it or, on plans staged without placements, by the succession the plan names."""
    app = hub()
    folder = tmp_path / "feeds"
    override, _vanished, successor = override_left_behind(app, folder)
    write_feeds(folder, 2)
    cycle_id, queue = start_cycle(app, feed_specs(folder), {}, TODAY)
    queue = run_until(app, queue, KIND_DECIDE)
    if not placements:
        staged_as_before_placements(app, cycle_id)
    decided_afresh: list[object] = []
    monkeypatch.setattr(sync.cycle, "decide", lambda *args: decided_afresh.append(args))
    assert run_until(app, queue, None) == []
    assert decided_afresh == []  # the decide tasks' pass was stored as staged
    monkeypatch.undo()
    assert cycle_status(app, cycle_id) == "succeeded"
    assert subject_of(app, JOINER) == successor
    assert override_rows(app) == {override: successor}
    assert rules_in_2020(app, successor) == {("probation", "MANUAL")}
