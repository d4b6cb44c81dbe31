"""A ledger's at-rest data key: made on first use, and checked to be the key its data needs.

`ledger_key_file` reads the key from a file, or makes it there when the ledger
holds nothing encrypted yet; a file missing while the ledger holds encrypted
data is refused, since a new key could never read that data. `bind_data_key`
then checks the key against the ledger: the first time, it records a key
check (an HMAC of a fixed text under the key's MAC half) in `ledger_meta`, and
whether the ledger already held plaintext from before encryption at rest was
always on; every later open compares the key check, so a wrong key is refused
before anything is read or written with it.

The key check is made with the MAC half, which a rotation keeps (pseudonyms
and subject ids must not change), so the ledger also keeps an encryption
check: a fixed text encrypted under the AES-GCM half. Only that half opens
it, so a host left with the key from before a rotation is refused too.
A ledger in the middle of a re-encryption (`reencryption_mark.py`) is
refused whatever the key. A ledger whose record digests or reject
fingerprints are still plain hashes has them keyed once the key is known to
be its own (`keyed_digests.py`).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from sync.crypto.at_rest import BLOB_FORMAT, FieldCipher
from sync.crypto.key_file import create_data_key_file, read_data_key_file
from sync.errors import ConfigurationError, CryptoError
from sync.ledger import schema
from sync.ledger.codec import CipherCodec
from sync.ledger.keyed_digests import DIGESTS_KEYED, key_stored_digests
from sync.ledger.reencryption_mark import REENCRYPTION_MARK, reencryption_underway
from sync.ledger.store import record_key
from sync.ledger.tables_manual import flag_acts, manual_links, review_items
from sync.ledger.upsert import dialect_insert

KEY_CHECK = "at_rest_key_check"
LEGACY_PLAINTEXT = "at_rest_legacy_plaintext"
KEY_CHECK_KIND = "key_check"
KEY_CHECK_TEXT = "arms-sync ledger at-rest key v1"
AEAD_CHECK = "at_rest_aead_check"
AEAD_CHECK_FIELD = "ledger_meta/at_rest_aead_check/value"
# What a refusal of the ledger's key asks for: the key it was made with, from either place
# (a ledger first run with `run --keys DIR` was keyed by that directory's data key).
GIVE_THE_LEDGER_S_KEY = (
    "give the ledger's own key (the one it was made with or, once `ledger reencrypt` "
    "has rotated it, the new one, copied to every host that opens the ledger): its key "
    "directory in ARMS_SYNC_KEYS_DIR (as `run --keys DIR` gave it), or its key file in "
    "ARMS_SYNC_AT_REST_KEY_FILE"
)
_REASON_TABLES = (manual_links, flag_acts, review_items, schema.overrides)


def key_check(cipher: FieldCipher) -> str:
    """A value that tells one data key from another without revealing either."""
    return cipher.pseudonym(KEY_CHECK_KIND, KEY_CHECK_TEXT)


def aead_check(cipher: FieldCipher) -> str:
    """A value only the key's AES-GCM half opens: the fixed text, encrypted under it."""
    return CipherCodec(cipher).encode_text(AEAD_CHECK_FIELD, KEY_CHECK_TEXT)


def opens_aead_check(cipher: FieldCipher, check: str) -> bool:
    """Whether `check` was made by `aead_check` under the same AES-GCM key."""
    try:
        return CipherCodec(cipher).decode_text(AEAD_CHECK_FIELD, check) == KEY_CHECK_TEXT
    except (CryptoError, UnicodeDecodeError):
        return False


def ledger_meta(conn: Connection) -> dict[str, str]:
    """What the ledger keeps about itself (`ledger_meta`), as a dict."""
    table = schema.settings_kv
    return dict(conn.execute(select(table.c.key, table.c.value)).all())


def _first_encrypted_record(conn: Connection) -> tuple[str, bytes] | None:
    table = schema.records
    row = conn.execute(
        select(table.c.agency, table.c.rtype, table.c.rid, table.c.payload)
        .where(func.substr(table.c.payload, 1, 1) == BLOB_FORMAT)
        .limit(1)
    ).first()
    if row is None:
        return None
    return record_key(row.agency, row.rtype, row.rid), bytes(row.payload)


