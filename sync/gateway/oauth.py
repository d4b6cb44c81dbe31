"""OAuth2 client credentials for the gateway: check the client, issue short-lived tokens.

One configured client (id and secret from options or the environment). Tokens
are random, live `ttl_seconds`, and are kept in memory only as SHA-256 hashes,
so a restart revokes them all and clients fetch a new one on their next 401.
HTTP Basic credentials are form-urlencoded (UTF-8) before Basic encoding, as
RFC 6749 section 2.3.1 asks: `basic_authorization` writes them so (the hub's
client) and `client_credentials` reads them so (the gateway).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus

DEFAULT_TOKEN_TTL_SECONDS = 300
TOKEN_BYTES = 32
GRANT_TYPE = "client_credentials"
BASIC_PREFIX = "basic "
BEARER_PREFIX = "bearer "


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A bearer token just issued, and how many seconds it lives."""

    access_token: str
    expires_in: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _same(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))


class TokenIssuer:
    """Checks client credentials and issues and checks bearer tokens; thread-safe."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("the gateway needs a client id and a client secret.")
        self._client_id = client_id
        self._client_secret = client_secret
        self._ttl = ttl_seconds
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, client_secret: str) -> IssuedToken | None:
        """A new token for the configured client, or `None` when the credentials are wrong."""
        right_id = _same(client_id, self._client_id)
        right_secret = _same(client_secret, self._client_secret)
        if not (right_id and right_secret):
            return None
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        with self._lock:
            self._expiry = {key: end for key, end in self._expiry.items() if end > now}
            self._expiry[_hash(token)] = now + self._ttl
        return IssuedToken(token, self._ttl)

    def is_valid(self, token: str | None) -> bool:
        """Whether `token` was issued here and has not expired."""
        if not token:
            return False
        with self._lock:
            end = self._expiry.get(_hash(token))
        return end is not None and end > self._clock()


def client_credentials(
    form: Mapping[str, str], authorization: str | None
) -> tuple[str, str] | None:
    """(client_id, client_secret) from HTTP Basic, else from the form; `None` when absent."""
    if authorization and authorization.lower().startswith(BASIC_PREFIX):
        return _basic_credentials(authorization[len(BASIC_PREFIX) :].strip())
    client_id = form.get("client_id")
    client_secret = form.get("client_secret")
    if client_id is None or client_secret is None:
        return None
    return client_id, client_secret


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The `Authorization` header value for HTTP Basic client credentials (RFC 6749 2.3.1).

    Each part is form-urlencoded (UTF-8, space as `+`) before the two are
    joined by a colon and base64-encoded, so `+`, `%`, `:` and any other
    character arrive as they are.
    """
    joined = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(joined.encode("ascii")).decode("ascii")


def _basic_credentials(encoded: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        return None
    return unquote_plus(client_id), unquote_plus(client_secret)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or `None`."""
    if not authorization or not authorization.lower().startswith(BEARER_PREFIX):
        return None
    return authorization[len(BEARER_PREFIX) :].strip() or None
