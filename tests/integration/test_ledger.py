"""The ledger on both databases: consumer rules, tombstones, flag history, atomic units."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, bindparam, select, update

from sync.app import App
from sync.core.notices import Notice
from sync.core.records import Agency
from sync.cycle import run_cycle
from sync.errors import UsageError
from sync.feeds.files import PlainFileSource
from sync.ingest import ingest
from sync.ledger import schema
from sync.ledger.outbox import changed_notices
from sync.ledger.store import Ledger, bulk_execute, record_key
from sync.settings import load_settings
from tests.feed_records import licence, person

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)


def _app(url: str) -> App:
    return App(load_settings(database_url=url), clock=lambda: datetime(2026, 11, 28, 9, tzinfo=UTC))


def _person(pid: str, stamp: str, surname: str = "EXAMPLE", **extra: object) -> dict[str, object]:
    return {
        "type": "person",
        "agency": "probation",
        "id": pid,
        "surname": surname,
        "forenames": "A",
        "gender": "M",
        "area": "NW",
        "date_of_birth": "1975-06-15",
        "pnc": "1996/0000018E",
        "updated_at": stamp,
        **extra,
    }


def _assessment(aid: str, stamp: str, **extra: object) -> dict[str, object]:
    return {
        "type": "assessment",
        "agency": "probation",
        "id": aid,
        "person_id": "X000001",
        "started_on": "2025-01-01",
        "completed_on": "2025-01-02",
        "status": "completed",
        "updated_at": stamp,
        **extra,
    }


def _police(day: str) -> list[dict[str, object]]:
    return [
        # The same man as the probation person `_person` builds.
        person("police", "P-1", forenames="A", date_of_birth="1975-06-15", pnc="1996/0000018E"),
        {
            "type": "registration",
            "agency": "police",
            "id": "R-1",
            "person_id": "P-1",
            "start": "2020-01-01",
            "updated_at": "2026-01-01T00:00:00Z",
        },
        {
            "type": "assessment",
            "agency": "police",
            "id": "PA-1",
            "person_id": "P-1",
            "started_on": day,
            "completed_on": day,
            "status": "completed",
            "updated_at": "2026-01-01T00:00:00Z",
        },
    ]


def _feed(path: Path, records: list[dict[str, object]]) -> PlainFileSource:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return PlainFileSource(path)


def _rows(app: App, table: Table) -> list[dict[str, Any]]:
    """Every row of `table`, by column name (values as the database driver gives them)."""
    with app.ledger.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(table))]


def _payload(app: App, row: dict[str, Any]) -> dict[str, object]:
    """A stored record's payload, decrypted (the ledger encrypts it at rest)."""
    key = record_key(str(row["agency"]), str(row["rtype"]), str(row["rid"]))
    return json.loads(app.ledger.codec.decode(key, bytes(row["payload"])))  # type: ignore[no-any-return]


def test_latest_version_wins_whatever_the_order_and_rereading_changes_nothing(
    ledger_url: str, tmp_path: Path
) -> None:
    app = _app(ledger_url)
    midnight = _person("X000001", "2026-10-02T00:00:00Z", surname="MIDNIGHT")
    # 23:00 at UTC-2 is 01:00 UTC the next day: the latest instant, though it reads earlier.
    one_am = _person("X000001", "2026-10-01T23:00:00-02:00", surname="ONEAM")
    oldest = _person("X000001", "2026-09-01T00:00:00Z", surname="OLDEST")
    source = _feed(tmp_path / "p.jsonl", [one_am, midnight, oldest])
    run_cycle(app, {"probation": source}, AS_OF)
    (record,) = [r for r in _rows(app, schema.records) if r["rtype"] == "person"]
    assert _payload(app, record)["surname"] == "ONEAM"
    assert record["updated_at"] == "2026-10-02T01:00:00"

    summary = run_cycle(app, {"probation": source}, AS_OF)
    assert summary.changed == {}


