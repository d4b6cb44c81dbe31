"""Applying a manual act on both databases: the preview's pass is stored when the ledger
has not changed since the preview but for the act and its run, and a fresh pass is made
when it has, even when another act or run commits between the act and its pass."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import sync.cycle
import sync.reconcile.overrides
from sync.app import App
from sync.core.decide import Decisions
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import decide_and_store, run_cycle
from sync.errors import StalePass
from sync.feeds.convert import feed_state
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.ledger.decisions import store_decisions
from sync.ledger.store import Ledger
from sync.reconcile import apply
from sync.reconcile.acts import Actor
from sync.reconcile.links import link
from sync.reconcile.overrides import AssignRequest, assign
from sync.reconcile.preview import build_preview
from sync.settings import Settings
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
ACTOR = Actor("jsmith", "agreed at the MAPPA meeting")
PROBATION_TWO = RecordRef(Agency.PROBATION, "P100002")
POLICE_TWO = RecordRef(Agency.POLICE, "LAN-2")
DERIVED_TABLES = (
    schema.subjects,
    schema.subject_members,
    schema.links,
    schema.segments,
    schema.orphans,
)


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """An app over a ledger holding one run of the test feeds."""
    application = App(Settings(database_url=ledger_url))
    probation, police = write_feeds(tmp_path)
    sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
    run_cycle(application, sources, AS_OF)
    yield application
    application.close()


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times a decision is worked out from the ledger's records from now on
    (one entry per reading: a run's pass, or a preview's pair of passes)."""
    counted: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        counted.append(1)
        return feed_state(*args, **kwargs)

    monkeypatch.setattr(sync.cycle, "feed_state", counting)
    return counted


def stored(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """The stored decisions: derived tables and the flags' content, in a fixed order."""
    with app.ledger.engine.connect() as conn:
        tables = {
            table.name: sorted(tuple(row) for row in conn.execute(select(table)))
            for table in DERIVED_TABLES
        }
        flags = schema.flags
        content = select(flags.c.key, flags.c.subject_id, flags.c.person_ids, flags.c.closed_at)
        tables["flags"] = sorted(tuple(row) for row in conn.execute(content))
    return tables


def matches_a_fresh_pass(app: App) -> bool:
    """Whether a fresh decision pass over the ledger would store what is stored now."""
    before = stored(app)
    decide_and_store(app, AS_OF, app.ledger.start_run(AS_OF, datetime.now(UTC)))
    return stored(app) == before


def subject_of(app: App, ref: RecordRef) -> str:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        return str(
            conn.execute(
                select(table.c.subject_id).where(
                    table.c.agency == str(ref.agency), table.c.person_id == ref.person_id
                )
            ).scalar_one()
        )


def test_a_pass_whose_check_fails_is_not_stored(app: App) -> None:
    before = stored(app)
    checked: list[object] = []
    finished: list[int] = []

    def refuse(conn: object) -> bool:
        checked.append(conn)
        return False

    empty = Decisions(subjects=(), merged_into={}, orphans=())
    run_id = app.ledger.start_run(AS_OF, datetime.now(UTC))
    with pytest.raises(StalePass):
        store_decisions(
            app.ledger,
            empty,
            run_id,
            datetime.now(UTC),
            finish=lambda _conn, batches: finished.append(batches),
            check=refuse,
        )
    assert len(checked) == 1
    assert not finished
    assert stored(app) == before


def test_an_applied_link_stores_its_preview_pass(app: App, passes: list[int]) -> None:
    outcome = link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert outcome.applied
    assert len(passes) == 1  # the preview's; applying stores its pass with the link
    assert subject_of(app, PROBATION_TWO) == subject_of(app, POLICE_TWO)
    assert matches_a_fresh_pass(app)


def test_an_applied_override_stores_its_preview_pass(app: App, passes: list[int]) -> None:
    subject = subject_of(app, RecordRef(Agency.PROBATION, "P100001"))
    request = AssignRequest(subject, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 30))
    assign(app, request, ACTOR, apply=True)
    assert len(passes) == 1  # the preview's; applying stores its pass with the override
    with app.ledger.engine.connect() as conn:
        rules = set(conn.execute(select(schema.segments.c.rule)).scalars())
    assert "MANUAL" in rules
    assert matches_a_fresh_pass(app)


def owner_on(app: App, subject: str, day: date) -> tuple[str, str]:
    """The stored owner and rule of a subject's segment covering `day`."""
    segments = schema.segments
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(segments.c.start, segments.c.end, segments.c.owner, segments.c.rule).where(
                segments.c.subject_id == subject
            )
        ).all()
    (found,) = [
        (row.owner, row.rule)
        for row in rows
        if (row.start is None or row.start <= day) and (row.end is None or day <= row.end)
    ]
    return found


@pytest.mark.parametrize("later_id_first", [True, False], ids=["later-id-first", "later-id-last"])
def test_of_two_overrides_starting_the_same_day_the_one_made_later_wins(
    app: App, monkeypatch: pytest.MonkeyPatch, later_id_first: bool
) -> None:
    """An operator corrects an override by assigning another from the same day: the
    correction holds whichever way the two random ids sort, and a fresh pass agrees."""
    ids = ["OVR-FFFFFFFFFFFFFFFF", "OVR-0000000000000000"]
    made = iter(ids if later_id_first else ids[::-1])
    monkeypatch.setattr(sync.reconcile.overrides, "new_act_id", lambda _prefix: next(made))
    subject = subject_of(app, RecordRef(Agency.PROBATION, "P100001"))
    for owner, end in ((Owner.POLICE, date(2025, 6, 30)), (Owner.PROBATION, date(2025, 7, 31))):
        assign(app, AssignRequest(subject, owner, date(2025, 6, 1), end), ACTOR, apply=True)
    assert owner_on(app, subject, date(2025, 6, 15)) == ("probation", "MANUAL")
    assert matches_a_fresh_pass(app)


