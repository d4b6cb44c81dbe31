"""The hub's client for one agency gateway: tokens, feed pages, notice delivery.

One `requests.Session` per client, explicit (connect, read) timeouts, TLS
verification on (with an optional CA bundle). A body is read in chunks under
two more limits: a deadline for the whole attempt (a gateway trickling bytes
slower than the read timeout is cut off, and the attempt counts as failed for
now) and a size cap (a body over it, decompressed, is a refusal: it is not read
into memory, and retrying would not change it). Transient failures are retried
with exponential backoff and full jitter, never sooner than `Retry-After`:

- retryable: connection errors, timeouts, broken chunked bodies, HTTP 429,
  500, 502, 503, 504, and bodies that cannot be decoded;
- permanent (`PermanentGatewayError`): TLS verification failures, any other
  4xx, a second 401 after a fresh token, a receipt that does not verify or does
  not match the envelope delivered.

When the attempts run out the call raises `RetryableGatewayError`: the caller
keeps the notice (or the cursor) and tries again later. A `Retry-After` longer
than the policy's `max_delay` is not waited out inside the call: the call
ends at once with `RetryAfterError`, which carries the wait (as does the error
of attempts that ran out on a `Retry-After`), and the caller tries again no
sooner. A client serves one thread. The hub's clients are built and
kept by the `App` (`sync/gateway_clients.py`): one per gateway per thread, for
the process's life, so the bearer token is fetched again only when it is
about to expire or the gateway answers 401. Log lines and errors name the
agency, endpoint and failure kind, never content. A refusal's error (and a
call given up on a 429 or 5xx) carries the HTTP status and the gateway's error
code when it is a plain word, never the gateway's own sentence: remote free
text may name anyone, and errors reach logs, task results and the ledger.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import requests
import urllib3

from sync.crypto.envelope import wire_digest
from sync.crypto.header import parse_header
from sync.crypto.keys import KeyRing, Party
from sync.errors import (
    ENVELOPE_REJECTED_CODE,
    STALE_ENVELOPE_CODE,
    EnvelopeRefusedError,
    EnvelopeRejected,
    GatewayTLSError,
    PermanentGatewayError,
    RetryableGatewayError,
    RetryAfterError,
    StaleEnvelopeError,
)
from sync.gateway.oauth import basic_authorization
from sync.gateway.receipt import Receipt, signed_receipt_fields, verify_receipt
from sync.gateway.retry import (
    RetryPolicy,
    next_delay,
    parse_retry_after,
    utc_now,
    waits_too_long,
)
from sync.gateway.tls import tls_failure
from sync.settings import (
    DEFAULT_GATEWAY_MAX_RESPONSE_BYTES,
    DEFAULT_HTTP_DEADLINE_SECONDS,
    DEFAULT_HTTP_TIMEOUT_SECONDS,
)
from sync.wording import counted

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a secret
FEED_PATH = "/feed"
NOTICES_PATH = "/notices"
# Connect and read, each the settings' `http_timeout_seconds` by default.
DEFAULT_TIMEOUT = (DEFAULT_HTTP_TIMEOUT_SECONDS, DEFAULT_HTTP_TIMEOUT_SECONDS)
BODY_CHUNK_BYTES = 64 * 1024
TOKEN_REFRESH_MARGIN_SECONDS = 10.0
RETRYABLE_STATUSES = frozenset(
    {
        HTTPStatus.TOO_MANY_REQUESTS,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        HTTPStatus.BAD_GATEWAY,
        HTTPStatus.SERVICE_UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT,
    }
)
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# What reading a streamed body may fail with: requests' errors and urllib3's own.
BODY_ERRORS: tuple[type[Exception], ...] = (*RETRYABLE_ERRORS, urllib3.exceptions.HTTPError)
ENVELOPE_CONTENT_TYPE = "application/json"
MAX_ERROR_CODE_LENGTH = 40
# The most of a retryable answer's body read for its code and sentence (they are short).
MAX_ERROR_BODY_BYTES = 64 * 1024

log = logging.getLogger("arms_sync.gateway.client")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of a feed: its sealed envelope (or `None` when empty) and the next cursor."""

    envelope: bytes | None
    next: str
    more: bool


