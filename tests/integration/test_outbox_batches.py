"""The outbox cuts each agency's changed notices into batches of 500, queued in order.

A first national pass queues about half a million notices, so the batches,
their positions and the notice state they leave decide what each agency
receives and in which order (tested on both databases). Notices to an agency
whose keys are revoked, with no new ones yet, wait unsealed; a pass that
changes a notice replaces it, one that drops it withdraws it, and a pass that
changes nothing queues nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.core.notices import NOTICE_WITHDRAWN, Notice
from sync.core.records import Agency
from sync.crypto import Party, generate_party, load_keyring
from sync.crypto.envelope import open_envelope
from sync.crypto.keyring import list_keys, revoke
from sync.ledger import schema
from sync.ledger.moments import as_utc
from sync.ledger.outbox import NOTICE_BATCH, UNSEALED, changed_notices, store_outgoing
from sync.settings import load_settings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
PROBATION_NOTICES = 2 * NOTICE_BATCH + 201
POLICE_NOTICES = NOTICE_BATCH + 1


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Every party's keys, the police's revoked with no new ones: notices to it cannot be sealed."""
    directory = tmp_path / "keys"
    for party in Party:
        generate_party(directory, party)
    police = next(info for info in list_keys(directory) if info.party is Party.POLICE)
    revoke(directory, Party.POLICE, police.key_id)
    return directory


@pytest.fixture
def app(ledger_url: str, keys: Path) -> Iterator[App]:
    hub = App(load_settings(database_url=ledger_url, keys_dir=keys))
    hub.ledger.ensure_schema()
    yield hub
    hub.close()


def _notice(agency: Agency, number: int, version: int = 1) -> Notice:
    return Notice(
        agency=agency,
        key=f"{agency.value}/{number:05d}",
        kind="ownership",
        subject_id=f"S-{number:05d}",
        body={"kind": "ownership", "number": number, "version": version},
    )


def _first_pass() -> list[Notice]:
    """Both agencies' notices interleaved, as a decision pass yields them."""
    probation = [_notice(Agency.PROBATION, n) for n in range(PROBATION_NOTICES)]
    police = [_notice(Agency.POLICE, n) for n in range(POLICE_NOTICES)]
    mixed = [notice for pair in zip(probation, police, strict=False) for notice in pair]
    return mixed + probation[len(police) :]


def _store(app: App, desired: list[Notice], run_id: int) -> int:
    keys = app.outbox_keys
    assert keys is not None
    with app.ledger.engine.begin() as conn:
        return store_outgoing(conn, changed_notices(conn, desired), keys, run_id, NOW)


def _batches(app: App, agency: Agency) -> list[tuple[str, int, int, bytes, bytes]]:
    """The agency's batches in queue order: id, position, count, envelope, kept plaintext."""
    table = schema.outbox
    query = (
        select(
            table.c.batch_id,
            table.c.position,
            table.c.notice_count,
            table.c.envelope,
            table.c.sealed_batch,
        )
        .where(table.c.agency == agency.value)
        .order_by(table.c.position)
    )
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        (
            str(batch_id),
            int(position),
            int(count),
            bytes(envelope),
            app.field_cipher.decrypt(f"outbox/{batch_id}", bytes(kept)),
        )
        for batch_id, position, count, envelope, kept in rows
    ]


def _state(app: App) -> dict[tuple[str, str], str]:
    """The notice each agency's slot last received, by (agency, key)."""
    table = schema.notice_state
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.agency, table.c.notice_key, table.c.notice_id))
        return {(agency, key): notice_id for agency, key, notice_id in rows}


def _numbers(plaintext: bytes) -> list[int]:
    return [notice["number"] for notice in json.loads(plaintext)["notices"]]


def test_notices_are_cut_into_full_batches_per_agency_in_the_order_given(
    app: App, keys: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="sync.ledger.outbox"):
        assert _store(app, _first_pass(), run_id=1) == 5
    probation, police = _batches(app, Agency.PROBATION), _batches(app, Agency.POLICE)
    assert [(position, count) for _, position, count, _, _ in probation] == [
        (0, NOTICE_BATCH),
        (1, NOTICE_BATCH),
        (2, 201),
    ]
    assert [(position, count) for _, position, count, _, _ in police] == [
        (0, NOTICE_BATCH),
        (1, 1),
    ]
    numbers = [n for *_, plaintext in probation for n in _numbers(plaintext)]
    assert numbers == list(range(PROBATION_NOTICES))
    assert [n for *_, plaintext in police for n in _numbers(plaintext)] == list(
        range(POLICE_NOTICES)
    )
    receiver = load_keyring(keys, Party.PROBATION)
    for batch_id, _, _, envelope, plaintext in probation:
        opened = open_envelope(
            envelope, keyring=receiver, now=NOW, max_skew=None, replay_guard=None
        )
        assert opened.plaintext == plaintext
        assert json.loads(plaintext)["batch_id"] == batch_id == opened.header.msg_id
    assert {envelope for *_, envelope, _ in police} == {UNSEALED}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["notices to police kept unsealed: the keys to seal them are missing"]