def run_statuses(app: App) -> list[str]:
    """Every run's status, oldest first."""
    with app.ledger.engine.connect() as conn:
        runs = schema.runs
        return list(conn.execute(select(runs.c.status).order_by(runs.c.id)).scalars())


def segment_rules(app: App) -> set[str]:
    """The rules of every stored segment."""
    with app.ledger.engine.connect() as conn:
        return set(conn.execute(select(schema.segments.c.rule)).scalars())


def _let_another_act_in(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, other: Callable[[], object]
) -> None:
    """On the first call of `owner.name`, `other` is applied completely, then the call goes on."""
    original: Callable[..., Any] = getattr(owner, name)
    pending = [other]

    def other_first(*args: Any, **kwargs: Any) -> Any:
        while pending:
            pending.pop()()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, other_first)


@pytest.mark.parametrize(
    ("owner", "name"),
    [(apply, "redecide"), (sync.cycle, "store_decisions")],
    ids=["before-its-run-starts", "before-its-run-stores"],
)
def test_an_act_applied_while_another_act_decides_is_kept(
    app: App, monkeypatch: pytest.MonkeyPatch, owner: object, name: str
) -> None:
    subject = subject_of(app, RecordRef(Agency.PROBATION, "P100001"))
    request = AssignRequest(subject, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 30))
    _let_another_act_in(monkeypatch, owner, name, lambda: assign(app, request, ACTOR, apply=True))
    link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert subject_of(app, PROBATION_TWO) == subject_of(app, POLICE_TWO)
    assert "MANUAL" in segment_rules(app)
    assert run_statuses(app) == ["succeeded"] * 3  # the feeds' run, the other act's, the link's
    assert matches_a_fresh_pass(app)


def _feeds_with_a_newcomer(folder: Path) -> dict[str, PlainFileSource]:
    """The test feeds with one more police person record."""
    probation, police = write_feeds(folder)
    newcomer = {
        "type": "person",
        "agency": "police",
        "id": "LAN-3",
        "surname": "EXAMPLE",
        "forenames": "A",
        "gender": "M",
        "area": "LANC",
        "updated_at": "2026-02-01T00:00:00Z",
    }
    with police.open("a") as stream:
        stream.write(json.dumps(newcomer) + "\n")
    return {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}


def _run_between_preview_and_apply(app: App, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run applies a new police record after the act's preview, before the act is stored."""
    sources = _feeds_with_a_newcomer(folder)
    preview: Callable[..., Any] = build_preview

    def preview_then_run(*args: Any, **kwargs: Any) -> Any:
        result = preview(*args, **kwargs)
        run_cycle(app, sources, AS_OF)
        return result

    monkeypatch.setattr(apply, "build_preview", preview_then_run)


def test_a_run_between_an_act_and_its_pass_is_kept(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = tmp_path / "later"
    later.mkdir()
    sources = _feeds_with_a_newcomer(later)
    _let_another_act_in(monkeypatch, apply, "redecide", lambda: run_cycle(app, sources, AS_OF))
    link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert subject_of(app, RecordRef(Agency.POLICE, "LAN-3"))
    assert subject_of(app, PROBATION_TWO) == subject_of(app, POLICE_TWO)
    assert run_statuses(app) == ["succeeded"] * 3
    assert matches_a_fresh_pass(app)


def test_a_change_after_the_preview_makes_the_act_decide_again(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passes: list[int]
) -> None:
    later = tmp_path / "later"
    later.mkdir()
    _run_between_preview_and_apply(app, later, monkeypatch)
    link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert len(passes) == 3  # the preview, the run, and the act's own fresh pass
    assert subject_of(app, RecordRef(Agency.POLICE, "LAN-3"))
    assert subject_of(app, PROBATION_TWO) == subject_of(app, POLICE_TWO)
    assert matches_a_fresh_pass(app)


def _refuse_success(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on a run cannot be recorded as succeeded (recording a failure still works)."""
    record_outcome = Ledger.finish_run

    def refuse_success(self: Ledger, run_id: int, status: str, *args: Any) -> None:
        if status == "succeeded":
            raise RuntimeError("the run's outcome could not be recorded")
        record_outcome(self, run_id, status, *args)

    monkeypatch.setattr(Ledger, "finish_run", refuse_success)


def test_an_act_s_pass_is_stored_only_together_with_its_run_finished(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = stored(app)
    _refuse_success(monkeypatch)
    with pytest.raises(RuntimeError, match="outcome could not be recorded"):
        link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert stored(app) == before
    assert run_statuses(app)[-1] == "failed"


def test_a_fresh_pass_after_a_stale_one_is_stored_only_with_its_run_finished(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    subject = subject_of(app, RecordRef(Agency.PROBATION, "P100001"))
    request = AssignRequest(subject, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 30))
    before: list[dict[str, list[tuple[Any, ...]]]] = []

    def other_act_then_no_success() -> None:
        assign(app, request, ACTOR, apply=True)
        before.append(stored(app))
        _refuse_success(monkeypatch)

    _let_another_act_in(monkeypatch, sync.cycle, "store_decisions", other_act_then_no_success)
    with pytest.raises(RuntimeError, match="outcome could not be recorded"):
        link(app, PROBATION_TWO, POLICE_TWO, ACTOR, apply=True)
    assert stored(app) == before[0]
    assert run_statuses(app) == ["succeeded", "failed", "succeeded"]  # the link's run began first
