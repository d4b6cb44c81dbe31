"""Sealed envelopes: HPKE to the recipient, signed inside and out by the sender.

Construction (see `docs/crypto.md`):

- header H: canonical JSON of `v`, `msg_id`, `sender`, `recipient`,
  `sender_key_id`, `recipient_key_id`, `sealed_at`, `content_type`;
- inner signature  S_in  = Ed25519(sender, INNER_TAG ‖ len(H) ‖ H ‖ SHA-256(plaintext));
- ct = HPKE base mode (X25519, HKDF-SHA256, AES-256-GCM) to the recipient's key,
  `info` = H, over the inner payload INNER_MAGIC ‖ len(H) ‖ H ‖ S_in ‖ plaintext;
- outer signature S_out = Ed25519(sender, OUTER_TAG ‖ len(H) ‖ H ‖ SHA-256(ct));
- wire: one line of JSON `{"header": H, "ct": base64(ct), "sig": base64(S_out)}`.

Every refusal is `EnvelopeRejected` (or `KeyError_` for a key that is unknown,
revoked or past its grace period) with a one-sentence reason and no content.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from sync.crypto.header import (
    ENVELOPE_VERSION,
    Header,
    check_content_type,
    check_msg_id,
    format_sealed_at,
    new_msg_id,
    parse_header,
)
from sync.crypto.keys import KeyRing, Party
from sync.crypto.replay import ReplayGuard, ReplayVerdict
from sync.errors import EnvelopeOutsideSkewWindow, EnvelopeRejected, KeyError_

HPKE_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
INNER_TAG = b"arms-sync/envelope/inner/v1\x00"
OUTER_TAG = b"arms-sync/envelope/outer/v1\x00"
INNER_MAGIC = b"ASI1"
LENGTH_BYTES = 4
SIGNATURE_BYTES = 64
WIRE_FIELDS = frozenset({"header", "ct", "sig"})


@dataclass(frozen=True, slots=True)
class Opened:
    """An opened envelope: its header, plaintext, wire digest and replay verdict.

    `verdict` is `None` when no replay guard was given; `SAME` means this very
    envelope was seen before and the caller must change nothing.
    """

    header: Header
    plaintext: bytes
    digest: str
    verdict: ReplayVerdict | None = None


@dataclass(frozen=True, slots=True)
class _Wire:
    header: Header
    header_bytes: bytes
    ct: bytes
    sig: bytes


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(LENGTH_BYTES, "big") + data


def inner_signing_input(header_bytes: bytes, plaintext: bytes) -> bytes:
    """What the inner signature covers: tag, header, SHA-256 of the plaintext."""
    return INNER_TAG + _length_prefixed(header_bytes) + hashlib.sha256(plaintext).digest()


def outer_signing_input(header_bytes: bytes, ct: bytes) -> bytes:
    """What the outer signature covers: tag, header, SHA-256 of the ciphertext."""
    return OUTER_TAG + _length_prefixed(header_bytes) + hashlib.sha256(ct).digest()


def pack_inner(header_bytes: bytes, inner_sig: bytes, plaintext: bytes) -> bytes:
    """The HPKE plaintext: magic, header, inner signature, then the plaintext."""
    return b"".join((INNER_MAGIC, _length_prefixed(header_bytes), inner_sig, plaintext))


def unpack_inner(payload: bytes) -> tuple[bytes, bytes, bytes]:
    """(header bytes, inner signature, plaintext) from an HPKE plaintext."""
    start = len(INNER_MAGIC) + LENGTH_BYTES
    if len(payload) < start or payload[: len(INNER_MAGIC)] != INNER_MAGIC:
        raise EnvelopeRejected("the sealed content is not in the expected format.")
    header_length = int.from_bytes(payload[len(INNER_MAGIC) : start], "big")
    sig_start = start + header_length
    body_start = sig_start + SIGNATURE_BYTES
    if len(payload) < body_start:
        raise EnvelopeRejected("the sealed content is truncated.")
    return payload[start:sig_start], payload[sig_start:body_start], payload[body_start:]


def encode_wire(header_bytes: bytes, ct: bytes, sig: bytes) -> bytes:
    """One line of JSON: header, base64 ciphertext, base64 outer signature."""
    return b"".join(
        (
            b'{"header":',
            header_bytes,
            b',"ct":"',
            base64.b64encode(ct),
            b'","sig":"',
            base64.b64encode(sig),
            b'"}',
        )
    )


def wire_digest(wire: bytes) -> str:
    """SHA-256 hex of the envelope in its canonical encoding (as `seal` writes it).

    Copies of one envelope that differ only in their JSON (spacing, key order,
    escapes) have one digest, so a copy re-encoded by someone on the way cannot
    pass for another envelope under the same `msg_id`. An envelope as sealed is
    already canonical: its digest is that of its bytes. Bytes that are no
    envelope are hashed as they are (surrounding whitespace ignored).
    """
    try:
        parsed = _parse_wire(wire)
    except EnvelopeRejected:
        return hashlib.sha256(wire.strip()).hexdigest()
    return _canonical_digest(parsed)


def _canonical_digest(parsed: _Wire) -> str:
    return hashlib.sha256(encode_wire(parsed.header_bytes, parsed.ct, parsed.sig)).hexdigest()


def seal(
    plaintext: bytes,
    *,
    sender: Party,
    recipient: Party,
    keyring: KeyRing,
    content_type: str,
    now: datetime,
    msg_id: str | None = None,
) -> bytes:
    """Seal `plaintext` from `sender` (this key ring's party) to `recipient`: one wire line."""
    if Party(sender) is not keyring.me:
        raise KeyError_(f"this key ring holds the private keys of {keyring.me}, not {sender}.")
    sender_key_id, signing_key = keyring.own_signing_key()
    recipient_key_id, recipient_key = keyring.recipient_key(Party(recipient))
    header = Header(
        v=ENVELOPE_VERSION,
        msg_id=new_msg_id() if msg_id is None else check_msg_id(msg_id),
        sender=Party(sender),
        recipient=Party(recipient),
        sender_key_id=sender_key_id,
        recipient_key_id=recipient_key_id,
        sealed_at=format_sealed_at(now),
        content_type=check_content_type(content_type),
    )
    header_bytes = header.canonical()
    inner_sig = signing_key.sign(inner_signing_input(header_bytes, plaintext))
    payload = pack_inner(header_bytes, inner_sig, plaintext)
    ct = HPKE_SUITE.encrypt(payload, recipient_key, info=header_bytes)
    outer_sig = signing_key.sign(outer_signing_input(header_bytes, ct))
    return encode_wire(header_bytes, ct, outer_sig)


def looks_like_envelope(first_line: bytes) -> bool:
    """Whether a line is a sealed envelope (rather than a plain JSON Lines record)."""
    try:
        document = json.loads(first_line)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        return False
    return (
        isinstance(document, dict)
        and set(document) == WIRE_FIELDS
        and isinstance(document["header"], dict)
        and "msg_id" in document["header"]
    )


class _FieldTwice(ValueError):
    """A JSON object of the envelope names a field twice."""


def _refuse_fields_twice(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _FieldTwice
    return document


def _parse_wire(wire: bytes) -> _Wire:
    """The envelope's parts, well-formed: one JSON object, each field once, its formats."""
    try:
        document = json.loads(wire, object_pairs_hook=_refuse_fields_twice)
    except _FieldTwice:
        raise EnvelopeRejected("the envelope names a field twice.") from None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        raise EnvelopeRejected("the envelope is not valid JSON.") from None
    if not isinstance(document, dict) or set(document) != WIRE_FIELDS:
        raise EnvelopeRejected("the envelope does not have exactly header, ct and sig.")
    header = parse_header(document["header"])
    if not isinstance(document["ct"], str) or not isinstance(document["sig"], str):
        raise EnvelopeRejected("the envelope ciphertext or signature is not text.")
    try:
        ct = base64.b64decode(document["ct"], validate=True)
        sig = base64.b64decode(document["sig"], validate=True)
    except binascii.Error:
        raise EnvelopeRejected("the envelope ciphertext or signature is not base64.") from None
    if len(sig) != SIGNATURE_BYTES:
        raise EnvelopeRejected("the envelope signature has the wrong length.")
    return _Wire(header, header.canonical(), ct, sig)


def _verify(key: Ed25519PublicKey, sig: bytes, data: bytes, reason: str) -> None:
    try:
        key.verify(sig, data)
    except InvalidSignature:
        raise EnvelopeRejected(reason) from None


def _check_outer(parsed: _Wire, keyring: KeyRing, now: datetime | None) -> Ed25519PublicKey:
    header = parsed.header
    sender_key = keyring.verifying_key(header.sender_key_id, header.sender, now)
    _verify(
        sender_key,
        parsed.sig,
        outer_signing_input(parsed.header_bytes, parsed.ct),
        "the envelope's outer signature does not verify.",
    )
    return sender_key


def verify_outer(wire: bytes, keyring: KeyRing, *, now: datetime | None = None) -> Header:
    """For relays: check the sender's outer signature without decrypting; the header.

    A revoked key is always refused; with `now`, so is a key past its grace period.
    """
    parsed = _parse_wire(wire)
    _check_outer(parsed, keyring, now)
    return parsed.header


def check_skew(header: Header, now: datetime, max_skew: timedelta | None) -> None:
    """Refuse a header sealed more than `max_skew` before or after `now` (`None`: no window)."""
    if max_skew is not None and abs(now - header.sealed_at_time) > max_skew:
        raise EnvelopeOutsideSkewWindow(
            "the envelope was sealed outside the allowed clock-skew window."
        )


def _decrypt(parsed: _Wire, keyring: KeyRing, now: datetime) -> bytes:
    private_key = keyring.decryption_key(parsed.header.recipient_key_id, now)
    try:
        return HPKE_SUITE.decrypt(parsed.ct, private_key, info=parsed.header_bytes)
    except (InvalidTag, ValueError):
        raise EnvelopeRejected("the envelope could not be decrypted.") from None


def open_envelope(
    wire: bytes,
    *,
    keyring: KeyRing,
    now: datetime,
    max_skew: timedelta | None,
    replay_guard: ReplayGuard | None,
) -> Opened:
    """Check and open an envelope addressed to this key ring's party.

    Checks, in order: well-formed, addressed to me, sender key accepted, outer
    signature, clock skew (only when `max_skew` is given), decryption, inner
    header equal to the outer one, inner signature, and finally replay.
    """
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime.")
    parsed = _parse_wire(wire)
    if parsed.header.recipient is not keyring.me:
        raise EnvelopeRejected(f"the envelope is addressed to another party, not {keyring.me}.")
    sender_key = _check_outer(parsed, keyring, now)
    check_skew(parsed.header, now, max_skew)
    inner_header, inner_sig, plaintext = unpack_inner(_decrypt(parsed, keyring, now))
    if inner_header != parsed.header_bytes:
        raise EnvelopeRejected("the sealed header does not match the envelope header.")
    _verify(
        sender_key,
        inner_sig,
        inner_signing_input(inner_header, plaintext),
        "the envelope's inner signature does not verify.",
    )
    digest = _canonical_digest(parsed)
    verdict = None
    if replay_guard is not None:
        verdict = replay_guard.check_and_record(parsed.header.msg_id, digest)
    return Opened(parsed.header, plaintext, digest, verdict)
