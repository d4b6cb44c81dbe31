"""The rule for one stored value when the ledger is re-encrypted under a new key.

A value under the old key, or in plaintext in a ledger written before
encryption was always on, comes out under the new key, bound to the same
place; a value already under the new key is left alone, so running the rule
again changes nothing. The next key keeps the MAC key: pseudonyms stay.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sync.crypto.at_rest import (
    BLOB_FORMAT,
    FieldCipher,
    follows_data_key,
    new_data_key,
    rotated_data_key,
)
from sync.errors import CryptoError
from sync.ledger.codec import TEXT_PREFIX, CipherCodec
from sync.ledger.reencrypt import Rekey

OLD_KEY = new_data_key()
NEW_KEY = rotated_data_key(OLD_KEY)
OLD, NEW = FieldCipher(OLD_KEY), FieldCipher(NEW_KEY)
FORMS = ("old", "new", "plaintext")
places = st.text(min_size=1, max_size=40)


def _rekey(legacy: bool) -> Rekey:
    return Rekey(CipherCodec(OLD, legacy_plaintext=legacy), NEW)


def _blob(form: str, place: str, value: bytes) -> bytes:
    if form == "plaintext":
        return value
    return (OLD if form == "old" else NEW).encrypt(place, value)


@given(value=st.binary(max_size=300), place=places, other=places, form=st.sampled_from(FORMS))
def test_a_blob_ends_under_the_new_key_at_the_same_place(
    value: bytes, place: str, other: str, form: str
) -> None:
    assume(form != "plaintext" or value[:1] != BLOB_FORMAT)
    assume(other != place)
    stored = _blob(form, place, value)
    rewritten, was_plaintext = _rekey(legacy=True).rewrite_blob(place, stored)
    if form == "new":
        assert rewritten is None
        return
    assert rewritten is not None
    assert was_plaintext == (form == "plaintext")
    assert NEW.decrypt(place, rewritten) == value
    for wrong_key, wrong_place in ((OLD, place), (NEW, other)):
        with pytest.raises(CryptoError):
            wrong_key.decrypt(wrong_place, rewritten)
    assert _rekey(legacy=True).rewrite_blob(place, rewritten) == (None, False)


@given(value=st.text(max_size=200), place=places, form=st.sampled_from(FORMS))
def test_a_text_ends_under_the_new_key(value: str, place: str, form: str) -> None:
    assume(form != "plaintext" or not value.startswith(TEXT_PREFIX))
    codec = {"old": CipherCodec(OLD), "new": CipherCodec(NEW)}.get(form)
    stored = value if codec is None else codec.encode_text(place, value)
    rewritten, was_plaintext = _rekey(legacy=True).rewrite_text(place, stored)
    if form == "new":
        assert rewritten is None
        return
    assert rewritten is not None
    assert rewritten.startswith(TEXT_PREFIX)
    assert was_plaintext == (form == "plaintext")
    assert CipherCodec(NEW).decode_text(place, rewritten) == value
    with pytest.raises(CryptoError):
        CipherCodec(OLD).decode_text(place, rewritten)
    assert _rekey(legacy=True).rewrite_text(place, rewritten) == (None, False)


@given(value=st.binary(min_size=1, max_size=100), place=places)
def test_plaintext_is_refused_unless_the_ledger_was_written_in_plaintext(
    value: bytes, place: str
) -> None:
    assume(value[:1] != BLOB_FORMAT)
    with pytest.raises(CryptoError):
        _rekey(legacy=False).rewrite_blob(place, value)
    with pytest.raises(CryptoError):
        _rekey(legacy=False).rewrite_text(place, value.decode("latin-1"))


def test_a_value_under_a_third_key_is_refused() -> None:
    stranger = FieldCipher(new_data_key()).encrypt("p", b"JONES")
    with pytest.raises(CryptoError):
        _rekey(legacy=True).rewrite_blob("p", stranger)


@given(kind=st.sampled_from(["pnc", "cro", "subject", "key_check"]), value=st.text(max_size=40))
def test_the_next_key_keeps_every_pseudonym(kind: str, value: str) -> None:
    assert NEW.pseudonym(kind, value) == OLD.pseudonym(kind, value)


def test_only_a_key_with_the_same_mac_key_and_a_new_encryption_key_follows() -> None:
    assert follows_data_key(NEW_KEY, OLD_KEY)
    assert not follows_data_key(OLD_KEY, OLD_KEY)
    assert not follows_data_key(new_data_key(), OLD_KEY)
