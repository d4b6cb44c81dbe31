"""Overrides follow their subject's records on both databases: when a run links a subject
into another and its id vanishes, the stored override is re-pointed at the successor in
the transaction storing the pass, the move is kept and audited, and later runs keep it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select

from sync.app import App
from sync.audit.log import audit_log_for
from sync.audit.tables import audit_log
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import run_cycle
from sync.errors import UsageError
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.ledger.migrate import alembic_config, upgrade_to_head
from sync.reconcile import apply
from sync.reconcile.acts import Actor
from sync.reconcile.items import KIND_STRANDED_OVERRIDE, Item, list_items
from sync.reconcile.links import link, unlink
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.reconcile.preview import build_preview
from sync.reconcile.subject import subject_report
from sync.settings import Settings

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
ACTOR = Actor("jsmith", "agreed at the MAPPA meeting")
PNC = "1980/0000018L"
FIRST, LATER = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"
PERSONAL = ("ROMEO", "SIERRA", "1970-01-02", "1975-06-07", PNC, "80/18L")


def _person(agency: str, pid: str, surname: str, born: str, pnc: str | None, stamp: str) -> Any:
    return {
        "type": "person",
        "agency": agency,
        "id": pid,
        "pnc": pnc,
        "cro": None,
        "surname": surname,
        "forenames": "ALEX",
        "date_of_birth": born,
        "gender": "M",
        "area": "NW" if agency == "probation" else "LANC",
        "updated_at": stamp,
    }


def write_succession_feeds(
    folder: Path, *, linked: bool, police_deleted: bool = False
) -> tuple[Path, Path]:
    """A probation person on a sexual licence and a registered police person.

    Apart, they are two subjects (no PNC, other names); `linked` resends both
    later with one PNC, surname and date of birth, so they become one subject.
    `police_deleted` resends the police person as deleted by its agency.
    """
    stamp = LATER if linked or police_deleted else FIRST
    pnc = PNC if linked else None
    probation = [
        _person("probation", "X600001", "ROMEO", "1970-01-02", pnc, stamp),
        {
            "type": "supervision",
            "agency": "probation",
            "id": "XS-1",
            "person_id": "X600001",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-03-01",
            "end": "2027-02-28",
            "updated_at": FIRST,
        },
    ]
    police_person = (
        _person("police", "P6", "ROMEO", "1970-01-02", pnc, stamp)
        if linked
        else _person("police", "P6", "SIERRA", "1975-06-07", None, stamp)
    )
    if police_deleted:
        police_person = {"type": "person", "agency": "police", "id": "P6", "deleted": True}
        police_person["updated_at"] = stamp
    police = [
        police_person,
        {
            "type": "registration",
            "agency": "police",
            "id": "PR-1",
            "person_id": "P6",
            "start": "2019-01-01",
            "end": None,
            "updated_at": FIRST,
        },
    ]
    paths = folder / "probation.jsonl", folder / "police.jsonl"
    for path, rows in zip(paths, (probation, police), strict=True):
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return paths


def run_feeds(app: App, folder: Path, *, linked: bool, police_deleted: bool = False) -> None:
    """One in-process run of the succession feeds."""
    probation, police = write_succession_feeds(folder, linked=linked, police_deleted=police_deleted)
    sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
    run_cycle(app, sources, AS_OF)


def subject_of(app: App, person_id: str) -> str:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        return str(
            conn.execute(
                select(table.c.subject_id).where(table.c.person_id == person_id)
            ).scalar_one()
        )


def rules_in_2020(app: App, subject_id: str) -> set[tuple[str, str]]:
    table = schema.segments
    day = date(2020, 6, 1)
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.owner, table.c.rule, table.c.start, table.c.end).where(
                table.c.subject_id == subject_id
            )
        ).all()
    return {
        (owner, rule)
        for owner, rule, start, end in rows
        if (start is None or start <= day) and (end is None or day <= end)
    }


def override_rows(app: App) -> dict[str, str]:
    table = schema.overrides
    with app.ledger.engine.connect() as conn:
        return {
            str(oid): str(sid) for oid, sid in conn.execute(select(table.c.id, table.c.subject_id))
        }


def moves(app: App) -> list[tuple[str, str, str, int]]:
    table = schema.override_moves
    columns = (table.c.override_id, table.c.from_subject_id, table.c.to_subject_id, table.c.run_id)
    with app.ledger.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(*columns).order_by(*columns))]


def move_entries(app: App) -> list[dict[str, Any]]:
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.purpose.like("%override moved%"))
        ).all()
    return [{**row._mapping, "refs": json.loads(row.refs)} for row in rows]


def last_run(app: App) -> int:
    with app.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.max(schema.runs.c.id))).scalar_one())


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """An app over a ledger holding one run of the two persons, apart."""
    application = App(Settings(database_url=ledger_url))
    run_feeds(application, tmp_path, linked=False)
    yield application
    application.close()


def _assign(app: App, subject_id: str, owner: Owner = Owner.PROBATION) -> str:
    request = AssignRequest(subject_id, owner, date(2020, 1, 1), date(2020, 12, 31))
    act_id = assign(app, request, ACTOR, apply=True).act_id
    assert act_id is not None
    return act_id


def test_the_stored_row_moves_once_its_move_is_kept_and_audited_and_later_runs_keep_it(
    app: App, tmp_path: Path
) -> None:
    kept, vanished = sorted((subject_of(app, "X600001"), subject_of(app, "P6")))
    override = _assign(app, vanished)
    run_feeds(app, tmp_path, linked=True)
    linking_run = last_run(app)
    assert subject_of(app, "P6") == subject_of(app, "X600001") == kept
    assert override_rows(app) == {override: kept}
    assert moves(app) == [(override, vanished, kept, linking_run)]
    assert rules_in_2020(app, kept) == {("probation", "MANUAL")}
    [entry] = move_entries(app)
    assert entry["kind"] == "alteration"
    assert entry["actor"] == "service:decide"
    assert entry["refs"] == sorted(
        [f"run:{linking_run}", f"override:{override}", f"subject:{vanished}", f"subject:{kept}"]
    )
    assert entry["detail"] == f"from subject {vanished} to subject {kept}"
    text = json.dumps(entry, default=str)
    assert [needle for needle in PERSONAL if needle in text] == []
    assert audit_log_for(app.ledger.engine).verify().ok

    run_feeds(app, tmp_path, linked=True)  # a later run: nothing moves again
    assert moves(app) == [(override, vanished, kept, linking_run)]
    assert rules_in_2020(app, kept) == {("probation", "MANUAL")}
    history = subject_report(app.ledger, kept).history
    assert [(event.act, event.act_id) for event in history] == [
        ("assign", override),
        ("move", override),
    ]
    revoke(app, override, ACTOR, apply=True)
    assert rules_in_2020(app, kept) == {("police", "POLICE-REGISTERED")}


def test_an_override_whose_subject_vanished_during_its_preview_is_refused_not_lost(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, vanished = sorted((subject_of(app, "X600001"), subject_of(app, "P6")))
    previewed = build_preview

    def preview_while_another_run_links(*args: Any, **kwargs: Any) -> Any:
        preview = previewed(*args, **kwargs)
        run_feeds(app, tmp_path, linked=True)  # another process's run re-links meanwhile
        return preview

    monkeypatch.setattr(apply, "build_preview", preview_while_another_run_links)
    with pytest.raises(UsageError, match=f"Subject {vanished} no longer exists.*{kept}"):
        _assign(app, vanished)

    assert override_rows(app) == {}
    assert rules_in_2020(app, kept) == {("police", "POLICE-REGISTERED")}


@pytest.mark.parametrize("made_on", ["X600001", "P6"])
def test_an_override_stays_with_its_person_when_a_link_is_undone(app: App, made_on: str) -> None:
    """Link then unlink by hand: the override made for one person is not left on the other,
    whichever of the two the joined subject's id stays with."""
    other = "P6" if made_on == "X600001" else "X600001"
    override = _assign(app, subject_of(app, made_on))
    pair = (RecordRef(Agency.PROBATION, "X600001"), RecordRef(Agency.POLICE, "P6"))
    link(app, *pair, ACTOR, apply=True)
    assert subject_of(app, made_on) == subject_of(app, other)
    assert override_rows(app) == {override: subject_of(app, made_on)}

    unlink(app, *pair, ACTOR, apply=True)

    assert subject_of(app, made_on) != subject_of(app, other)
    assert override_rows(app) == {override: subject_of(app, made_on)}
    assert rules_in_2020(app, subject_of(app, made_on)) == {("probation", "MANUAL")}
    assert ("probation", "MANUAL") not in rules_in_2020(app, subject_of(app, other))
    acts = [(e.act, e.act_id) for e in subject_report(app.ledger, subject_of(app, made_on)).history]
    assert ("assign", override) in acts
    assert audit_log_for(app.ledger.engine).verify().ok


