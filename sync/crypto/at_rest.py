"""At-rest protection of personal data in the ledger: field encryption and pseudonyms.

`FieldCipher` encrypts one field value with AES-256-GCM under the deployment's
data key, a random 96-bit nonce, and the record id as associated data, so a blob
copied to another record fails to decrypt. `pseudonym` replaces an identifier
that only needs equality (PNC, CRO) with a keyed HMAC-SHA256, under a second,
independent key. Nonces are drawn from `os.urandom` many at a time (one system
call per 4,096 fields, not one per field), each handed out once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
import threading
import weakref
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.errors import CryptoError

DATA_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
BLOB_FORMAT = b"\x01"
PSEUDONYM_SEPARATOR = b"\x00"
NONCES_PER_DRAW = 4096

_KIND_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")  # matched whole


@dataclass(frozen=True, slots=True, repr=False)
class DataKey:
    """The deployment's data key: one key for AES-256-GCM, another for HMAC."""

    aead_key: bytes
    mac_key: bytes

    def __post_init__(self) -> None:
        if len(self.aead_key) != DATA_KEY_BYTES or len(self.mac_key) != DATA_KEY_BYTES:
            raise CryptoError("the data key has the wrong length.")
        if hmac.compare_digest(self.aead_key, self.mac_key):
            raise CryptoError("the data key reuses one key for encryption and pseudonyms.")

    def __repr__(self) -> str:
        return "DataKey(<secret>)"


def new_data_key() -> DataKey:
    """A fresh random data key (two independent 32-byte keys)."""
    return DataKey(
        aead_key=secrets.token_bytes(DATA_KEY_BYTES), mac_key=secrets.token_bytes(DATA_KEY_BYTES)
    )


def rotated_data_key(current: DataKey) -> DataKey:
    """The next data key: a fresh AES-256-GCM key, the same MAC key (pseudonyms stay)."""
    return DataKey(aead_key=secrets.token_bytes(DATA_KEY_BYTES), mac_key=current.mac_key)


def follows_data_key(candidate: DataKey, current: DataKey) -> bool:
    """Whether `candidate` can be the key after `current`: same MAC key, another AES-GCM key."""
    return hmac.compare_digest(candidate.mac_key, current.mac_key) and not hmac.compare_digest(
        candidate.aead_key, current.aead_key
    )


class NoncePool:
    """Random 96-bit nonces, drawn from `os.urandom` many at a time and each handed out once.

    Thread-safe. A process made by `fork` forgets what its parent drew: parent and
    child would otherwise hand out the same nonces.
    """

    def __init__(self, per_draw: int = NONCES_PER_DRAW) -> None:
        self._draw_bytes = per_draw * NONCE_BYTES
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0
        _forget_in_forked_children(self)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def take(self) -> bytes:
        """A nonce never handed out before by this pool (nor by its parent's, after a fork)."""
        with self._lock:
            start = self._offset
            if start >= len(self._buffer):
                self._buffer = os.urandom(self._draw_bytes)
                start = 0
            self._offset = start + NONCE_BYTES
            return self._buffer[start : self._offset]


# Every live pool, and one fork hook for them all (registered with the first pool):
# a hook per pool would stay registered after its pool is gone.
_LIVE_POOLS: weakref.WeakSet[NoncePool] = weakref.WeakSet()


def _forget_in_forked_children(pool: NoncePool) -> None:
    """Make a forked child forget what `pool` drew."""
    _register_fork_hook()
    _LIVE_POOLS.add(pool)


@functools.cache
def _register_fork_hook() -> None:
    os.register_at_fork(after_in_child=_forget_all_pools)


def _forget_all_pools() -> None:
    for pool in list(_LIVE_POOLS):
        pool._forget()


class FieldCipher:
    """Encrypts field values bound to their record id, and makes keyed pseudonyms."""

    def __init__(self, data_key: DataKey) -> None:
        self._aead = AESGCM(data_key.aead_key)
        self._mac = hmac.new(data_key.mac_key, digestmod=hashlib.sha256)
        self._known_kinds: set[str] = set()
        self._nonces = NoncePool()

    def encrypt(self, record_id: str, plaintext: bytes) -> bytes:
        """Blob = format byte, nonce, ciphertext and tag; the record id is associated data."""
        nonce = self._nonces.take()
        sealed = self._aead.encrypt(nonce, plaintext, _associated_data(record_id))
        return BLOB_FORMAT + nonce + sealed

    def decrypt(self, record_id: str, blob: bytes) -> bytes:
        """The plaintext of a blob made by `encrypt` for the same record id."""
        header = len(BLOB_FORMAT) + NONCE_BYTES
        if len(blob) < header + TAG_BYTES or blob[: len(BLOB_FORMAT)] != BLOB_FORMAT:
            raise CryptoError("a stored field is not in the expected format.")
        nonce = blob[len(BLOB_FORMAT) : header]
        try:
            return self._aead.decrypt(nonce, blob[header:], _associated_data(record_id))
        except InvalidTag:
            raise CryptoError(
                "a stored field failed its integrity check (altered, or moved to another record)."
            ) from None

    def pseudonym(self, kind: str, canonical_value: str) -> str:
        """HMAC-SHA256 over kind and canonical value, as hex: equal inputs, equal pseudonyms."""
        if kind not in self._known_kinds:
            if _KIND_RE.fullmatch(kind) is None:
                raise ValueError("pseudonym kind must be a short lower-case name.")
            self._known_kinds.add(kind)
        mac = self._mac.copy()
        mac.update(kind.encode("ascii") + PSEUDONYM_SEPARATOR + canonical_value.encode("utf-8"))
        return mac.hexdigest()


def _associated_data(record_id: str) -> bytes:
    return record_id.encode("utf-8")
