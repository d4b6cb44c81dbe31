"""At-rest protection: field encryption bound to the record id, nonces drawn in batches,
and keyed pseudonyms."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.crypto import at_rest
from sync.crypto.at_rest import (
    DATA_KEY_BYTES,
    NONCE_BYTES,
    NONCES_PER_DRAW,
    DataKey,
    FieldCipher,
    NoncePool,
    new_data_key,
)
from sync.errors import CryptoError
from sync.ledger.store import keyed_content_digest, keyed_digest

PNC = "2001/0000123Z"
CRO = "123456/01Z"
PSEUDONYM_RUNS = 50_000


def _data_key() -> DataKey:
    return DataKey(
        aead_key=secrets.token_bytes(DATA_KEY_BYTES), mac_key=secrets.token_bytes(DATA_KEY_BYTES)
    )


CIPHER = FieldCipher(_data_key())


@given(record_id=st.text(max_size=40), plaintext=st.binary(max_size=512))
def test_encrypt_then_decrypt_round_trips(record_id: str, plaintext: bytes) -> None:
    assert CIPHER.decrypt(record_id, CIPHER.encrypt(record_id, plaintext)) == plaintext


def test_blob_moved_to_another_record_fails() -> None:
    blob = CIPHER.encrypt("person:X123456", b"Smith")
    with pytest.raises(CryptoError, match="integrity") as caught:
        CIPHER.decrypt("person:X654321", blob)
    assert "Smith" not in str(caught.value)


def test_same_value_encrypts_differently_each_time() -> None:
    first = CIPHER.encrypt("r1", b"Smith")
    second = CIPHER.encrypt("r1", b"Smith")
    assert first != second
    assert b"Smith" not in first


@given(position=st.integers(min_value=0, max_value=200))
def test_any_altered_byte_fails(position: int) -> None:
    blob = CIPHER.encrypt("r1", b"Jane Smith 1980-01-02")
    index = position % len(blob)
    altered = blob[:index] + bytes([blob[index] ^ 0x80]) + blob[index + 1 :]
    with pytest.raises(CryptoError):
        CIPHER.decrypt("r1", altered)


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02" + bytes(40)])
def test_short_or_unknown_format_blob_fails(blob: bytes) -> None:
    with pytest.raises(CryptoError, match="format"):
        CIPHER.decrypt("r1", blob)


def test_another_data_key_cannot_decrypt() -> None:
    blob = CIPHER.encrypt("r1", b"Smith")
    with pytest.raises(CryptoError):
        FieldCipher(_data_key()).decrypt("r1", blob)


def test_pseudonyms_are_stable_for_the_same_key() -> None:
    key = _data_key()
    assert FieldCipher(key).pseudonym("pnc", PNC) == FieldCipher(key).pseudonym("pnc", PNC)
    assert re.fullmatch("[0-9a-f]{64}", CIPHER.pseudonym("pnc", PNC))


def test_a_pseudonym_is_hmac_sha256_of_kind_nul_value_under_the_mac_key() -> None:
    key = _data_key()
    expected = hmac.new(key.mac_key, b"pnc\x00" + PNC.encode(), hashlib.sha256).hexdigest()
    assert FieldCipher(key).pseudonym("pnc", PNC) == expected


def test_a_stored_digest_is_k_and_the_first_63_hex_digits_of_its_pseudonym() -> None:
    key = _data_key()
    plain = hashlib.sha256(b"a record").hexdigest()
    keyed = hmac.new(key.mac_key, b"content\x00" + plain.encode(), hashlib.sha256).hexdigest()
    assert keyed_digest(FieldCipher(key), "content", plain) == "k" + keyed[:63]
    assert keyed_content_digest(FieldCipher(key), plain) == "k" + keyed[:63]


def test_pseudonyms_are_keyed() -> None:
    assert FieldCipher(_data_key()).pseudonym("pnc", PNC) != CIPHER.pseudonym("pnc", PNC)


def test_pseudonyms_separate_kinds_and_values() -> None:
    assert CIPHER.pseudonym("pnc", PNC) != CIPHER.pseudonym("cro", PNC)
    assert CIPHER.pseudonym("cro", CRO) != CIPHER.pseudonym("cro", PNC)


@given(a=st.text(max_size=20), b=st.text(max_size=20))
def test_pseudonym_equality_follows_value_equality(a: str, b: str) -> None:
    assert (CIPHER.pseudonym("cro", a) == CIPHER.pseudonym("cro", b)) == (a == b)


@pytest.mark.parametrize("kind", ["", "PNC", "pnc\x00x", "p n c"])
def test_pseudonym_refuses_a_bad_kind(kind: str) -> None:
    with pytest.raises(ValueError, match="kind"):
        CIPHER.pseudonym(kind, PNC)


def test_data_key_checks_lengths_and_separation_and_hides_itself() -> None:
    key = secrets.token_bytes(DATA_KEY_BYTES)
    with pytest.raises(CryptoError, match="length"):
        DataKey(aead_key=key[:16], mac_key=key)
    with pytest.raises(CryptoError, match="reuses"):
        DataKey(aead_key=key, mac_key=key)
    assert key.hex() not in repr(_data_key())
    assert repr(_data_key()) == "DataKey(<secret>)"


def test_nonces_are_drawn_many_at_a_time_and_never_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    draws: list[int] = []
    real_urandom = os.urandom

    def counting(size: int) -> bytes:
        draws.append(size)
        return real_urandom(size)

    monkeypatch.setattr("sync.crypto.at_rest.os.urandom", counting)
    pool = NoncePool(per_draw=64)
    nonces = [pool.take() for _ in range(64 * 3 + 1)]
    assert draws == [64 * NONCE_BYTES] * 4
    assert {len(nonce) for nonce in nonces} == {NONCE_BYTES}
    assert len(set(nonces)) == len(nonces)


def test_a_cipher_draws_one_nonce_per_field_from_its_pool() -> None:
    cipher = FieldCipher(_data_key())
    blobs = [cipher.encrypt("r1", b"Smith") for _ in range(NONCES_PER_DRAW + 10)]
    nonces = {blob[1 : 1 + NONCE_BYTES] for blob in blobs}
    assert len(nonces) == len(blobs)


def test_a_forked_child_never_hands_out_its_parents_nonces() -> None:
    pool = NoncePool(per_draw=16)
    pool.take()  # the parent has drawn a batch and holds the rest of it
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.close(reader)
        os.write(writer, b"".join(pool.take() for _ in range(15)))
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as stream:
        from_child = stream.read()
    os.waitpid(child, 0)
    in_child = {from_child[i : i + NONCE_BYTES] for i in range(0, len(from_child), NONCE_BYTES)}
    in_parent = {pool.take() for _ in range(15)}
    assert len(in_child) == 15
    assert in_child.isdisjoint(in_parent)


def test_one_fork_hook_serves_every_pool_however_many_are_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[object] = []
    monkeypatch.setattr(
        "sync.crypto.at_rest.os.register_at_fork", lambda **hook: registered.append(hook)
    )
    at_rest._register_fork_hook.cache_clear()
    try:
        for _ in range(5):
            NoncePool(per_draw=4)
    finally:
        at_rest._register_fork_hook.cache_clear()  # the next pool registers the real hook
    assert len(registered) == 1


def test_new_data_keys_are_random_and_separate() -> None:
    first, second = new_data_key(), new_data_key()
    assert first.aead_key != second.aead_key
    assert first.aead_key != first.mac_key
