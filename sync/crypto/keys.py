"""Key values and the in-memory key ring: parties, key ids, statuses, lookups.

A `KeyRing` holds one party's private keys and every party's public keys with
their status. It is built once per process (see `sync.crypto.keyring`) and
passed to whatever seals or opens envelopes. Every lookup that can refuse a key
raises `sync.errors.KeyError_` with a one-sentence reason naming the key id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from sync.errors import KeyError_

KEY_ID_BYTES = 16


class Party(StrEnum):
    """The parties to the exchange: the two agency systems and the arms-sync hub."""

    PROBATION = "probation"
    POLICE = "police"
    HUB = "hub"


class KeyUse(StrEnum):
    """What a key is for."""

    SIGN = "sign"
    ENCRYPT = "encrypt"

    @property
    def in_words(self) -> str:
        """The key's kind as a sentence names it: a signing or an encryption key."""
        return "signing" if self is KeyUse.SIGN else "encryption"


class KeyStatus(StrEnum):
    """Lifecycle of a key in the public ring."""

    ACTIVE = "active"
    DECRYPT_ONLY = "decrypt-only"
    REVOKED = "revoked"


def no_keys_sentence(parties: list[Party]) -> str:
    """That `parties` have no keys in the ring, and the import that mends it for each."""
    names = " and ".join(party.value for party in parties)
    verb, its = ("has", "its") if len(parties) == 1 else ("have", "their")
    imports = " and ".join(f"`arms-sync keys import --party {p.value} RING`" for p in parties)
    return (
        f"{names} {verb} no keys in this key ring; import {its} current public keys with {imports}."
    )


def key_id_of(raw_public_key: bytes) -> str:
    """Key id: the first 16 bytes of SHA-256 of the raw public key, as hex."""
    return hashlib.sha256(raw_public_key).digest()[:KEY_ID_BYTES].hex()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """Public metadata of one key: who owns it, what for, and whether it is accepted."""

    party: Party
    use: KeyUse
    key_id: str
    generation: int
    status: KeyStatus
    created_at: datetime
    public_key: bytes
    grace_until: datetime | None = None
    revoked_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Whether the key may still open or verify at `now`."""
        if self.status is KeyStatus.ACTIVE:
            return True
        if self.status is KeyStatus.DECRYPT_ONLY:
            return self.grace_until is not None and now <= self.grace_until
        return False


def refusal_reason(info: KeyInfo, now: datetime) -> str | None:
    """Why a key may not be used at `now`, or `None` when it may."""
    if info.status is KeyStatus.REVOKED:
        return f"key {info.key_id} of {info.party} is revoked."
    if not info.usable_at(now):
        return f"key {info.key_id} of {info.party} is past its grace period."
    return None


@dataclass(frozen=True, slots=True, eq=False)
class KeyRing:
    """One party's private keys and every party's public keys, for one process."""

    me: Party
    keys: tuple[KeyInfo, ...]
    signing_keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    encryption_keys: dict[str, X25519PrivateKey] = field(default_factory=dict)
    made_here: frozenset[Party] = frozenset()  # parties whose private keys are in its folder

    def find(self, key_id: str) -> KeyInfo:
        """The public entry for a key id, or `KeyError_` when unknown."""
        for info in self.keys:
            if info.key_id == key_id:
                return info
        raise KeyError_(f"key {key_id} is not in the key ring.")

    def active(self, party: Party, use: KeyUse) -> KeyInfo:
        """A party's active (primary) key for a use, or `KeyError_`."""
        for info in self.keys:
            if info.party is party and info.use is use and info.status is KeyStatus.ACTIVE:
                return info
        if self._made_here(party):
            raise KeyError_(
                f"{party} has no active {use.in_words} key; rotate to make one with "
                f"`arms-sync keys rotate --party {party.value}`."
            )
        if not self.holds_keys_of(party):
            raise KeyError_(no_keys_sentence([party]))
        raise KeyError_(
            f"{party} has no active {use.in_words} key in this key ring; import its current "
            f"public keys with `arms-sync keys import --party {party.value} RING`."
        )

    def _made_here(self, party: Party) -> bool:
        """Whether `party`'s keys are made in this ring's folder (its own, not imported)."""
        return party is self.me or party in self.made_here

    def holds_keys_of(self, party: Party) -> bool:
        """Whether the ring holds any key of `party`, whatever its status."""
        return any(info.party is party for info in self.keys)

    def lacks_active_key(self, party: Party, use: KeyUse) -> KeyError_ | None:
        """Why `party` has no active key for `use` in this ring (the error `active` raises),
        or None when it has one."""
        try:
            self.active(party, use)
        except KeyError_ as lacking:
            return lacking
        return None

    def own_signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        """My active signing key and its id, for sealing."""
        info = self.active(self.me, KeyUse.SIGN)
        private = self.signing_keys.get(info.key_id)
        if private is None:
            raise KeyError_(f"the private key for {info.key_id} is not in the key directory.")
        return info.key_id, private

    def recipient_key(self, party: Party) -> tuple[str, X25519PublicKey]:
        """A party's active encryption key and its id, for sealing to it."""
        info = self.active(party, KeyUse.ENCRYPT)
        return info.key_id, X25519PublicKey.from_public_bytes(info.public_key)

    def verifying_key(self, key_id: str, party: Party, now: datetime | None) -> Ed25519PublicKey:
        """The public signing key `key_id` of `party`, refused when revoked or expired, or
        (naming the import that brings it) when another party's ring has never held it."""
        if not any(info.key_id == key_id for info in self.keys):
            hint = (
                ""
                if self._made_here(party)
                else f"; import {party}'s current public keys with "
                f"`arms-sync keys import --party {party.value} RING`"
            )
            raise KeyError_(f"{party}'s signing key {key_id} is not in the key ring{hint}.")
        info = self._accepted(key_id, party, KeyUse.SIGN, now)
        return Ed25519PublicKey.from_public_bytes(info.public_key)

    def decryption_key(self, key_id: str, now: datetime) -> X25519PrivateKey:
        """My private encryption key `key_id`, refused when revoked or expired."""
        self._accepted(key_id, self.me, KeyUse.ENCRYPT, now)
        private = self.encryption_keys.get(key_id)
        if private is None:
            raise KeyError_(f"the private key for {key_id} is not in the key directory.")
        return private

    def _accepted(self, key_id: str, party: Party, use: KeyUse, now: datetime | None) -> KeyInfo:
        info = self.find(key_id)
        if info.party is not party or info.use is not use:
            raise KeyError_(f"key {key_id} is not a {use} key of {party}.")
        if info.status is KeyStatus.REVOKED:
            raise KeyError_(f"key {key_id} of {party} is revoked.")
        if now is not None and (reason := refusal_reason(info, now)) is not None:
            raise KeyError_(reason)
        return info
