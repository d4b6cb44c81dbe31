"""Converting a ledger's plain digests and fingerprints to keyed ones, on both databases.

The conversion leaves a deleted record's mark as it is, seals each rejected
line's copy under its new fingerprint (so it still opens, and the ledger can
still be re-encrypted), keeps a line stored under both fingerprints once,
and marks the ledger done.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, update

from sync.app import App
from sync.ledger import keyed_digests, schema
from sync.ledger.codec import CipherCodec
from sync.ledger.keyed_digests import DIGESTS_KEYED
from sync.ledger.store import (
    DELETED_DIGEST,
    KEYED_DIGEST_PREFIX,
    REJECT_FINGERPRINT_KIND,
    keyed_digest,
    reject_key,
)
from sync.reencryption import reencrypt_ledger
from sync.settings import Settings
from tests.integration.test_keyed_digests import BROKEN_LINE, _clock, _run, _unkey_rejects

pytestmark = pytest.mark.integration
SECOND_LINE = b'{"type": "person", "agency": "probation", "id": "X123"'


def _app(ledger_url: str, key_file: Path) -> App:
    return App(Settings(database_url=ledger_url, at_rest_key_file=key_file), clock=_clock)


def _as_before_keying(app: App) -> None:
    """Every digest and fingerprint plain, one record deleted, the ledger not marked done."""
    records = schema.records
    with app.engine.begin() as conn:
        first = conn.execute(
            select(records.c.agency, records.c.rtype, records.c.rid).limit(1)
        ).one()
        conn.execute(
            update(records)
            .where(
                records.c.agency == first.agency,
                records.c.rtype == first.rtype,
                records.c.rid == first.rid,
            )
            .values(deleted=True, payload=None, digest=DELETED_DIGEST)
        )
        _add_reject(conn, app.codec, SECOND_LINE)
        _unkey_rejects(conn, app.codec)
        conn.execute(delete(schema.settings_kv).where(schema.settings_kv.c.key == DIGESTS_KEYED))


def _add_reject(conn: Connection, codec: CipherCodec, line: bytes) -> None:
    """A second rejected line, a copy of the first's row with another line and fingerprint."""
    table = schema.rejects
    row = conn.execute(select(table).limit(1)).one()
    fingerprint = keyed_digest(codec.cipher, REJECT_FINGERPRINT_KIND, "0" * 64)
    conn.execute(
        insert(table).values(
            {
                **row._asdict(),
                "fingerprint": fingerprint,
                "raw": codec.encode(reject_key(fingerprint), line),
            }
        )
    )


def _rejects(app: App) -> list[tuple[str, bytes]]:
    table = schema.rejects
    with app.engine.connect() as conn:
        return [
            (fingerprint, bytes(raw))
            for fingerprint, raw in conn.execute(select(table.c.fingerprint, table.c.raw))
        ]


def _opens(codec: CipherCodec, rejects: list[tuple[str, bytes]]) -> list[bytes]:
    return [codec.decode(reject_key(fingerprint), raw) for fingerprint, raw in rejects]


def test_a_converted_ledger_keeps_deletions_and_its_rejected_lines_open(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After conversion, tombstones still say deleted and each line opens under its new name."""
    monkeypatch.setattr(keyed_digests, "CONVERT_BATCH", 1)  # one row a batch
    key_file = tmp_path / "ledger.key"
    app = _app(ledger_url, key_file)
    try:
        _run(app, tmp_path)
        _as_before_keying(app)
    finally:
        app.close()

    reopened = _app(ledger_url, key_file)
    try:
        codec = reopened.codec
        records = schema.records
        with reopened.engine.connect() as conn:
            deleted = conn.execute(
                select(records.c.digest).where(records.c.deleted.is_(True))
            ).scalar_one()
            done = conn.execute(
                select(schema.settings_kv.c.value).where(schema.settings_kv.c.key == DIGESTS_KEYED)
            ).scalar_one_or_none()
        rejects = _rejects(reopened)
        lines = _opens(codec, rejects)
        rewritten = reencrypt_ledger(reopened).rewritten
    finally:
        reopened.close()
    assert deleted == DELETED_DIGEST
    assert done is not None
    assert sorted(line.rstrip(b"\n") for line in lines) == sorted(
        [BROKEN_LINE.encode(), SECOND_LINE]
    )
    assert all(fingerprint.startswith(KEYED_DIGEST_PREFIX) for fingerprint, _ in rejects)
    assert rewritten.by_table["rejects"] == len(rejects)


def test_a_line_kept_under_both_fingerprints_is_kept_once(ledger_url: str, tmp_path: Path) -> None:
    """A rejected line stored under its plain and its keyed fingerprint ends as one keyed row."""
    key_file = tmp_path / "ledger.key"
    app = _app(ledger_url, key_file)
    try:
        _run(app, tmp_path)
        (keyed,) = _rejects(app)
        table = schema.rejects
        with app.engine.begin() as conn:
            row = conn.execute(select(table).where(table.c.fingerprint == keyed[0])).one()
            plain = hashlib.sha256(b"probation\0" + BROKEN_LINE.encode()).hexdigest()
            raw = app.codec.decode(reject_key(keyed[0]), keyed[1])
            conn.execute(
                insert(table).values(
                    {
                        **row._asdict(),
                        "fingerprint": plain,
                        "raw": app.codec.encode(reject_key(plain), raw),
                    }
                )
            )
            conn.execute(
                delete(schema.settings_kv).where(schema.settings_kv.c.key == DIGESTS_KEYED)
            )
    finally:
        app.close()

    reopened = _app(ledger_url, key_file)
    try:
        codec = reopened.codec  # the ledger opened with its key, as every command does
        rejects = _rejects(reopened)
        lines = _opens(codec, rejects)
    finally:
        reopened.close()
    assert [fingerprint for fingerprint, _ in rejects] == [keyed[0]]
    assert lines == [raw]


def test_a_line_kept_without_its_content_is_converted(ledger_url: str, tmp_path: Path) -> None:
    """A rejected line emptied by its record's deletion is given its keyed fingerprint too."""
    key_file = tmp_path / "ledger.key"
    app = _app(ledger_url, key_file)
    try:
        _run(app, tmp_path)
        table = schema.rejects
        with app.engine.begin() as conn:
            _unkey_rejects(conn, app.codec)
            conn.execute(update(table).values(raw=None))
            conn.execute(
                delete(schema.settings_kv).where(schema.settings_kv.c.key == DIGESTS_KEYED)
            )
    finally:
        app.close()

    reopened = _app(ledger_url, key_file)
    try:
        assert reopened.codec  # the ledger opened with its key, as every command does
        with reopened.engine.connect() as conn:
            rows = conn.execute(select(table.c.fingerprint, table.c.raw)).all()
        rewritten = reencrypt_ledger(reopened).rewritten
    finally:
        reopened.close()
    assert [(row.fingerprint[:1], row.raw) for row in rows] == [(KEYED_DIGEST_PREFIX, None)]
    assert rewritten.by_table["rejects"] == 0