@pytest.mark.parametrize(("owner", "holder"), [(Owner.PROBATION, "X600001"), (Owner.POLICE, "P6")])
def test_an_override_made_on_both_persons_stays_with_the_agency_it_names_when_they_part(
    app: App, owner: Owner, holder: str
) -> None:
    """Made while the two were linked, on one record of each agency: once unlinked, "probation
    owns" stays with the person probation holds and "police owns" with the police's, never
    on a person the named agency holds no record of."""
    pair = (RecordRef(Agency.PROBATION, "X600001"), RecordRef(Agency.POLICE, "P6"))
    link(app, *pair, ACTOR, apply=True)
    override = _assign(app, subject_of(app, "P6"), owner)

    unlink(app, *pair, ACTOR, apply=True)

    other = "P6" if holder == "X600001" else "X600001"
    assert override_rows(app) == {override: subject_of(app, holder)}
    assert rules_in_2020(app, subject_of(app, holder)) == {(str(owner), "MANUAL")}
    assert "MANUAL" not in {rule for _owner, rule in rules_in_2020(app, subject_of(app, other))}
    assert audit_log_for(app.ledger.engine).verify().ok


def test_an_override_keeps_the_records_its_subject_held_when_it_was_made(app: App) -> None:
    """A preview of the act and the act itself give the override its subject's records."""
    override = _assign(app, subject_of(app, "X600001"))
    table = schema.override_records
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.override_id, table.c.agency, table.c.person_id)).all()
    assert [tuple(row) for row in rows] == [(override, "probation", "X600001")]