class _TransientError(Exception):
    """A failure worth retrying, with the server's `Retry-After` when it gave one."""

    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after


class _UnauthorizedError(Exception):
    """The gateway answered 401."""


def _error_code(body: bytes) -> str:
    """The reply's `error` code when it is a plain word (shortened), else ""."""
    try:
        code = json.loads(body).get("error")
    except (ValueError, RecursionError, AttributeError):
        return ""
    if isinstance(code, str) and code.replace("_", "").isalpha():
        return code[:MAX_ERROR_CODE_LENGTH]
    return ""


def _credentials_refused(agency: str) -> str:
    """That `agency`'s gateway refused the hub's client id and secret, and where they are set."""
    own = f"ARMS_SYNC_{agency.upper()}_GATEWAY_CLIENT_"
    return (
        f"the {agency} gateway refused the client credentials; check the hub's client id and "
        f"secret for it ({own}ID and {own}SECRET, else ARMS_SYNC_GATEWAY_CLIENT_ID and "
        "ARMS_SYNC_GATEWAY_CLIENT_SECRET)."
    )


def _parse_page(document: dict[str, Any]) -> FeedPage:
    envelope, cursor, more = document.get("envelope"), document.get("next"), document.get("more")
    if not isinstance(cursor, str) or not isinstance(more, bool):
        raise _TransientError("malformed page")
    if envelope is not None and not isinstance(envelope, str):
        raise _TransientError("malformed page")
    return FeedPage(None if envelope is None else envelope.encode("ascii"), cursor, more)


def _parse_receipt(document: dict[str, Any]) -> dict[str, Any]:
    try:
        signed_receipt_fields(document)
    except ValueError:
        raise _TransientError("malformed receipt") from None
    return document


def _parse_listing(document: dict[str, Any]) -> list[dict[str, Any]]:
    notices = document.get("notices")
    if not isinstance(notices, list) or not all(isinstance(row, dict) for row in notices):
        raise _TransientError("malformed listing")
    return notices


def _parse_token(document: dict[str, Any]) -> tuple[str, float]:
    token, expires_in = document.get("access_token"), document.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(expires_in, int):
        raise _TransientError("malformed token")
    return token, float(expires_in)


def envelope_msg_id(envelope: bytes) -> str:
    """The `msg_id` in an envelope's header, or `PermanentGatewayError`."""
    try:
        return parse_header(json.loads(envelope)["header"]).msg_id
    except (ValueError, TypeError, KeyError, EnvelopeRejected):
        raise PermanentGatewayError("the notice to deliver is not a sealed envelope.") from None


