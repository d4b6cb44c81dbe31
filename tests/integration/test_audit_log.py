"""The audit log on SQLite and PostgreSQL: append, verify, tamper, atomicity, concurrency,
the pipeline hooks, and a full run's export holding no personal data."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, event, insert, select, text, update

from sync.app import App
from sync.audit.chain import AuditKind, Head, seal_all
from sync.audit.chain import Draft as AuditDraft
from sync.audit.log import AuditLog, audit_log_for
from sync.audit.pipeline_hooks import (
    audit_collection,
    audit_consultation,
    audit_disclosure,
    audit_erasures,
    decision_pass_drafts,
    record_ref,
)
from sync.audit.tables import audit_head, audit_log
from sync.core.identifiers import check_letter
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import compute_decisions, decide_and_store, decision_inputs, run_cycle
from sync.errors import AuditError
from sync.feeds.files import PlainFileSource
from sync.ledger import schema
from sync.reconcile.acts import Actor
from sync.reconcile.links import link
from sync.reconcile.overrides import AssignRequest, assign
from sync.settings import Settings
from tests.feed_records import person
from tests.feed_records import write_feeds as write_feed_pair

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
NAMES = ("QUIXLEY", "ALBERIC", "ZANTHORPE", "BERNARDO")
DATES_OF_BIRTH = ("1961-07-08", "1962-02-03")
PNC = "1990/0004242E"
CRO = "065656/91H"


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(Settings(database_url=ledger_url))
    yield application
    application.close()


def _log(app: App) -> AuditLog:
    return audit_log_for(app.ledger.engine)


def _fill(log: AuditLog, count: int) -> None:
    for number in range(count):
        log.record_now(
            kind=AuditKind.COLLECTION,
            actor="service:ingest",
            purpose="feed applied",
            refs=(f"run:{number}",),
        )


def test_entries_chain_and_verify(app: App) -> None:
    log = _log(app)
    _fill(log, 5)
    result = log.verify()
    assert result.ok
    assert result.count == 5
    assert [entry.seq for entry in log.entries()] == [1, 2, 3, 4, 5]


def _execute(app: App, statement: object) -> None:
    with app.ledger.engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_an_edited_row_is_detected(app: App) -> None:
    _fill(_log(app), 5)
    _execute(app, update(audit_log).where(audit_log.c.seq == 3).values(purpose="nothing"))
    result = _log(app).verify()
    assert (result.ok, result.first_bad) == (False, 3)


def test_a_deleted_row_is_detected(app: App) -> None:
    _fill(_log(app), 5)
    _execute(app, delete(audit_log).where(audit_log.c.seq == 2))
    result = _log(app).verify()
    assert (result.ok, result.first_bad) == (False, 2)


def test_a_deleted_last_row_is_detected(app: App) -> None:
    _fill(_log(app), 5)
    _execute(app, delete(audit_log).where(audit_log.c.seq == 5))
    result = _log(app).verify()
    assert (result.ok, result.first_bad) == (False, 5)


def test_an_inserted_row_is_detected(app: App) -> None:
    log = _log(app)
    _fill(log, 3)
    head = log.head()
    assert head is not None
    (forged,) = seal_all(
        [AuditDraft(AuditKind.ERASURE, "operator:x", "forged")], head, "2026-01-01T00:00:00.000000Z"
    )
    _execute(app, insert(audit_log).values(**dataclasses.asdict(forged)))
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 4)


def test_a_row_inserted_in_the_middle_is_detected(app: App) -> None:
    log = _log(app)
    _fill(log, 3)
    entries = list(log.entries())
    (forged,) = seal_all(
        [AuditDraft(AuditKind.ERASURE, "operator:x", "forged")],
        Head(1, entries[0].hash),
        entries[0].at,
    )
    with app.ledger.engine.begin() as conn:
        for seq in (3, 2):
            conn.execute(update(audit_log).where(audit_log.c.seq == seq).values(seq=seq + 1))
        conn.execute(insert(audit_log).values(**dataclasses.asdict(forged)))
        conn.execute(update(audit_head).values(seq=4))
    result = log.verify()
    assert (result.ok, result.first_bad) == (False, 3)


def test_swapped_rows_are_detected(app: App) -> None:
    _fill(_log(app), 5)
    with app.ledger.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(seq=-1))
        conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(seq=2))
        conn.execute(update(audit_log).where(audit_log.c.seq == -1).values(seq=3))
    result = _log(app).verify()
    assert (result.ok, result.first_bad) == (False, 2)


def _override_then_unsafe_audit(app: App, log: AuditLog) -> None:
    with app.ledger.engine.begin() as conn:
        conn.execute(
            schema.overrides.insert().values(
                id="OVR-1",
                subject_id="S1",
                owner="police",
                start=date(2025, 1, 1),
                end=None,
                operator="x",
                reason="y",
                created_at=datetime.now(UTC),
            )
        )
        log.record(
            conn,
            kind=AuditKind.ALTERATION,
            actor="operator:x",
            purpose="o",
            refs=("not a reference",),
        )


def test_a_failure_to_audit_aborts_the_act(app: App) -> None:
    log = _log(app)
    with pytest.raises(AuditError):
        _override_then_unsafe_audit(app, log)
    with app.ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM overrides")).scalar_one() == 0
    assert log.verify().count == 0


def test_concurrent_writers_never_fork_the_chain(app: App) -> None:
    log = _log(app)
    log.require_writable()

    def write() -> None:
        _fill(log, 10)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = log.verify()
    assert result.ok
    assert result.count == 40


def test_export_filters_by_utc_day(app: App) -> None:
    days = iter([datetime(2026, 1, d, 12, tzinfo=UTC) for d in (1, 2, 3)])
    log = AuditLog(app.ledger.engine, clock=lambda: next(days))
    _fill(log, 3)
    lines = [json.loads(line) for line in log.export_lines(date(2026, 1, 2), date(2026, 1, 2))]
    assert [line["seq"] for line in lines] == [2]
    assert lines[0]["refs"] == ["run:1"]
    assert log.verify().ok


# -- a full run with the pipeline hooks ------------------------------------------------


def _person(
    agency: str,
    pid: str,
    surname: str,
    forenames: str,
    dob: str | None,
    pnc: str | None,
    cro: str | None,
) -> dict[str, object]:
    return {
        "type": "person",
        "agency": agency,
        "id": pid,
        "pnc": pnc,
        "cro": cro,
        "surname": surname,
        "forenames": forenames,
        "date_of_birth": dob,
        "gender": "M",
        "area": "NW" if agency == "probation" else "LANC",
        "updated_at": "2026-01-01T00:00:00Z",
    }


def write_feeds(folder: Path) -> tuple[Path, Path]:
    """Two subjects: one linked by PNC and CRO, one split across agencies without identifiers."""
    stamp = "2026-01-01T00:00:00Z"
    probation = [
        _person("probation", "P100001", "QUIXLEY", "ALBERIC", "1961-07-08", PNC, CRO),
        {
            "type": "supervision",
            "agency": "probation",
            "id": "PS-1",
            "person_id": "P100001",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-03-01",
            "end": "2027-02-28",
            "updated_at": stamp,
        },
        {
            "type": "assessment",
            "agency": "probation",
            "id": "PA-1",
            "person_id": "P100001",
            "started_on": "2025-04-20",
            "completed_on": "2025-04-20",
            "status": "completed",
            "updated_at": stamp,
        },
        _person("probation", "P100002", "ZANTHORPE", "BERNARDO", "1962-02-03", None, None),
        {
            "type": "supervision",
            "agency": "probation",
            "id": "PS-2",
            "person_id": "P100002",
            "kind": "licence",
            "offence": "sexual",
            "start": "2024-01-01",
            "end": "2024-12-31",
            "updated_at": stamp,
        },
    ]
    police = [
        _person("police", "LAN-1", "QUIXLEY", "ALBERIC", "1961-07-08", PNC, CRO),
        {
            "type": "registration",
            "agency": "police",
            "id": "LR-1",
            "person_id": "LAN-1",
            "start": "2019-01-01",
            "end": None,
            "updated_at": stamp,
        },
        {
            "type": "assessment",
            "agency": "police",
            "id": "LA-1",
            "person_id": "LAN-1",
            "started_on": "2025-05-10",
            "completed_on": "2025-05-10",
            "status": "completed",
            "updated_at": stamp,
        },
        _person("police", "LAN-2", "XANTHORPE-OKAFOR", "B", None, None, None),
        {
            "type": "registration",
            "agency": "police",
            "id": "LR-2",
            "person_id": "LAN-2",
            "start": "2020-01-01",
            "end": None,
            "updated_at": stamp,
        },
    ]
    paths = folder / "probation.jsonl", folder / "police.jsonl"
    for path, rows in zip(paths, (probation, police), strict=True):
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return paths


def personal_data_in(text_: str) -> list[str]:
    """Which of the feeds' names, dates of birth, PNC and CRO numbers occur in `text_`."""
    needles = (*NAMES, *DATES_OF_BIRTH, PNC, CRO, PNC[2:], CRO.lstrip("0"))
    return [needle for needle in needles if re.search(re.escape(needle), text_)]


