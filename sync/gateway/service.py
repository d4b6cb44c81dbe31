"""What the gateway does, apart from HTTP: tokens, feed pages, the notices inbox.

`Gateway` answers `Request` values with `Reply` values; `sync.gateway.server`
only moves bytes between sockets and these methods. Every error reply is JSON
`{"error": code, "reason": one sentence}` and never holds personal data.

Each answer that needs keys takes the key ring as it is at that moment: a
`LiveKeyRing` (the `arms-sync gateway` command's) is read again when its files
changed, so a key revoked while the gateway runs is refused from the next
request on. A gateway with no usable signing key of its own answers notices
with 503 `no_signing_key` before it opens anything, and a feed page it cannot
seal with 503 `no_sealing_key`, each with `Retry-After`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from sync.crypto.envelope import Opened, check_skew, open_envelope, seal, wire_digest
from sync.crypto.header import (
    CONTENT_TYPE_FEED,
    CONTENT_TYPE_NOTICES,
    format_sealed_at,
    parse_header,
)
from sync.crypto.keys import KeyRing, Party
from sync.errors import (
    ENVELOPE_REJECTED_CODE,
    EnvelopeOutsideSkewWindow,
    EnvelopeRejected,
    KeyError_,
)
from sync.gateway.feed import START_OFFSET, CursorError, FeedFile, decode_cursor, encode_cursor
from sync.gateway.keys import LiveKeyRing
from sync.gateway.oauth import GRANT_TYPE, TokenIssuer, bearer_token, client_credentials
from sync.gateway.receipt import sign_receipt
from sync.gateway.store import MsgIdConflictError, NewNotice, NoticeStore, StoredNotice

JSON_TYPE = "application/json"
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000
MIN_PAGE_SIZE = 1
DEFAULT_MAX_SKEW_SECONDS = 300
HEALTH_OK = "ok"
NO_SIGNING_KEY_CODE = "no_signing_key"
NO_SEALING_KEY_CODE = "no_sealing_key"
MISSING_KEY_RETRY_AFTER_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the gateway sees it (header names in lower case)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(status: int, document: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """A JSON reply (sorted keys, compact)."""
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, JSON_TYPE, headers)


def error_reply(
    status: int, code: str, reason: str, headers: tuple[tuple[str, str], ...] = ()
) -> Reply:
    """An error reply: a stable code and one sentence, no personal data."""
    return json_reply(status, {"error": code, "reason": reason}, headers)


def unauthorized() -> Reply:
    """401 with the Bearer challenge."""
    return error_reply(
        HTTPStatus.UNAUTHORIZED,
        "invalid_token",
        "A valid bearer token is required.",
        (("WWW-Authenticate", 'Bearer realm="arms-sync-gateway"'),),
    )


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class GatewayConfig:
    """Everything one gateway process serves with."""

    agency: Party
    keyring: KeyRing | LiveKeyRing  # a fixed ring, or one read again when its files change
    feed: FeedFile
    store: NoticeStore
    tokens: TokenIssuer
    page_size: int = DEFAULT_PAGE_SIZE
    max_skew: timedelta = timedelta(seconds=DEFAULT_MAX_SKEW_SECONDS)
    clock: Callable[[], datetime] = _utc_now


class Gateway:
    """The agency gateway's behaviour, one method per endpoint."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config

    def keyring(self) -> KeyRing:
        """The key ring as it is now; `KeyError_` while it cannot be read."""
        keys = self.config.keyring
        return keys.current() if isinstance(keys, LiveKeyRing) else keys

    def authorized(self, request: Request) -> bool:
        """Whether the request carries a live bearer token."""
        return self.config.tokens.is_valid(bearer_token(request.headers.get("authorization")))

    def health(self, request: Request) -> Reply:
        """Liveness and a few counts (no personal data)."""
        return json_reply(
            HTTPStatus.OK,
            {
                "status": HEALTH_OK,
                "agency": self.config.agency.value,
                "records": len(self.config.feed),
                "notices": self.config.store.count(),
            },
        )

    def token(self, request: Request) -> Reply:
        """OAuth2 client-credentials token endpoint (form or HTTP Basic)."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != GRANT_TYPE:
            return error_reply(
                HTTPStatus.BAD_REQUEST,
                "unsupported_grant_type",
                "Only the client_credentials grant is supported.",
            )
        credentials = client_credentials(form, request.headers.get("authorization"))
        issued = None if credentials is None else self.config.tokens.issue(*credentials)
        if issued is None:
            return error_reply(
                HTTPStatus.UNAUTHORIZED,
                "invalid_client",
                "The client credentials are not valid.",
                (("WWW-Authenticate", 'Basic realm="arms-sync-gateway"'),),
            )
        document = {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }
        return json_reply(HTTPStatus.OK, document, (("Cache-Control", "no-store"),))

    def feed_page(self, request: Request) -> Reply:
        """One page of the feed after `since`, sealed to the hub, with the next cursor."""
        try:
            offset = self._offset(request.query.get("since"))
            limit = self._limit(request.query.get("limit"))
            records = self.config.feed.page(offset, limit)
        except CursorError as error:
            return error_reply(HTTPStatus.BAD_REQUEST, "invalid_cursor", _sentence(str(error)))
        except ValueError as error:
            return error_reply(HTTPStatus.BAD_REQUEST, "invalid_limit", _sentence(str(error)))
        if not records:
            document = {"envelope": None, "next": encode_cursor(offset), "more": False}
            return json_reply(HTTPStatus.OK, document)
        next_offset = offset + len(records)
        try:
            wire = seal(
                b"".join(records),
                sender=self.config.agency,
                recipient=Party.HUB,
                keyring=self.keyring(),
                content_type=CONTENT_TYPE_FEED,
                now=self.config.clock(),
            )
        except KeyError_:
            return _missing_key(
                NO_SEALING_KEY_CODE,
                "This gateway cannot seal feed pages: its own signing key or the hub's "
                "encryption key is missing or revoked; its operator must rotate or import keys.",
            )
        document = {
            "envelope": wire.decode("ascii"),
            "next": encode_cursor(next_offset),
            "more": next_offset < len(self.config.feed),
        }
        return json_reply(HTTPStatus.OK, document)

    @staticmethod
    def _offset(since: str | None) -> int:
        return START_OFFSET if not since else decode_cursor(since)

    def _limit(self, raw: str | None) -> int:
        if raw is None:
            return self.config.page_size
        if not raw.isdigit() or not MIN_PAGE_SIZE <= int(raw) <= MAX_PAGE_SIZE:
            raise ValueError(f"the limit must be a whole number from 1 to {MAX_PAGE_SIZE}.")
        return int(raw)

    def receive_notices(self, request: Request) -> Reply:
        """Verify, open and store a sealed notice batch; answer with the signed receipt.

        A gateway that can sign no receipt (its own signing key revoked and not
        yet replaced, its private key file missing, its ring unreadable) answers
        503 `no_signing_key` before it opens or stores anything.
        """
        keyring = self._signing_keyring()
        return _cannot_sign() if keyring is None else self._receive(keyring, request.body)

    def _receive(self, keyring: KeyRing, body: bytes) -> Reply:
        """Open and store a notice batch with `keyring`, which can sign its receipt."""
        wire = body.strip()
        digest = wire_digest(wire)
        try:
            msg_id = parse_header(json.loads(wire)["header"]).msg_id
        except (ValueError, RecursionError, TypeError, KeyError, EnvelopeRejected):
            return _rejected("The body is not a sealed envelope.")
        stored = self.config.store.find(msg_id)
        if stored is not None and hmac.compare_digest(stored.digest, digest):
            return self._receipt_again(keyring, stored)
        now = self.config.clock()
        try:
            opened = open_envelope(wire, keyring=keyring, now=now, max_skew=None, replay_guard=None)
        except (EnvelopeRejected, KeyError_) as error:
            return _rejected(_sentence(str(error)))
        problem = self._notice_problem(opened, now)
        if problem is not None:
            return problem
        if stored is not None:
            return _conflict()
        return self._store(keyring, opened, now)

    def _signing_keyring(self) -> KeyRing | None:
        """The key ring now, if it holds a usable signing key of this agency; else None."""
        try:
            keyring = self.keyring()
            keyring.own_signing_key()
        except KeyError_:
            return None
        return keyring

    def _notice_problem(self, opened: Opened, now: datetime) -> Reply | None:
        header = opened.header
        if header.sender is not Party.HUB or header.content_type != CONTENT_TYPE_NOTICES:
            return _rejected("The envelope is not a notice batch sealed by the hub.")
        try:
            check_skew(header, now, self.config.max_skew)
        except EnvelopeOutsideSkewWindow as stale:
            return error_reply(
                HTTPStatus.BAD_REQUEST,
                stale.code,
                "The envelope was sealed outside the allowed clock-skew window; seal it again.",
            )
        if _json_object(opened.plaintext) is None:
            return _rejected("The notice batch is not a JSON object.")
        return None

    def _receipt_again(self, keyring: KeyRing, stored: StoredNotice) -> Reply:
        """The receipt of a batch stored before: what was issued, signed with today's key.

        The same bytes while the gateway's signing key is unchanged (Ed25519 is
        deterministic); after a rotation the same receipt signed with the new key,
        so a hub that lost the first answer can still verify one once the old key
        is past its grace or revoked.
        """
        receipt = _signed_receipt(keyring, stored.msg_id, stored.digest, stored.received_at)
        return _cannot_sign() if receipt is None else Reply(HTTPStatus.OK, receipt)

    def _store(self, keyring: KeyRing, opened: Opened, now: datetime) -> Reply:
        received_at = format_sealed_at(now)
        receipt = _signed_receipt(keyring, opened.header.msg_id, opened.digest, received_at)
        if receipt is None:
            return _cannot_sign()
        notice = NewNotice(
            msg_id=opened.header.msg_id,
            digest=opened.digest,
            sender=opened.header.sender.value,
            content_type=opened.header.content_type,
            received_at=received_at,
            batch=opened.plaintext.decode("utf-8"),
        )
        try:
            on_file = self.config.store.add(notice, receipt)
        except MsgIdConflictError:
            return _conflict()
        return Reply(HTTPStatus.OK, on_file)

    def list_notices(self, request: Request) -> Reply:
        """Stored notice batches after sequence number `after` (for tests and inspection)."""
        after = request.query.get("after", "0")
        limit = request.query.get("limit", str(MAX_PAGE_SIZE))
        if not after.isdigit() or not limit.isdigit() or int(limit) < MIN_PAGE_SIZE:
            return error_reply(
                HTTPStatus.BAD_REQUEST, "invalid_query", "After and limit must be whole numbers."
            )
        rows = self.config.store.after(int(after), min(int(limit), MAX_PAGE_SIZE))
        last = rows[-1].seq if rows else int(after)
        return json_reply(HTTPStatus.OK, {"notices": [_listed(row) for row in rows], "last": last})


def _signed_receipt(keyring: KeyRing, msg_id: str, digest: str, received_at: str) -> bytes | None:
    """The receipt signed with the gateway's active key; None when it has no usable one."""
    try:
        return sign_receipt(keyring, msg_id=msg_id, digest=digest, received_at=received_at)
    except KeyError_:
        return None


