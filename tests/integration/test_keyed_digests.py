"""Record digests in the ledger are keyed, and a ledger holding plain ones is converted in place."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, select, update

from sync.app import App
from sync.crypto.at_rest import FieldCipher, new_data_key
from sync.cycle import run_cycle
from sync.feeds.files import PlainFileSource
from sync.ledger import keyed_digests, schema
from sync.ledger.codec import CipherCodec
from sync.ledger.keyed_digests import DIGESTS_KEYED
from sync.ledger.store import (
    DELETED_DIGEST,
    REJECT_FINGERPRINT_KIND,
    keyed_content_digest,
    keyed_digest,
    record_key,
    reject_key,
)
from sync.settings import Settings
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)


def _clock() -> datetime:
    return datetime(2026, 11, 28, 9, tzinfo=UTC)


BROKEN_LINE = '{"type": "person", "agency": "probation", "id": "P1", "surname": "BROKEN"'


def _run(app: App, folder: Path) -> dict[str, int]:
    probation, police = write_feeds(folder)
    with probation.open("a", encoding="utf-8") as feed:
        feed.write(BROKEN_LINE + "\n")
    sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
    return run_cycle(app, sources, AS_OF).changed


def _digests(app: App) -> dict[tuple[str, str, str], str]:
    """Each record's stored digest (the ledger opened with its key, as every command does)."""
    table = schema.records
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.agency, table.c.rtype, table.c.rid, table.c.digest))
        return {(a, t, r): d for a, t, r, d in rows}


def _plain_digests(app: App) -> dict[tuple[str, str, str], str]:
    """Each record's plain SHA-256 of its (decrypted) payload, as digests were stored before."""
    table = schema.records
    with app.engine.connect() as conn:
        rows = conn.execute(select(table.c.agency, table.c.rtype, table.c.rid, table.c.payload))
        return {
            (a, t, r): hashlib.sha256(app.codec.decode(record_key(a, t, r), bytes(p))).hexdigest()
            for a, t, r, p in rows
        }


def test_no_stored_digest_is_a_plain_hash_of_what_the_record_says(
    ledger_url: str, tmp_path: Path
) -> None:
    app = App(Settings(database_url=ledger_url), clock=_clock)
    try:
        _run(app, tmp_path)
        stored = _digests(app)
        plain = _plain_digests(app)
    finally:
        app.close()
    assert stored
    assert stored.keys() == plain.keys()
    for key, digest in stored.items():
        assert digest != plain[key]
        assert digest == keyed_content_digest(app.field_cipher, plain[key])
        assert len(digest) == len(plain[key]) == schema.DIGEST


def test_a_ledger_with_plain_digests_is_keyed_when_opened_and_a_rerun_changes_nothing(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyed_digests, "CONVERT_BATCH", 2)  # several batches, paged by key
    app = App(Settings(database_url=ledger_url), clock=_clock)
    try:
        _run(app, tmp_path)
        keyed = _digests(app)
        plain = _plain_digests(app)
        rejects = app.ledger.list_rejects()
        fingerprints = _fingerprints(app)
        with app.engine.begin() as conn:  # the ledger as an earlier version left it
            _unkey_rejects(conn, app.codec)
            for (agency, rtype, rid), digest in plain.items():
                conn.execute(
                    update(schema.records)
                    .where(
                        schema.records.c.agency == agency,
                        schema.records.c.rtype == rtype,
                        schema.records.c.rid == rid,
                    )
                    .values(digest=digest)
                )
            conn.execute(
                delete(schema.settings_kv).where(schema.settings_kv.c.key == DIGESTS_KEYED)
            )
    finally:
        app.close()

    reopened = App(Settings(database_url=ledger_url), clock=_clock)
    try:
        assert _digests(reopened) == keyed
        assert _fingerprints(reopened) == fingerprints
        assert reopened.ledger.list_rejects() == rejects
        assert _run(reopened, tmp_path) == {}
        assert _fingerprints(reopened) == fingerprints
    finally:
        reopened.close()


def _fingerprints(app: App) -> set[str]:
    with app.ledger.engine.connect() as conn:
        return set(conn.execute(select(schema.rejects.c.fingerprint)).scalars())


def _unkey_rejects(conn: Connection, codec: CipherCodec) -> None:
    """Give each rejected line its plain fingerprint back, its copy encrypted under it."""
    table = schema.rejects
    for keyed, agency, stored in conn.execute(
        select(table.c.fingerprint, table.c.agency, table.c.raw)
    ).all():
        raw = codec.decode(reject_key(keyed), bytes(stored))
        plain = hashlib.sha256(agency.encode() + b"\0" + raw).hexdigest()
        conn.execute(
            update(table)
            .where(table.c.fingerprint == keyed)
            .values(fingerprint=plain, raw=codec.encode(reject_key(plain), raw))
        )


def test_no_stored_fingerprint_is_a_plain_hash_of_the_rejected_line(
    ledger_url: str, tmp_path: Path
) -> None:
    app = App(Settings(database_url=ledger_url), clock=_clock)
    try:
        _run(app, tmp_path)
        (fingerprint,) = _fingerprints(app)
    finally:
        app.close()
    plain = hashlib.sha256(b"probation\0" + BROKEN_LINE.encode()).hexdigest()
    assert fingerprint == keyed_digest(app.field_cipher, REJECT_FINGERPRINT_KIND, plain)
    assert fingerprint != plain


def test_the_keyed_digest_keeps_equality_needs_the_key_and_leaves_deletions_alone() -> None:
    one, other = FieldCipher(new_data_key()), FieldCipher(new_data_key())
    plain = hashlib.sha256(b'{"surname": "EXAMPLE"}').hexdigest()

    keyed = keyed_content_digest(one, plain)

    assert keyed == keyed_content_digest(one, plain)
    assert keyed != keyed_content_digest(other, plain)
    assert keyed_content_digest(one, keyed) == keyed
    assert keyed_content_digest(one, DELETED_DIGEST) == DELETED_DIGEST
