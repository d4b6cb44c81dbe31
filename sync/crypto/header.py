"""The envelope header: its fields, canonical bytes, and strict parsing.

The canonical form is JSON with sorted keys and no spaces, ASCII only. It is
what both signatures cover and what HPKE binds through `info`, so any change to
a header field breaks decryption and both signatures.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sync.crypto.keys import Party
from sync.errors import EnvelopeRejected

ENVELOPE_VERSION = 1
MSG_ID_BYTES = 16
MAX_CONTENT_TYPE_LENGTH = 200
SEALED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CONTENT_TYPE_FEED = "application/x-ndjson; profile=feed-v1"
CONTENT_TYPE_NOTICES = "application/json; profile=notice-batch"

HEADER_FIELDS = frozenset(
    {
        "v",
        "msg_id",
        "sender",
        "recipient",
        "sender_key_id",
        "recipient_key_id",
        "sealed_at",
        "content_type",
    }
)
# Matched whole (`fullmatch`): `$` alone would also let a trailing newline through.
_MSG_ID_RE = re.compile(r"[0-9a-f]{32}")
_KEY_ID_RE = re.compile(r"[0-9a-f]{32}")
_SEALED_AT_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_CONTENT_TYPE_RE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class Header:
    """The envelope header, as sealed and as signed."""

    v: int
    msg_id: str
    sender: Party
    recipient: Party
    sender_key_id: str
    recipient_key_id: str
    sealed_at: str
    content_type: str

    @property
    def sealed_at_time(self) -> datetime:
        """`sealed_at` as an aware UTC datetime."""
        return datetime.strptime(self.sealed_at, SEALED_AT_FORMAT).replace(tzinfo=UTC)

    def to_json(self) -> dict[str, Any]:
        """The header as a JSON object (parties as their names)."""
        document = asdict(self)
        document["sender"] = self.sender.value
        document["recipient"] = self.recipient.value
        return document

    def canonical(self) -> bytes:
        """Canonical bytes: JSON, sorted keys, no spaces, ASCII."""
        return canonical_json(self.to_json())


def canonical_json(document: dict[str, Any]) -> bytes:
    """JSON with sorted keys and no whitespace, ASCII-escaped."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def new_msg_id() -> str:
    """A random 128-bit message id, as lower-case hex."""
    return secrets.token_hex(MSG_ID_BYTES)


def is_sealed_at(text: str) -> bool:
    """Whether `text` is a real moment written as `format_sealed_at` writes it (UTC, seconds)."""
    if _SEALED_AT_RE.fullmatch(text) is None:
        return False
    try:
        datetime.strptime(text, SEALED_AT_FORMAT)
    except ValueError:
        return False
    return True


def format_sealed_at(now: datetime) -> str:
    """RFC 3339 UTC timestamp to the second, e.g. `2026-11-28T10:15:30Z`."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime.")
    return now.astimezone(UTC).strftime(SEALED_AT_FORMAT)


def check_msg_id(msg_id: str) -> str:
    """The message id itself when it is 32 lower-case hex digits."""
    if _MSG_ID_RE.fullmatch(msg_id) is None:
        raise ValueError("msg_id must be 32 lower-case hex digits.")
    return msg_id


def check_content_type(content_type: str) -> str:
    """The content type itself when it is short printable ASCII."""
    if len(content_type) > MAX_CONTENT_TYPE_LENGTH or not _CONTENT_TYPE_RE.fullmatch(content_type):
        raise ValueError("content_type must be printable ASCII of reasonable length.")
    return content_type


def parse_header(document: object) -> Header:
    """A `Header` from its JSON object, or `EnvelopeRejected` when any field is off."""
    if not isinstance(document, dict) or set(document) != HEADER_FIELDS:
        raise EnvelopeRejected("the envelope header does not have exactly the expected fields.")
    if type(document["v"]) is not int or document["v"] != ENVELOPE_VERSION:  # not 1.0, not true
        raise EnvelopeRejected("the envelope version is not supported.")
    text_fields = HEADER_FIELDS - {"v"}
    if not all(isinstance(document[name], str) for name in text_fields):
        raise EnvelopeRejected("the envelope header has a field that is not text.")
    _require(_MSG_ID_RE.fullmatch(document["msg_id"]) is not None, "msg_id")
    _require(_KEY_ID_RE.fullmatch(document["sender_key_id"]) is not None, "sender_key_id")
    _require(_KEY_ID_RE.fullmatch(document["recipient_key_id"]) is not None, "recipient_key_id")
    _require(_SEALED_AT_RE.fullmatch(document["sealed_at"]) is not None, "sealed_at")
    _require(_is_content_type(document["content_type"]), "content_type")
    try:
        header = Header(
            v=ENVELOPE_VERSION,
            msg_id=document["msg_id"],
            sender=Party(document["sender"]),
            recipient=Party(document["recipient"]),
            sender_key_id=document["sender_key_id"],
            recipient_key_id=document["recipient_key_id"],
            sealed_at=document["sealed_at"],
            content_type=document["content_type"],
        )
        header.sealed_at_time  # noqa: B018 - validates the calendar date
    except ValueError:
        raise EnvelopeRejected("the envelope header names an unknown party or date.") from None
    return header


def _is_content_type(value: str) -> bool:
    return len(value) <= MAX_CONTENT_TYPE_LENGTH and _CONTENT_TYPE_RE.fullmatch(value) is not None


def _require(condition: bool, field_name: str) -> None:
    if not condition:
        raise EnvelopeRejected(f"the envelope header field {field_name} is malformed.")