class GatewayClient:
    """Talks to one agency gateway over HTTP(S) with retries; one per gateway per thread."""

    def __init__(
        self,
        base_url: str,
        *,
        agency: Party | str,
        client_id: str,
        client_secret: str,
        keyring: KeyRing,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ca_bundle: str | Path | None = None,
        rand: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
        deadline: float = DEFAULT_HTTP_DEADLINE_SECONDS,
        max_body_bytes: int = DEFAULT_GATEWAY_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.agency = Party(agency)
        self._basic = basic_authorization(client_id, client_secret)
        self._keyring = keyring
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        # Passed on every request too: requests lets REQUESTS_CA_BUNDLE override session.verify.
        self._verify: str | bool = str(ca_bundle) if ca_bundle is not None else True
        self._session.verify = self._verify
        self._sleep = sleep
        self._rand = rand
        self._monotonic = monotonic
        self._token: str | None = None
        self._token_expires = 0.0
        self._deadline = deadline
        self._max_body_bytes = max_body_bytes

    @property
    def keyring(self) -> KeyRing:
        """The hub's key ring: receipts are verified, and pages opened, with it."""
        return self._keyring

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def fetch_page(self, since: str | None, limit: int) -> FeedPage:
        """The page after cursor `since` (`None` for the first page), up to `limit` records."""
        params: dict[str, str | int] = {"limit": limit}
        if since is not None:
            params["since"] = since
        return self._call("GET", FEED_PATH, _parse_page, params=params)

    def pages(self, since: str | None, limit: int) -> Iterator[FeedPage]:
        """Every page from cursor `since` on; store each page's `next` before asking for more.

        A page with more to come whose cursor this pull has already asked from
        (the same one again, or one before it) would be pulled for ever, each
        copy a fresh envelope the replay guard cannot tell apart: the pull
        stops with `PermanentGatewayError` after that page, so the other
        agency's work goes on.
        """
        asked: set[str | None] = set()
        while True:
            asked.add(since)
            page = self.fetch_page(since, limit)
            yield page
            if not page.more:
                return
            if page.next in asked:
                raise PermanentGatewayError(
                    f"the {self.agency} gateway's feed cursor did not move on: it offered "
                    "more pages from a cursor this pull had already read from."
                )
            since = page.next

    def deliver(self, envelope: bytes) -> Receipt:
        """Deliver one sealed notice batch; the verified receipt that matches it."""
        wire = envelope.strip()
        msg_id = envelope_msg_id(wire)
        document = self._call("POST", NOTICES_PATH, _parse_receipt, body=wire)
        receipt = verify_receipt(document, keyring=self._keyring, agency=self.agency, now=utc_now())
        if receipt.msg_id != msg_id or receipt.digest != wire_digest(wire):
            raise PermanentGatewayError(
                f"the {self.agency} gateway's receipt does not match the delivered envelope."
            )
        return receipt

    def received_notices(self, after: int = 0) -> list[dict[str, Any]]:
        """The notice batches the gateway has stored after sequence number `after` (inspection)."""
        return self._call("GET", NOTICES_PATH, _parse_listing, params={"after": after})

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[dict[str, Any]], T],
        *,
        params: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
    ) -> T:
        refreshed = False
        failures = 0
        while True:
            try:
                headers = {"Authorization": f"Bearer {self._bearer()}"}
                return parse(self._attempt(method, path, headers, params, body))
            except _UnauthorizedError:
                if refreshed:
                    raise self._refused(HTTPStatus.UNAUTHORIZED, "") from None
                refreshed = True
                self._token = None
            except _TransientError as transient:
                failures += 1
                self._wait_or_give_up(method, path, transient, failures)

    def _wait_or_give_up(
        self, method: str, path: str, transient: _TransientError, failures: int
    ) -> None:
        wait = transient.retry_after
        if waits_too_long(self._retry, wait):
            raise self._asked_to_wait(method, path, transient, "longer than a call waits")
        if failures >= self._retry.max_attempts:
            tries = counted(failures, "attempt")
            if wait is not None:
                raise self._asked_to_wait(method, path, transient, f"after {tries}")
            raise RetryableGatewayError(
                f"the {self.agency} gateway did not answer {method} {path} after "
                f"{tries} (last: {transient.kind})."
            )
        delay = next_delay(self._retry, failures, self._rand(), wait)
        log.warning(
            "%s gateway: %s %s failed (%s); retry %d in %.2f s",
            self.agency,
            method,
            path,
            transient.kind,
            failures,
            delay,
        )
        self._sleep(delay)

    def _asked_to_wait(
        self, method: str, path: str, transient: _TransientError, when: str
    ) -> RetryAfterError:
        """The call given up on a `Retry-After`: the error carries the wait asked for."""
        wait = transient.retry_after or 0.0
        return RetryAfterError(
            f"the {self.agency} gateway asked to wait {wait:.0f} s before {method} {path} "
            f"is tried again ({transient.kind}, {when}).",
            wait,
        )

    def _bearer(self) -> str:
        if self._token is None or self._monotonic() >= self._token_expires:
            self._token, lifetime = self._fetch_token()
            self._token_expires = self._monotonic() + lifetime - TOKEN_REFRESH_MARGIN_SECONDS
        return self._token

    def _fetch_token(self) -> tuple[str, float]:
        failures = 0
        form = {"grant_type": "client_credentials"}
        headers = {"Authorization": self._basic}
        while True:
            try:
                document = self._attempt("POST", TOKEN_PATH, headers, None, None, form=form)
                return _parse_token(document)
            except _UnauthorizedError:
                raise PermanentGatewayError(_credentials_refused(str(self.agency))) from None
            except _TransientError as transient:
                failures += 1
                self._wait_or_give_up("POST", TOKEN_PATH, transient, failures)

    def _attempt(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: Mapping[str, str | int] | None,
        body: bytes | None,
        *,
        form: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        if body is not None:
            headers = {**headers, "Content-Type": ENVELOPE_CONTENT_TYPE}
        started = self._monotonic()
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=form if form is not None else body,
                headers=headers,
                timeout=self._timeout,
                verify=self._verify,
                stream=True,
                # A redirect could lead off the gateway, or to plain HTTP: never followed.
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as error:
            raise GatewayTLSError(tls_failure(str(self.agency), error)) from None
        except RETRYABLE_ERRORS as error:
            raise _TransientError(type(error).__name__) from None
        with response:
            return self._decode(response, started, f"{method} {path}")

    def _decode(self, response: requests.Response, started: float, call: str) -> dict[str, Any]:
        status = response.status_code
        if status == HTTPStatus.UNAUTHORIZED:
            raise _UnauthorizedError
        if status in RETRYABLE_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), utc_now())
            body = self._error_body(response, started)
            code = _error_code(body)
            kind = f"HTTP {status} {code}" if code else f"HTTP {status}"
            raise _TransientError(kind, retry_after)
        if HTTPStatus.MULTIPLE_CHOICES <= status < HTTPStatus.BAD_REQUEST:
            raise PermanentGatewayError(
                f"the {self.agency} gateway answered {call} with a redirect (HTTP {status}), "
                "which is not followed: check its URL."
            )
        body = self._read_body(response, started, call)
        if status >= HTTPStatus.BAD_REQUEST:
            raise self._refused(status, _error_code(body))
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
            raise _TransientError("undecodable body") from None
        if not isinstance(document, dict):
            raise _TransientError("undecodable body")
        return document

    def _read_body(
        self, response: requests.Response, started: float, call: str, cap: int | None = None
    ) -> bytes:
        """The body, read in chunks within the attempt's deadline and the size cap (`cap`,
        else the client's)."""
        limit = self._max_body_bytes if cap is None else cap
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in _arriving(response):
                size += len(chunk)
                if size > limit:
                    raise self._too_large(call)
                if self._monotonic() - started > self._deadline:
                    raise _TransientError("body too slow")
                chunks.append(chunk)
        except BODY_ERRORS as error:
            raise _TransientError(type(error).__name__) from None
        return b"".join(chunks)

    def _error_body(self, response: requests.Response, started: float) -> bytes:
        """The start of a retryable answer's body, for its error code; b"" if it
        is longer than `MAX_ERROR_BODY_BYTES`, slow or broken (the answer is retried anyway)."""
        try:
            return self._read_body(response, started, "", MAX_ERROR_BODY_BYTES)
        except (_TransientError, PermanentGatewayError):
            return b""

    def _too_large(self, call: str) -> PermanentGatewayError:
        return PermanentGatewayError(
            f"the {self.agency} gateway answered {call} with a body over "
            f"{self._max_body_bytes} bytes (ARMS_SYNC_GATEWAY_MAX_RESPONSE_BYTES)."
        )

    def _refused(self, status: int, code: str) -> PermanentGatewayError:
        """The refusal's error: the HTTP status and the gateway's error code."""
        if code == STALE_ENVELOPE_CODE:
            return StaleEnvelopeError(
                f"the {self.agency} gateway refused an envelope sealed too long ago."
            )
        named = f" ({code})" if code else ""
        if code == ENVELOPE_REJECTED_CODE:
            return EnvelopeRefusedError(
                f"the {self.agency} gateway refused the envelope with HTTP {status}{named}."
            )
        return PermanentGatewayError(
            f"the {self.agency} gateway refused the request with HTTP {status}{named}."
        )


def _arriving(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, decompressed: each read returns what one socket read gave.

    (`iter_content` waits for a whole chunk, so a trickle would never reach the
    deadline check.)
    """
    raw = response.raw
    while chunk := raw.read1(BODY_CHUNK_BYTES, decode_content=True):
        yield chunk
