"""How personal data is stored in the ledger: encrypted, bound to where it is stored.

Binary fields (record payloads, rejected lines, staged cycle parts) are
`FieldCipher` blobs, which begin with the byte 0x01; text fields (operators'
reasons) are `enc1:` and the blob in URL-safe base64. The associated data names
where the value lives (a record's key; `table/row key/column` for a reason), so
a value copied elsewhere fails to decrypt.

A ledger written before encryption at rest was always on may still hold
plaintext (JSON payloads, reasons as typed). The ledger records that when it is
first opened with its key (`sync/ledger/data_key.py`); only such a ledger reads
plaintext values, any other refuses them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol

from sync.crypto.at_rest import BLOB_FORMAT, FieldCipher
from sync.errors import CryptoError

TEXT_PREFIX = "enc1:"
_NOT_SEALED = "a stored field is not in the expected format."


class Cipher(Protocol):
    """What the ledger needs of an at-rest cipher (AES-256-GCM, id as associated data)."""

    def encrypt(self, record_id: str, plaintext: bytes) -> bytes:
        """Encrypt, binding the record id."""
        ...

    def decrypt(self, record_id: str, blob: bytes) -> bytes:
        """Decrypt, checking the record id."""
        ...


def field_key(table: str, row_key: str, column: str) -> str:
    """The associated data of a text field: its table, its row's key and its column."""
    return f"{table}/{row_key}/{column}"


class CipherCodec:
    """Encrypts what the ledger stores at rest, and decrypts it (plaintext only if legacy)."""

    def __init__(self, cipher: FieldCipher, *, legacy_plaintext: bool = False) -> None:
        self.cipher = cipher
        self.legacy_plaintext = legacy_plaintext

    def encode(self, record_key: str, payload: bytes) -> bytes:
        """The encrypted payload."""
        return self.cipher.encrypt(record_key, payload)

    def decode(self, record_key: str, stored: bytes) -> bytes:
        """The payload of a stored blob (or of a legacy plaintext payload)."""
        if stored[:1] != BLOB_FORMAT and self.legacy_plaintext:
            return stored
        return self.cipher.decrypt(record_key, stored)

    def encode_text(self, key: str, text: str) -> str:
        """The encrypted text, as `enc1:` and base64."""
        blob = self.cipher.encrypt(key, text.encode("utf-8"))
        return TEXT_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii")

    def decode_text(self, key: str, stored: str) -> str:
        """The text of a stored value (or a legacy plaintext one)."""
        if not stored.startswith(TEXT_PREFIX):
            if self.legacy_plaintext:
                return stored
            raise CryptoError(_NOT_SEALED)
        try:
            blob = base64.urlsafe_b64decode(stored[len(TEXT_PREFIX) :].encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            raise CryptoError(_NOT_SEALED) from None
        return self.cipher.decrypt(key, blob).decode("utf-8")

    def decode_optional_text(self, key: str, stored: str | None) -> str | None:
        """`decode_text`, None staying None (a nullable column)."""
        return None if stored is None else self.decode_text(key, stored)