def test_a_tie_goes_to_the_later_line_and_a_deletion_is_a_tombstone(
    ledger_url: str, tmp_path: Path
) -> None:
    app = _app(ledger_url)
    stamp = "2026-10-01T00:00:00Z"
    records = [
        _person("X000001", stamp, surname="FIRST"),
        _person("X000001", stamp, surname="SECOND"),
        _assessment("A-1", stamp),
        _assessment("A-1", "2026-10-05T00:00:00Z", deleted=True),
    ]
    feed = _feed(tmp_path / "p.jsonl", records)
    run_cycle(app, {"probation": feed}, AS_OF)
    rows = {r["rtype"]: r for r in _rows(app, schema.records)}
    assert _payload(app, rows["person"])["surname"] == "SECOND"
    assert rows["assessment"]["deleted"]
    assert rows["assessment"]["payload"] is None
    assert run_cycle(app, {"probation": feed}, AS_OF).changed == {}  # read again: no change

    late_copy = [_assessment("A-1", "2026-10-03T00:00:00Z")]
    run_cycle(app, {"probation": _feed(tmp_path / "late.jsonl", late_copy)}, AS_OF)
    assert {r["rtype"]: r for r in _rows(app, schema.records)}["assessment"]["deleted"]


def test_tied_versions_in_two_batches_of_a_file_read_again_change_nothing(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file is one unit: the later of two tied lines wins once, whichever batch holds it."""
    monkeypatch.setattr("sync.ingest.INGEST_BATCH", 2)  # the two lines in two batches
    app = _app(ledger_url)
    stamp = "2026-10-01T00:00:00Z"
    records = [
        _person("X000002", stamp),
        _person("X000001", stamp, surname="FIRST"),
        _person("X000001", stamp, surname="SECOND"),
    ]
    feed = _feed(tmp_path / "p.jsonl", records)
    run_cycle(app, {"probation": feed}, AS_OF)
    before = {r["rid"]: r for r in _rows(app, schema.records)}
    assert _payload(app, before["X000001"])["surname"] == "SECOND"

    assert run_cycle(app, {"probation": feed}, AS_OF).changed == {}
    after = {r["rid"]: r for r in _rows(app, schema.records)}
    assert after == before

    later_file = _feed(tmp_path / "later.jsonl", [_person("X000001", stamp, surname="THIRD")])
    assert run_cycle(app, {"probation": later_file}, AS_OF).changed == {"probation": 1}
    (third,) = [r for r in _rows(app, schema.records) if r["rid"] == "X000001"]
    assert _payload(app, third)["surname"] == "THIRD"  # a tie read later wins


def _naive_utc(value: datetime) -> datetime:
    """A stored timestamp as naive UTC (SQLite gives it back naive, PostgreSQL aware)."""
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def test_flags_keep_first_seen_and_are_closed_not_erased(ledger_url: str, tmp_path: Path) -> None:
    times = iter(datetime(2026, 11, day, 9, tzinfo=UTC) for day in range(1, 28))
    now = next(times)
    app = App(load_settings(database_url=ledger_url), clock=lambda: now)
    probation = _feed(
        tmp_path / "p.jsonl",
        [
            _person("X000001", "2026-01-01T00:00:00Z"),
            licence("S-1", "X000001", "2025-03-01", "2027-02-28"),
        ],
    )
    police = _feed(tmp_path / "police.jsonl", _police("2025-05-10"))
    run_cycle(app, {"probation": probation, "police": police}, AS_OF)
    first = {r["key"]: r for r in _rows(app, schema.flags)}
    assert {r["kind"] for r in first.values()} == {"assessed_by_non_owner"}
    (opened,) = first.values()
    assert (
        _naive_utc(opened["first_seen"])
        == _naive_utc(opened["last_seen"])
        == datetime(2026, 11, 1, 9)
    )

    now = next(times)
    run_cycle(app, {"probation": probation, "police": police}, AS_OF)
    (again,) = _rows(app, schema.flags)
    (before,) = first.values()
    assert again["first_seen"] == before["first_seen"]
    assert again["last_seen"] > before["last_seen"]
    assert again["closed_at"] is None

    now = next(times)
    moved = _feed(
        tmp_path / "police2.jsonl",
        [{**r, "updated_at": "2026-02-01T00:00:00Z"} for r in _police("2024-11-02")],
    )
    run_cycle(app, {"probation": probation, "police": moved}, AS_OF)
    (closed,) = _rows(app, schema.flags)
    assert closed["closed_at"] is not None
    assert closed["first_seen"] == before["first_seen"]


def test_a_pass_is_stored_only_together_with_its_run_finished(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(ledger_url)
    record_outcome = Ledger.finish_run

    def refuse_success(self: Ledger, run_id: int, status: str, *args: object) -> None:
        if status == "succeeded":
            raise RuntimeError("the run's outcome could not be recorded")
        record_outcome(self, run_id, status, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "finish_run", refuse_success)
    police = _feed(tmp_path / "police.jsonl", _police("2025-05-10"))
    with pytest.raises(RuntimeError, match="outcome could not be recorded"):
        run_cycle(app, {"police": police}, AS_OF)
    assert _rows(app, schema.segments) == []
    assert _rows(app, schema.subjects) == []
    assert [row["status"] for row in _rows(app, schema.runs)] == ["failed"]


def test_a_feed_that_cannot_be_read_applies_nothing(ledger_url: str, tmp_path: Path) -> None:
    app = _app(ledger_url)
    missing = PlainFileSource(tmp_path / "absent.jsonl")
    with pytest.raises(UsageError, match="does not exist"):
        run_cycle(app, {"probation": missing}, AS_OF)
    assert _rows(app, schema.records) == []
    with app.ledger.engine.connect() as conn:
        statuses = list(conn.execute(select(schema.runs.c.status)).scalars())
    assert statuses == ["failed"]


def test_bulk_statements_take_values_from_rows_and_from_the_statement(ledger_url: str) -> None:
    app = _app(ledger_url)
    app.ledger.ensure_schema()
    table = schema.subjects
    rows = [{"subject_id": f"S-{n}", "created_run": 1, "active": False} for n in range(3)]
    reactivate = update(table).where(table.c.subject_id == bindparam("sid")).values(active=True)
    try:
        with app.ledger.engine.begin() as conn:
            bulk_execute(conn, table.insert(), rows, "test-subjects-insert")
            bulk_execute(conn, reactivate, [{"sid": "S-0"}, {"sid": "S-2"}], "test-reactivate")
        stored = {row["subject_id"]: row["active"] for row in _rows(app, table)}
        # The same statement name with another fixed value writes that value.
        deactivate = (
            update(table).where(table.c.subject_id == bindparam("sid")).values(active=False)
        )
        with app.ledger.engine.begin() as conn:
            bulk_execute(conn, deactivate, [{"sid": "S-2"}], "test-reactivate")
        later = {row["subject_id"]: row["active"] for row in _rows(app, table)}
    finally:
        app.close()
    assert stored == {"S-0": True, "S-1": False, "S-2": True}
    assert later == {"S-0": True, "S-1": False, "S-2": False}


def test_a_withdrawn_notice_names_the_subject_of_the_notice_it_replaces(ledger_url: str) -> None:
    app = _app(ledger_url)
    app.ledger.ensure_schema()
    flag_key = "flag|duplicate|S-7|police|LA-1"
    try:
        with app.ledger.engine.begin() as conn:
            conn.execute(
                schema.notices.insert(),
                [
                    {
                        "notice_id": "N-1",
                        "agency": "police",
                        "kind": "flag",
                        "subject_id": "S-7",
                        "replaces": None,
                        "batch_id": "B-1",
                        "created_run": 1,
                    }
                ],
            )
            conn.execute(
                schema.notice_state.insert(),
                [
                    {
                        "agency": "police",
                        "notice_key": flag_key,
                        "digest": "d",
                        "notice_id": "N-1",
                        "updated_run": 1,
                    }
                ],
            )
            (withdrawal,) = changed_notices(conn, [])
    finally:
        app.close()
    assert (withdrawal.kind, withdrawal.subject_id, withdrawal.replaces) == (
        "withdrawn",
        "S-7",
        "N-1",
    )
    assert json.loads(withdrawal.body) == {
        "kind": "withdrawn",
        "withdrawn_key": flag_key,
        "subject_id": "S-7",
    }


def test_every_changed_notice_gets_its_own_random_uuid(ledger_url: str) -> None:
    app = _app(ledger_url)
    desired = [
        Notice(Agency.POLICE, f"ownership:S-{n}", "ownership", f"S-{n}", {"n": n})
        for n in range(5_000)
    ]
    try:
        with app.ledger.engine.begin() as conn:
            outgoing = list(changed_notices(conn, desired))
    finally:
        app.close()
    ids = [notice.notice_id for notice in outgoing]
    assert len(set(ids)) == len(desired)
    assert {uuid.UUID(hex=notice_id).version for notice_id in ids} == {4}


def test_the_last_pass_is_the_latest_successful_run_with_the_window_it_recorded(
    ledger_url: str,
) -> None:
    app = _app(ledger_url)
    try:
        _three_runs_then_check(app.ledger)
    finally:
        app.close()


def _three_runs_then_check(ledger: Ledger) -> None:
    now = datetime(2026, 11, 28, 9, tzinfo=UTC)
    assert ledger.last_pass() is None

    with ledger.in_process_run(date(2026, 11, 1), lambda: now) as first:
        ledger.finish_run(first, "succeeded", {"window_days": 30}, now)
    with ledger.in_process_run(date(2026, 11, 2), lambda: now) as unrecorded:
        ledger.finish_run(unrecorded, "partial", {}, now)
    with ledger.in_process_run(date(2026, 11, 3), lambda: now) as failed:
        ledger.finish_run(failed, "failed", {"window_days": 7}, now)

    last = ledger.last_pass()
    assert last is not None
    assert (last.as_of, last.window_days) == (date(2026, 11, 2), None)
    assert ledger.last_as_of() == date(2026, 11, 2)


def test_every_rejected_line_is_kept_with_its_reason_type_and_id_and_read_again_once(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sync.ingest.INGEST_BATCH", 2)  # the rejects over two batches
    app = _app(ledger_url)
    bad_gender = _person("X000002", "2026-10-01T00:00:00Z", gender="Q")
    records = [
        _person("X000001", "2026-10-01T00:00:00Z"),
        bad_gender,
        _assessment("A-1", "2026-10-01T00:00:00Z", started_on="not a date"),
        bad_gender,
        {**_assessment("A-2", "2026-10-01T00:00:00Z"), "type": "visit"},
    ]
    feed = _feed(tmp_path / "p.jsonl", records)
    run_cycle(app, {"probation": feed}, AS_OF)
    listed = [
        (r["position"], r["record_type"], r["record_id"], r["reason"], r["fixed_in_run"])
        for r in app.ledger.list_rejects()
    ]
    gender = "person.gender: Input should be 'M', 'F', 'X' or 'U'"
    started = "assessment.started_on: must be a date in the form YYYY-MM-DD"
    assert listed == [
        ("line 2", "person", "X000002", gender, None),
        ("line 3", "assessment", "A-1", started, None),
        ("line 4", "person", "X000002", gender, None),
        ("line 5", None, "A-2", "type: missing or unknown record type", None),
    ]
    run_cycle(app, {"probation": feed}, AS_OF)
    assert len(app.ledger.list_rejects()) == len(listed)


def test_a_record_moved_to_another_person_is_stored_under_it_and_a_tombstone_under_none(
    ledger_url: str, tmp_path: Path
) -> None:
    app = _app(ledger_url)
    first = [_person("X000001", "2026-10-01T00:00:00Z"), _person("X000002", "2026-10-01T00:00:00Z")]
    moved = _assessment("A-1", "2026-10-02T00:00:00Z", person_id="X000002")
    run_cycle(
        app,
        {
            "probation": _feed(
                tmp_path / "1.jsonl", [*first, _assessment("A-1", "2026-10-01T00:00:00Z")]
            )
        },
        AS_OF,
    )
    run_cycle(app, {"probation": _feed(tmp_path / "2.jsonl", [moved])}, AS_OF)
    assessments = [r for r in _rows(app, schema.records) if r["rtype"] == "assessment"]
    assert [r["person_id"] for r in assessments] == ["X000002"]

    deletion = _assessment("A-1", "2026-10-03T00:00:00Z", deleted=True)
    run_cycle(app, {"probation": _feed(tmp_path / "3.jsonl", [deletion])}, AS_OF)
    assessments = [r for r in _rows(app, schema.records) if r["rtype"] == "assessment"]
    assert [(r["deleted"], r["person_id"], r["payload"]) for r in assessments] == [
        (True, None, None)
    ]


def test_a_corrected_record_loses_the_warning_of_its_earlier_version(
    ledger_url: str, tmp_path: Path
) -> None:
    app = _app(ledger_url)
    warned = _person("X000001", "2026-10-01T00:00:00Z", pnc="2018/0123456X")
    run_cycle(app, {"probation": _feed(tmp_path / "1.jsonl", [warned])}, AS_OF)
    assert [w["record_id"] for w in app.ledger.list_warnings()] == ["X000001"]
    corrected = _person("X000001", "2026-10-02T00:00:00Z")
    run_cycle(app, {"probation": _feed(tmp_path / "2.jsonl", [corrected])}, AS_OF)
    assert app.ledger.list_warnings() == []


def test_a_run_dated_ahead_keeps_an_assessment_completed_by_its_date(
    ledger_url: str, tmp_path: Path
) -> None:
    """The clock says 2026-11-28; a run as of a week later keeps what was done by then."""
    app = _app(ledger_url)
    ahead = _assessment(
        "A-1", "2026-10-01T00:00:00Z", started_on="2026-12-01", completed_on="2026-12-01"
    )
    records = [_person("X000001", "2026-10-01T00:00:00Z"), ahead]
    run_cycle(app, {"probation": _feed(tmp_path / "p.jsonl", records)}, date(2026, 12, 5))
    assert app.ledger.list_rejects() == []
    assert {r["rtype"] for r in _rows(app, schema.records)} == {"person", "assessment"}


def test_two_empty_feed_files_make_a_run_with_nothing_in_it(
    ledger_url: str, tmp_path: Path
) -> None:
    app = _app(ledger_url)
    sources = {
        "probation": _feed(tmp_path / "p.jsonl", []),
        "police": _feed(tmp_path / "q.jsonl", []),
    }
    summary = run_cycle(app, sources, AS_OF)
    assert summary.changed == {}
    assert _rows(app, schema.records) == []


def test_a_unit_its_fence_refuses_leaves_nothing_behind(ledger_url: str, tmp_path: Path) -> None:
    """A distributed task taken over mid-unit must write nothing more."""
    app = _app(ledger_url)
    records: list[dict[str, object]] = [
        _person("X000001", "2026-10-01T00:00:00Z"),
        {"type": "visit"},
    ]
    source = _feed(tmp_path / "p.jsonl", records)

    def taken_over(conn: object) -> None:
        raise RuntimeError("another worker holds this task now")

    now = datetime(2026, 11, 28, 9, tzinfo=UTC)
    with pytest.raises(RuntimeError, match="another worker holds this task now"):
        ingest(app.ledger, source, "probation", 1, AS_OF, now, fence=taken_over)
    assert _rows(app, schema.records) == []
    assert _rows(app, schema.rejects) == []
