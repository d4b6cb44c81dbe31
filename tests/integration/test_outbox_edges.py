"""Outbox edges: one full batch, keys never imported, batches sealed again, what replaces what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sync.app import App
from sync.core.notices import Notice
from sync.core.records import Agency
from sync.crypto import Party, generate_party, load_keyring
from sync.crypto.envelope import open_envelope
from sync.crypto.keyring import list_keys, revoke
from sync.errors import KeyError_
from sync.ledger import schema
from sync.ledger.outbox import (
    NOTICE_BATCH,
    UNSEALED,
    changed_notices,
    reseal_batch,
    sealed_under_retired_keys,
    store_outgoing,
)
from sync.settings import load_settings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _hub(ledger_url: str, keys: Path) -> App:
    hub = App(load_settings(database_url=ledger_url, keys_dir=keys))
    hub.ledger.ensure_schema()
    return hub


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    keys = tmp_path / "keys"
    for party in Party:
        generate_party(keys, party)
    hub = _hub(ledger_url, keys)
    yield hub
    hub.close()


def _notice(agency: Agency, number: int) -> Notice:
    return Notice(
        agency=agency,
        key=f"{agency.value}/{number:05d}",
        kind="ownership",
        subject_id=f"S-{number:05d}",
        body={"kind": "ownership", "number": number},
    )


def _store(app: App, desired: list[Notice]) -> int:
    keys = app.outbox_keys
    assert keys is not None
    with app.ledger.engine.begin() as conn:
        return store_outgoing(conn, changed_notices(conn, desired), keys, 1, NOW)


def test_exactly_one_full_batch_is_one_batch_and_no_empty_one(app: App) -> None:
    assert _store(app, [_notice(Agency.PROBATION, n) for n in range(NOTICE_BATCH)]) == 1
    with app.ledger.engine.connect() as conn:
        counts = conn.execute(select(schema.outbox.c.notice_count)).scalars().all()
    assert counts == [NOTICE_BATCH]


def test_notices_to_an_agency_whose_keys_were_never_imported_are_refused(
    ledger_url: str, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    for party in (Party.HUB, Party.PROBATION):
        generate_party(keys, party)
    hub = _hub(ledger_url, keys)
    try:
        with pytest.raises(KeyError_):
            _store(hub, [_notice(Agency.POLICE, 1)])
    finally:
        hub.close()


def test_a_batch_with_no_envelope_or_no_current_key_is_not_sealed_under_retired_keys(
    app: App, tmp_path: Path
) -> None:
    _store(app, [_notice(Agency.POLICE, 1)])
    with app.ledger.engine.connect() as conn:
        (envelope,) = conn.execute(select(schema.outbox.c.envelope)).scalars().all()
    keys = tmp_path / "keys"
    assert not sealed_under_retired_keys(bytes(envelope), load_keyring(keys, Party.HUB))
    assert not sealed_under_retired_keys(UNSEALED, load_keyring(keys, Party.HUB))

    police = next(info for info in list_keys(keys) if info.party is Party.POLICE)
    revoke(keys, Party.POLICE, police.key_id)
    assert not sealed_under_retired_keys(bytes(envelope), load_keyring(keys, Party.HUB))


def test_a_replacing_notice_is_recorded_with_the_notice_it_replaces(app: App) -> None:
    first = _notice(Agency.PROBATION, 1)
    _store(app, [first])
    changed = Notice(first.agency, first.key, first.kind, first.subject_id, {"kind": "changed"})
    _store(app, [changed])
    table = schema.notices
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.notice_id, table.c.replaces)).all()
    replaced = {str(replaces) for _, replaces in rows if replaces is not None}
    originals = {str(notice_id) for notice_id, replaces in rows if replaces is None}
    assert len(rows) == 2
    assert replaced == originals


def test_a_batch_sealed_again_keeps_its_id_as_the_message_id(app: App, tmp_path: Path) -> None:
    _store(app, [_notice(Agency.PROBATION, 1)])
    keys = app.outbox_keys
    assert keys is not None
    later = NOW + timedelta(hours=6)
    with app.ledger.engine.begin() as conn:
        (batch_id,) = conn.execute(select(schema.outbox.c.batch_id)).scalars().all()
        envelope = reseal_batch(conn, batch_id, keys, later)
    receiver = load_keyring(tmp_path / "keys", Party.PROBATION)
    opened = open_envelope(envelope, keyring=receiver, now=later, max_skew=None, replay_guard=None)
    assert opened.header.msg_id == batch_id
    assert json.loads(opened.plaintext)["batch_id"] == batch_id