def _listed(row: StoredNotice) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "msg_id": row.msg_id,
        "digest": row.digest,
        "sender": row.sender,
        "content_type": row.content_type,
        "received_at": row.received_at,
        "batch": json.loads(row.batch),
    }


def _json_object(plaintext: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:]


def _rejected(reason: str) -> Reply:
    return error_reply(HTTPStatus.BAD_REQUEST, ENVELOPE_REJECTED_CODE, reason)


def _cannot_sign() -> Reply:
    """503: the gateway holds no usable signing key, so it can give no receipt.

    Nothing is stored; the hub keeps the batch and tries again after
    `Retry-After`, by which time the gateway's operator may have rotated its keys.
    """
    return _missing_key(
        NO_SIGNING_KEY_CODE,
        "This gateway has no usable signing key for receipts; its operator must rotate its keys.",
    )


def _missing_key(code: str, reason: str) -> Reply:
    """503 with `Retry-After`: a key the answer needs is missing until an operator acts."""
    return error_reply(
        HTTPStatus.SERVICE_UNAVAILABLE,
        code,
        reason,
        (("Retry-After", str(MISSING_KEY_RETRY_AFTER_SECONDS)),),
    )


def _conflict() -> Reply:
    return error_reply(
        HTTPStatus.CONFLICT,
        "msg_id_conflict",
        "The message id was already used for a different envelope.",
    )