def test_each_notice_is_recorded_in_its_batch_and_as_its_slots_current_notice(app: App) -> None:
    _store(app, _first_pass(), run_id=1)
    table = schema.notices
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.notice_id, table.c.batch_id, table.c.created_run)).all()
    batch_of = {str(notice_id): str(batch_id) for notice_id, batch_id, _ in rows}
    assert {run for *_, run in rows} == {1}
    for agency in Agency:
        for batch_id, _, count, _, plaintext in _batches(app, agency):
            ids = [notice["notice_id"] for notice in json.loads(plaintext)["notices"]]
            assert len(ids) == count
            assert {batch_of[notice_id] for notice_id in ids} == {batch_id}
    state = _state(app)
    assert len(state) == len(rows) == PROBATION_NOTICES + POLICE_NOTICES
    assert set(state.values()) == set(batch_of)


def test_withdrawals_go_in_the_order_of_their_keys_whatever_the_order_first_sent(
    app: App,
) -> None:
    """A pass that drops every notice withdraws them by agency and key, not in the order
    the ledger happens to give back what was sent (here, the reverse of the keys)."""
    first = [_notice(Agency.POLICE, n) for n in reversed(range(5))]
    _store(app, first, run_id=1)  # what was sent is kept in reverse key order
    with app.ledger.engine.connect() as conn:
        withdrawn = [(n.agency, n.key) for n in changed_notices(conn, [])]
    assert withdrawn == sorted(("police", n.key) for n in first)


def test_a_later_pass_queues_its_replacements_and_withdrawals_behind_the_first(
    app: App,
) -> None:
    first = _first_pass()
    _store(app, first, run_id=1)
    before = _state(app)
    changed = {_notice(Agency.PROBATION, n).key: _notice(Agency.PROBATION, n, 2) for n in (0, 7)}
    dropped = _notice(Agency.POLICE, 3).key
    later = [changed.get(n.key, n) for n in first if n.key != dropped]

    assert _store(app, later, run_id=2) == 2
    probation, police = _batches(app, Agency.PROBATION), _batches(app, Agency.POLICE)
    assert [(position, count) for _, position, count, _, _ in probation[3:]] == [(3, 2)]
    assert [(position, count) for _, position, count, _, _ in police[2:]] == [(2, 1)]
    sent = json.loads(probation[3][4])["notices"]
    assert [(n["number"], n["version"]) for n in sent] == [(0, 2), (7, 2)]
    assert [n["replaces"] for n in sent] == [before[("probation", key)] for key in changed]
    (withdrawal,) = json.loads(police[2][4])["notices"]
    assert withdrawal["kind"] == NOTICE_WITHDRAWN
    assert withdrawal["withdrawn_key"] == dropped
    assert withdrawal["replaces"] == before[("police", dropped)]
    after = _state(app)
    assert ("police", dropped) not in after
    assert {slot for slot in before if after.get(slot) != before[slot]} == {
        *(("probation", key) for key in changed),
        ("police", dropped),
    }
    assert [after[("probation", key)] for key in changed] == [n["notice_id"] for n in sent]


def test_a_pass_that_changes_nothing_queues_nothing(app: App) -> None:
    _store(app, _first_pass(), run_id=1)
    queued = _batches(app, Agency.PROBATION) + _batches(app, Agency.POLICE)
    assert _store(app, _first_pass(), run_id=2) == 0
    assert _batches(app, Agency.PROBATION) + _batches(app, Agency.POLICE) == queued


def test_batches_are_created_now_and_due_at_once(app: App) -> None:
    _store(app, _first_pass(), run_id=1)
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.created_at, table.c.next_attempt_at, table.c.attempts)
        ).all()
    assert len(rows) == 5
    for created, due, attempts in rows:
        assert as_utc(created) == NOW
        assert as_utc(due) == NOW
        assert attempts == 0