def test_revoked_overrides_move_too_but_only_active_ones_apply(app: App, tmp_path: Path) -> None:
    kept, vanished = sorted((subject_of(app, "X600001"), subject_of(app, "P6")))
    revoked = _assign(app, vanished, Owner.NONE)
    revoke(app, revoked, ACTOR, apply=True)
    active = _assign(app, vanished)
    run_feeds(app, tmp_path, linked=True)
    assert override_rows(app) == {revoked: kept, active: kept}
    assert {move[0] for move in moves(app)} == {revoked, active}
    assert len(move_entries(app)) == 2
    assert rules_in_2020(app, kept) == {("probation", "MANUAL")}
    acts = [(event.act, event.act_id) for event in subject_report(app.ledger, kept).history]
    assert sorted(acts) == sorted(
        [
            ("assign", revoked),
            ("revoke", revoked),
            ("assign", active),
            ("move", revoked),
            ("move", active),
        ]
    )


def test_an_override_whose_records_were_all_deleted_stays_and_is_logged(
    app: App, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    police_subject = subject_of(app, "P6")
    override = _assign(app, police_subject)
    with caplog.at_level(logging.WARNING, logger="sync.ledger.override_moves"):
        run_feeds(app, tmp_path, linked=False, police_deleted=True)
    assert override_rows(app) == {override: police_subject}
    assert moves(app) == []
    warnings = [r.getMessage() for r in caplog.records if r.name == "sync.ledger.override_moves"]
    assert len(warnings) == 1
    assert warnings[0] == (
        f"1 active override without a current subject, applying to nobody: {override} "
        "(see `arms-sync reconcile list`)"
    )
    assert [needle for needle in PERSONAL if needle in warnings[0]] == []

    # Listed for an operator, who revokes it; then it is listed no more.
    [item] = _stranded(app)
    assert (item.key, item.state, item.subject_id, item.refs) == (
        override,
        "open",
        police_subject,
        ("police/P6",),
    )
    revoke(app, override, ACTOR, apply=True)
    assert _stranded(app) == []


def _stranded(app: App) -> list[Item]:
    with app.ledger.engine.connect() as conn:
        return list_items(conn, app.ledger.codec, KIND_STRANDED_OVERRIDE, resolved=True)


def test_a_ledger_at_0003_gains_the_override_moves_table(ledger_url: str) -> None:
    engine = create_engine(ledger_url)
    try:
        command.upgrade(alembic_config(engine), "0003")
        assert "override_moves" not in inspect(engine).get_table_names()
        upgrade_to_head(engine)
        assert "override_moves" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_ledger_at_0012_gives_each_override_its_subject_s_records_now(
    ledger_url: str,
) -> None:
    """Revision 0013: an override made before it is taken as made on its subject's records
    as they are at the upgrade; one on a subject id that has vanished gets none."""
    engine = create_engine(ledger_url)
    made = {"owner": "police", "start": date(2020, 1, 1), "operator": "jsmith", "reason": "r"}
    try:
        command.upgrade(alembic_config(engine), "0012")
        with engine.begin() as conn:
            conn.execute(
                schema.subject_members.insert(),
                [
                    {"agency": agency, "person_id": pid, "subject_id": "S1", "matched_by": "pnc"}
                    for agency, pid in (("probation", "X600001"), ("police", "P6"))
                ],
            )
            conn.execute(
                schema.overrides.insert(),
                [
                    {"id": "OVR-1", "subject_id": "S1", "created_at": datetime.now(UTC), **made},
                    {"id": "OVR-2", "subject_id": "S9", "created_at": datetime.now(UTC), **made},
                ],
            )
        upgrade_to_head(engine)
        table = schema.override_records
        with engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.agency)).all()
        assert [tuple(row) for row in rows] == [
            ("OVR-1", "police", "P6"),
            ("OVR-1", "probation", "X600001"),
        ]
    finally:
        engine.dispose()
