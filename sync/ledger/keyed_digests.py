"""Keying the digests of a ledger written before digests were keyed.

Two stored hashes serve only to tell equal things apart: each record's
digest (does a new version say anything new?) and each rejected line's
fingerprint (was this line rejected before?). Both used to be plain SHA-256
hashes of personal data, which would let anyone reading the ledger confirm a
guess at what a record or line says; both are now keyed pseudonyms of those
hashes (`store.keyed_digest`). A ledger holding plain ones is converted the
first time it is opened with its data key. A record's keyed digest is a
function of its plain one, so nothing is decrypted; a rejected line's copy is
encrypted with its fingerprint as associated data, so it is decrypted and
encrypted again under the keyed fingerprint. Rows are converted in batches,
each in its own transaction, and only rows still plain are touched, so a
conversion cut short (or two processes converting at once) ends the same;
the ledger's mark `content_digests_keyed` then says it is done, and later
opens skip it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, select, update

from sync.crypto.at_rest import FieldCipher
from sync.ledger import schema
from sync.ledger.codec import CipherCodec
from sync.ledger.store import (
    DELETED_DIGEST,
    KEYED_DIGEST_PREFIX,
    REJECT_FINGERPRINT_KIND,
    bulk_execute,
    key_after,
    keyed_content_digest,
    keyed_digest,
    reject_key,
)
from sync.ledger.upsert import dialect_insert

DIGESTS_KEYED = "content_digests_keyed"
CONVERT_BATCH = 5_000
_OLD = "old_digest"
_NEW = "new_digest"


def key_stored_digests(engine: Engine, codec: CipherCodec) -> int:
    """Key every plain record digest and reject fingerprint, then mark the ledger done.

    Returns how many were plain.
    """
    converted = _key_record_digests(engine, codec.cipher) + _key_reject_fingerprints(engine, codec)
    _mark_done(engine)
    return converted


def _key_record_digests(engine: Engine, cipher: FieldCipher) -> int:
    table = schema.records
    keys = (table.c.agency, table.c.rtype, table.c.rid)
    plain = and_(
        table.c.digest != DELETED_DIGEST, table.c.digest.not_like(f"{KEYED_DIGEST_PREFIX}%")
    )
    converted = 0
    after: tuple[Any, ...] | None = None
    while True:
        query = select(*keys, table.c.digest).where(plain)
        if after is not None:
            query = query.where(key_after(keys, after))
        with engine.begin() as conn:
            rows = conn.execute(query.order_by(*keys).limit(CONVERT_BATCH)).all()
            if rows:
                changes = [_change(row, cipher) for row in rows]
                bulk_execute(conn, _update_statement(), changes, "key-content-digests")
        converted += len(rows)
        if len(rows) < CONVERT_BATCH:
            break
        after = tuple(rows[-1])[:3]
    return converted


def _key_reject_fingerprints(engine: Engine, codec: CipherCodec) -> int:
    """Key the fingerprint of every rejected line still plain, its copy encrypted again.

    Plain fingerprints are hex, so they sort before every keyed one (`k…`):
    each batch is the first of those still plain, in primary-key order.
    """
    table = schema.rejects
    plain = table.c.fingerprint.not_like(f"{KEYED_DIGEST_PREFIX}%")
    query = select(table.c.fingerprint, table.c.raw).where(plain)
    converted = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(query.order_by(table.c.fingerprint).limit(CONVERT_BATCH)).all()
            for row in rows:
                _rekey_reject(conn, codec, row.fingerprint, row.raw)
        converted += len(rows)
        if len(rows) < CONVERT_BATCH:
            return converted


def _rekey_reject(
    conn: Connection, codec: CipherCodec, fingerprint: str, stored: bytes | None
) -> None:
    """Give one rejected line its keyed fingerprint (or drop it, if that line is kept already).

    A line kept without its content (its record deleted) has no copy to encrypt again.
    """
    table = schema.rejects
    keyed = keyed_digest(codec.cipher, REJECT_FINGERPRINT_KIND, fingerprint)
    if conn.execute(select(table.c.fingerprint).where(table.c.fingerprint == keyed)).first():
        conn.execute(delete(table).where(table.c.fingerprint == fingerprint))
        return
    raw = None if stored is None else codec.decode(reject_key(fingerprint), bytes(stored))
    conn.execute(
        update(table)
        .where(table.c.fingerprint == fingerprint)
        .values(
            fingerprint=keyed, raw=None if raw is None else codec.encode(reject_key(keyed), raw)
        )
    )


def _change(row: Any, cipher: FieldCipher) -> dict[str, Any]:
    return {
        "b_agency": row.agency,
        "b_rtype": row.rtype,
        "b_rid": row.rid,
        _OLD: row.digest,
        _NEW: keyed_content_digest(cipher, row.digest),
    }


def _update_statement() -> Any:
    table = schema.records
    return (
        update(table)
        .where(
            table.c.agency == bindparam("b_agency"),
            table.c.rtype == bindparam("b_rtype"),
            table.c.rid == bindparam("b_rid"),
            table.c.digest == bindparam(_OLD),
        )
        .values(digest=bindparam(_NEW))
    )


def _mark_done(engine: Engine) -> None:
    table = schema.settings_kv
    with engine.begin() as conn:
        conn.execute(
            dialect_insert(engine.dialect.name, table).on_conflict_do_nothing(),
            [{"key": DIGESTS_KEYED, "value": "1"}],
        )
