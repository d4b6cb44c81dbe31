"""Signed delivery receipts: what a gateway answers for a notice batch it stored.

The receipt body is canonical JSON `{"agency","digest","msg_id","received_at"}`
(`digest` is SHA-256 of the envelope in its canonical encoding, `wire_digest`:
a re-encoded copy of an envelope has the digest of the original). The gateway signs
`RECEIPT_TAG ‖ body` with its agency's active Ed25519 key. On the wire, and as
kept by the hub, a signed receipt is canonical JSON of three fields:
`{"key_id": …, "receipt": "<body text>", "sig": "<base64 signature>"}`.
The domain tag keeps a receipt signature from ever passing as an envelope one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.crypto.header import canonical_json, is_sealed_at
from sync.crypto.keys import KeyRing, Party
from sync.errors import KeyError_, PermanentGatewayError

RECEIPT_TAG = b"arms-sync/receipt/v1\x00"
RECEIPT_FIELDS = frozenset({"agency", "digest", "msg_id", "received_at"})
SIGNED_FIELDS = frozenset({"key_id", "receipt", "sig"})
_HEX_64 = re.compile(r"[0-9a-f]{64}")  # matched whole (`fullmatch`)
_HEX_32 = re.compile(r"[0-9a-f]{32}")


class MalformedReceipt(ValueError):
    """A receipt document not of the documented shape; its message is fixed text."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified receipt: which envelope the gateway stored, when, and the signed bytes."""

    msg_id: str
    digest: str
    received_at: str
    raw: bytes


def sign_receipt(keyring: KeyRing, *, msg_id: str, digest: str, received_at: str) -> bytes:
    """The signed receipt (canonical JSON bytes) for one stored envelope."""
    body = canonical_json(
        {
            "agency": keyring.me.value,
            "digest": digest,
            "msg_id": msg_id,
            "received_at": received_at,
        }
    )
    key_id, signing_key = keyring.own_signing_key()
    signature = signing_key.sign(RECEIPT_TAG + body)
    return canonical_json(
        {
            "key_id": key_id,
            "receipt": body.decode("ascii"),
            "sig": base64.b64encode(signature).decode("ascii"),
        }
    )


def signed_receipt_fields(document: object) -> dict[str, str]:
    """The three text fields of a signed receipt document, or `MalformedReceipt`."""
    if not isinstance(document, dict) or set(document) != SIGNED_FIELDS:
        raise MalformedReceipt("a signed receipt has exactly key_id, receipt and sig.")
    if not all(isinstance(document[name], str) for name in SIGNED_FIELDS):
        raise MalformedReceipt("a signed receipt's fields are text.")
    return {name: document[name] for name in SIGNED_FIELDS}


def verify_receipt(
    document: dict[str, Any], *, keyring: KeyRing, agency: Party, now: datetime
) -> Receipt:
    """Check a signed receipt from `agency`; `PermanentGatewayError` when it does not verify."""
    try:
        fields = signed_receipt_fields(document)
        signature = base64.b64decode(fields["sig"], validate=True)
        public_key = _receipt_key(fields["key_id"], keyring, Party(agency), now)
        body = fields["receipt"].encode("ascii")
        public_key.verify(signature, RECEIPT_TAG + body)
        receipt = _receipt_body(json.loads(body))
    except (ValueError, InvalidSignature) as refused:
        raise PermanentGatewayError(
            f"the {agency} gateway's receipt does not verify: {_why_refused(refused)}"
        ) from None
    if receipt["agency"] != Party(agency).value:
        raise PermanentGatewayError(f"the {agency} gateway's receipt names another agency.")
    return Receipt(
        msg_id=receipt["msg_id"],
        digest=receipt["digest"],
        received_at=receipt["received_at"],
        raw=canonical_json(dict(fields)),
    )


def _why_refused(refused: Exception) -> str:
    """The reason a receipt was refused, in words of this module's own: never the
    receipt's text, which a decoder's message may quote."""
    if isinstance(refused, InvalidSignature):
        return "its signature does not match its body under the key it names."
    if isinstance(refused, binascii.Error):
        return "its signature is not base64."
    if isinstance(refused, UnicodeEncodeError):
        return "its body is not ASCII text."
    if isinstance(refused, json.JSONDecodeError):
        return "its body is not JSON."
    if isinstance(refused, MalformedReceipt):
        return str(refused)
    return "it is not well formed."


def _receipt_key(key_id: str, keyring: KeyRing, agency: Party, now: datetime) -> Ed25519PublicKey:
    """The agency's public key a receipt names; a refusal naming the key when it is
    not in the ring (import the agency's keys) or not accepted (revoked, past its grace)."""
    if not _HEX_32.fullmatch(key_id):
        raise MalformedReceipt("a receipt's key id is malformed.")
    if not any(info.key_id == key_id for info in keyring.keys):
        raise PermanentGatewayError(
            f"the {agency} gateway's receipt does not verify: it is signed with key {key_id}, "
            f"which this key ring does not hold; import {agency}'s current public keys with "
            f"`arms-sync keys import --party {agency.value} RING`."
        )
    try:
        return keyring.verifying_key(key_id, agency, now)
    except KeyError_ as refused:
        raise PermanentGatewayError(
            f"the {agency} gateway's receipt does not verify: {refused}"
        ) from None


def _receipt_body(document: object) -> dict[str, str]:
    if not isinstance(document, dict) or set(document) != RECEIPT_FIELDS:
        raise MalformedReceipt("a receipt has exactly agency, digest, msg_id and received_at.")
    if not all(isinstance(document[name], str) for name in RECEIPT_FIELDS):
        raise MalformedReceipt("a receipt's fields are text.")
    if not _HEX_32.fullmatch(document["msg_id"]) or not _HEX_64.fullmatch(document["digest"]):
        raise MalformedReceipt("a receipt's msg_id or digest is malformed.")
    if not is_sealed_at(document["received_at"]):
        raise MalformedReceipt("a receipt's received_at is not an RFC 3339 UTC time to the second.")
    return {name: document[name] for name in RECEIPT_FIELDS}