def _subject_of(app: App, person_id: str) -> str:
    table = schema.subject_members
    with app.ledger.engine.connect() as conn:
        return str(
            conn.execute(
                select(table.c.subject_id).where(table.c.person_id == person_id)
            ).scalar_one()
        )


def test_a_full_run_with_hooks_logs_six_kinds_and_no_personal_data(
    app: App, tmp_path: Path
) -> None:
    probation, police = write_feeds(tmp_path)
    sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
    summary = run_cycle(app, sources, AS_OF)
    log = _log(app)
    with app.ledger.engine.begin() as conn:
        for agency, counts in summary.feeds.items():
            audit_collection(
                log,
                conn,
                summary.run_id,
                agency=agency,
                source_name=f"{agency}.jsonl",
                counts=dataclasses.asdict(counts),
            )
        audit_erasures(log, conn, summary.run_id, [record_ref(("police", "assessment", "LA-9"))])
        audit_disclosure(log, conn, "police", "notice batch delivered", ["batch:B-1"])
    audit_consultation(log, "operator:jsmith", "reconcile show", ["subject:S1"])
    link(
        app,
        RecordRef(Agency.PROBATION, "P100002"),
        RecordRef(Agency.POLICE, "LAN-2"),
        Actor("jsmith", "same person per custody photo"),
        apply=True,
    )
    subject_id = _subject_of(app, "P100001")
    assign(
        app,
        AssignRequest(subject_id, Owner.POLICE, date(2025, 6, 1), date(2025, 6, 30)),
        Actor("jsmith", "agreed at MAPPA meeting"),
        apply=True,
    )
    exported = "\n".join(log.export_lines())
    kinds = {json.loads(line)["kind"] for line in exported.splitlines()}
    assert kinds == {kind.value for kind in AuditKind}
    assert personal_data_in(exported) == []
    assert log.verify().ok


