"""The ledger's codec: payloads and text encrypted, bound to where they are stored;
plaintext read only from a ledger written before encryption at rest was always on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.crypto.at_rest import FieldCipher, new_data_key
from sync.errors import CryptoError
from sync.ledger.codec import TEXT_PREFIX, CipherCodec, field_key

CIPHER = FieldCipher(new_data_key())
STRICT = CipherCodec(CIPHER)
LEGACY = CipherCodec(CIPHER, legacy_plaintext=True)
KEY = field_key("manual_links", "LNK-1", "reason")


@given(reason=st.text(max_size=200))
def test_text_round_trips_and_hides_itself(reason: str) -> None:
    stored = STRICT.encode_text(KEY, reason)
    assert stored.startswith(TEXT_PREFIX)
    assert stored.isascii()
    assert STRICT.decode_text(KEY, stored) == reason


def test_text_moved_to_another_row_or_column_fails() -> None:
    stored = STRICT.encode_text(KEY, "JONES Simon")
    for elsewhere in (
        field_key("manual_links", "LNK-2", "reason"),
        field_key("overrides", "LNK-1", "reason"),
        field_key("manual_links", "LNK-1", "revoke_reason"),
    ):
        with pytest.raises(CryptoError):
            STRICT.decode_text(elsewhere, stored)


@pytest.mark.parametrize("stored", ["JONES Simon", f"{TEXT_PREFIX}not base64 at all!", ""])
def test_a_ledger_that_never_held_plaintext_refuses_it(stored: str) -> None:
    with pytest.raises(CryptoError) as caught:
        STRICT.decode_text(KEY, stored)
    assert "JONES" not in str(caught.value)


def test_a_legacy_ledger_reads_its_plaintext_and_its_new_ciphertext() -> None:
    assert LEGACY.decode_text(KEY, "JONES Simon") == "JONES Simon"
    assert LEGACY.decode_text(KEY, LEGACY.encode_text(KEY, "new")) == "new"
    assert LEGACY.decode("probation/person/X1", b'{"surname": "JONES"}') == b'{"surname": "JONES"}'
    blob = LEGACY.encode("probation/person/X1", b"{}")
    assert blob[:1] == b"\x01"
    assert LEGACY.decode("probation/person/X1", blob) == b"{}"
    with pytest.raises(CryptoError):
        STRICT.decode("probation/person/X1", b'{"surname": "JONES"}')


def test_none_stays_none() -> None:
    assert STRICT.decode_optional_text(KEY, None) is None