def holds_encrypted_data(conn: Connection) -> bool:
    """Whether the ledger holds data encrypted under some key (so a new key is no use)."""
    return KEY_CHECK in ledger_meta(conn) or _first_encrypted_record(conn) is not None


def _holds_plaintext(conn: Connection) -> bool:
    """Whether rows were written in plaintext, before encryption at rest was always on."""
    table = schema.records
    plain_payload = conn.execute(
        select(table.c.rid)
        .where(table.c.payload.is_not(None), func.substr(table.c.payload, 1, 1) != BLOB_FORMAT)
        .limit(1)
    ).first()
    if plain_payload is not None:
        return True
    # Reasons were stored in plaintext until the key checks came: any reason counts.
    return any(conn.execute(select(t.c.reason).limit(1)).first() for t in _REASON_TABLES)


def ledger_key_file(engine: Engine, path: Path, place: str) -> FieldCipher:
    """The cipher of the key in `path`, made there if the ledger holds nothing encrypted yet."""
    if path.exists():
        return FieldCipher(read_data_key_file(path))
    with engine.connect() as conn:
        encrypted = holds_encrypted_data(conn)
    if encrypted:
        raise ConfigurationError(
            f"The ledger {place} holds encrypted data but its at-rest key file {path} "
            f"is missing; {GIVE_THE_LEDGER_S_KEY}, or restore that file from a backup."
        )
    try:
        return FieldCipher(create_data_key_file(path))
    except FileExistsError:  # another process made it meanwhile
        return FieldCipher(read_data_key_file(path))
    except OSError as error:
        reason = os.strerror(error.errno).lower() if error.errno else "the system refused"
        raise ConfigurationError(
            f"The at-rest key file {path} for the ledger {place} cannot be made: {reason}."
        ) from error


def _wrong_key(place: str, key_named: str) -> ConfigurationError:
    return ConfigurationError(
        f"The ledger {place} was encrypted under another at-rest key than {key_named}."
    )


def _decrypts(cipher: FieldCipher, sample: tuple[str, bytes]) -> bool:
    try:
        cipher.decrypt(*sample)
    except CryptoError:
        return False
    return True


def _record_binding(
    engine: Engine, cipher: FieldCipher, place: str, key_named: str, meta: dict[str, str]
) -> None:
    """Record the checks the ledger lacks, once a record shows the key is the ledger's own."""
    with engine.connect() as conn:
        sample = _first_encrypted_record(conn)
        legacy = _holds_plaintext(conn) if KEY_CHECK not in meta else False
    if sample is not None and not _decrypts(cipher, sample):
        raise _wrong_key(place, key_named)
    rows = [{"key": AEAD_CHECK, "value": aead_check(cipher)}]
    if KEY_CHECK not in meta:
        rows.append({"key": KEY_CHECK, "value": key_check(cipher)})
        rows.append({"key": LEGACY_PLAINTEXT, "value": "1" if legacy else "0"})
    table = schema.settings_kv
    with engine.begin() as conn:
        conn.execute(dialect_insert(engine.dialect.name, table).on_conflict_do_nothing(), rows)


def bind_data_key(
    engine: Engine, cipher: FieldCipher, place: str, key_named: str = "the one configured"
) -> CipherCodec:
    """The ledger's codec under `cipher`, once the key is known to be the ledger's own.

    `key_named` says, in a refusal, which key was tried and how to name the right one.
    """
    with engine.connect() as conn:
        meta = ledger_meta(conn)
    if REENCRYPTION_MARK in meta:
        raise reencryption_underway(place)
    if meta.get(KEY_CHECK, key_check(cipher)) != key_check(cipher):
        raise _wrong_key(place, key_named)  # before any check of this key is recorded
    if KEY_CHECK not in meta or AEAD_CHECK not in meta:
        _record_binding(engine, cipher, place, key_named, meta)
        with engine.connect() as conn:
            meta = ledger_meta(conn)
    if meta.get(KEY_CHECK) != key_check(cipher) or not opens_aead_check(cipher, meta[AEAD_CHECK]):
        raise _wrong_key(place, key_named)
    codec = CipherCodec(cipher, legacy_plaintext=meta.get(LEGACY_PLAINTEXT) == "1")
    if DIGESTS_KEYED not in meta:
        key_stored_digests(engine, codec)
    return codec