def test_the_decision_pass_hook_logs_new_combinations_once(app: App, tmp_path: Path) -> None:
    probation, police = write_feeds(tmp_path)
    sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
    run_cycle(app, sources, AS_OF)
    log = _log(app)
    entries = list(log.entries())
    combined = [json.loads(e.refs) for e in entries if e.kind == AuditKind.COMBINATION]
    assert len(combined) == 1
    persons = [ref for ref in combined[0] if ref.startswith("person:")]
    assert persons == ["person:police/LAN-1", "person:probation/P100001"]
    assert any(ref.startswith("subject:") for ref in combined[0])
    assert any(e.kind == AuditKind.ALTERATION for e in entries)
    decide_and_store(app, AS_OF, 100)
    before = log.head()
    with app.ledger.engine.begin() as conn:
        decisions = compute_decisions(app, decision_inputs(app, AS_OF))
        log.record_many(conn, decision_pass_drafts(conn, decisions, 101))
    assert log.head() == before


def test_the_chain_head_stays_free_while_a_pass_writes_its_rows(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    app = App(Settings(database_url=fresh_postgres_url))
    try:
        probation, police = write_feeds(tmp_path)
        sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
        run_cycle(app, sources, AS_OF)
        log = _log(app)
        appended: list[int | AuditError] = []

        def append_from_another_connection(*args: object) -> None:
            statement = str(args[2])
            if appended or not statement.startswith("INSERT INTO segments"):
                return
            try:
                with app.ledger.engine.begin() as other:
                    other.execute(text("SET LOCAL lock_timeout = '2s'"))
                    appended.append(
                        log.record(
                            other,
                            kind=AuditKind.CONSULTATION,
                            actor="operator:jsmith",
                            purpose="reconcile show",
                            refs=("subject:S1",),
                        )
                    )
            except AuditError as error:
                appended.append(error)

        event.listen(app.ledger.engine, "before_cursor_execute", append_from_another_connection)
        try:
            with app.ledger.engine.begin() as conn:
                conn.execute(update(schema.segments).values(rule="STALE"))
            decide_and_store(app, AS_OF, app.ledger.start_run(AS_OF, datetime.now(UTC)))
        finally:
            event.remove(app.ledger.engine, "before_cursor_execute", append_from_another_connection)
        (consulted,) = appended
        assert isinstance(consulted, int), consulted
        pass_entries = [e.seq for e in log.entries() if e.actor == "service:decide"]
        assert max(pass_entries) > consulted
        assert log.verify().ok
    finally:
        app.close()


def test_each_combination_entry_names_one_subject_and_its_records(app: App, tmp_path: Path) -> None:
    pairs = [("X100001", "GMP-1", _pnc(1)), ("X100002", "GMP-2", _pnc(2))]
    probation = [person("probation", crn, pnc=pnc) for crn, _, pnc in pairs]
    police = [person("police", ref, pnc=pnc) for _, ref, pnc in pairs]
    probation_feed, police_feed = write_feed_pair(tmp_path, probation, police)
    sources = {"probation": PlainFileSource(probation_feed), "police": PlainFileSource(police_feed)}
    run_cycle(app, sources, AS_OF)

    entries = [e for e in _log(app).entries() if e.kind == AuditKind.COMBINATION]

    grouped = []
    for entry in entries:
        refs = json.loads(entry.refs)
        assert len([ref for ref in refs if ref.startswith("subject:")]) == 1
        assert entry.detail == "matched by PNC"  # what linked this subject, and only it
        grouped.append(sorted(ref for ref in refs if ref.startswith("person:")))
    assert sorted(grouped) == [
        [f"person:police/{ref}", f"person:probation/{crn}"] for crn, ref, _ in pairs
    ]


def _pnc(serial: int) -> str:
    """A valid PNC of 2001 with the given serial number."""
    digits = f"01{serial:07d}"
    return f"2001/{serial:07d}{check_letter(int(digits))}"


def test_verify_checks_the_anchors_it_is_given(app: App) -> None:
    """docs/audit.md: `audit verify --anchor SEQ:HASH` checks each anchored entry is
    still in the chain with that hash, and that the log does not end before it."""
    log = AuditLog(app.ledger.engine)
    _fill(log, 3)
    entries = list(log.entries())
    assert log.verify([Head(2, entries[1].hash)]).ok
    mismatch = log.verify([Head(2, "f" * 64)])
    assert (mismatch.ok, mismatch.first_bad) == (False, 2)
    beyond = log.verify([Head(5, entries[2].hash)])
    assert (beyond.ok, beyond.first_bad) == (False, 4)


def test_an_entry_keeps_every_field_it_was_given(app: App) -> None:
    """docs/audit.md, "What an entry holds": kind, actor, purpose, recipient, refs, detail."""
    log = AuditLog(app.ledger.engine, clock=lambda: datetime(2026, 11, 28, 10, 15, 2, tzinfo=UTC))
    log.record_now(
        kind=AuditKind.DISCLOSURE,
        actor="service:exchange",
        purpose="notice batch delivered",
        recipient="probation",
        refs=("record:police/assessment/PA-1", "batch:B-1"),
        detail="batch 1 of 1",
    )
    (entry,) = log.entries()
    assert entry.as_json() | {"prev_hash": None, "hash": None} == {
        "seq": 1,
        "at": "2026-11-28T10:15:02.000000Z",
        "kind": "disclosure",
        "actor": "service:exchange",
        "purpose": "notice batch delivered",
        "recipient": "probation",
        "refs": ["batch:B-1", "record:police/assessment/PA-1"],
        "detail": "batch 1 of 1",
        "prev_hash": None,
        "hash": None,
    }


def test_an_export_includes_entries_at_the_first_moment_of_its_first_day(app: App) -> None:
    """docs/audit.md: `audit export --from DATE --to DATE` takes the UTC days inclusive."""
    moments = iter(
        [
            datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 1, 2, 0, 0, tzinfo=UTC),
            datetime(2026, 1, 2, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 1, 3, 0, 0, tzinfo=UTC),
        ]
    )
    log = AuditLog(app.ledger.engine, clock=lambda: next(moments))
    _fill(log, 4)
    lines = [json.loads(line) for line in log.export_lines(date(2026, 1, 2), date(2026, 1, 2))]
    assert [line["seq"] for line in lines] == [2, 3]
