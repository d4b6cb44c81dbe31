"""The hub's gateway clients: built from settings on first use, kept and closed by the `App`.

A `GatewayClient` holds an HTTP session (its connection pool) and the bearer
token it fetched; a client serves one thread. `GatewayClients` keeps one
client per (thread, agency, base URL) in a dict keyed by the thread's id,
under a lock, so the tasks and cycles of one process reuse the connection and
the token (a token is fetched again once it expires, or after a 401), and two
threads never share a session. The `App` owns it: callers use the clients
they are given and never close them; `App.close` closes them all.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sync.errors import ConfigurationError
from sync.settings import Settings

if TYPE_CHECKING:
    from sync.crypto.keys import KeyRing
    from sync.gateway.client import GatewayClient

ClientKey = tuple[int, str, str]
Builder = Callable[[str, str], "GatewayClient"]


def build_gateway_client(
    settings: Settings, keyring: Callable[[], KeyRing], base_url: str, agency: str
) -> GatewayClient:
    """A new client for one agency's gateway, configured from settings.

    Refused with one sentence when the URL is plain http off this machine
    (unless allowed) or no client secret is configured.
    """
    from sync.gateway.client import GatewayClient
    from sync.gateway.retry import RetryPolicy

    check_gateway_url(settings, base_url)
    client_id, client_secret = settings.gateway_credentials(agency)
    if client_secret is None:
        raise ConfigurationError(
            f"Gateway access needs a client secret: set ARMS_SYNC_{agency.upper()}_GATEWAY_"
            "CLIENT_SECRET, or ARMS_SYNC_GATEWAY_CLIENT_SECRET for both gateways."
        )
    return GatewayClient(
        base_url,
        agency=agency,
        client_id=client_id,
        client_secret=client_secret.get_secret_value(),
        keyring=keyring(),
        timeout=(settings.http_timeout_seconds, settings.http_timeout_seconds),
        retry=RetryPolicy(
            max_attempts=settings.gateway_retry_attempts,
            base_delay=settings.gateway_retry_base_seconds,
            max_delay=settings.gateway_retry_max_seconds,
        ),
        ca_bundle=settings.gateway_ca_bundle,
        deadline=settings.http_deadline_seconds,
        max_body_bytes=settings.gateway_max_response_bytes,
    )


def check_gateway_url(settings: Settings, base_url: str) -> None:
    """Refuse, in one sentence, a gateway URL no client may be built for.

    It must name a host, hold no user name or password, and use https off
    this machine (unless plain http is allowed). Checked before a distributed
    cycle stores its sources, and when a worker or beat starts, as well as
    when a client is built.
    """
    require_a_host(base_url)
    require_no_credentials(base_url)
    if not settings.gateway_allow_plain_http:
        require_tls_off_this_machine(base_url)


def require_no_credentials(base_url: str) -> None:
    """Refuse a gateway URL holding `user:password@` (or a user name alone).

    A URL is shown by `ps` while a command runs, kept in shell histories and
    stored with a distributed cycle; the hub's credentials belong in the
    environment. The message does not repeat the URL.
    """
    if "@" in urlsplit(base_url).netloc:
        raise ConfigurationError(
            "A gateway URL must not hold a user name or password: give https://HOST[:PORT] "
            "and put the hub's client secret in ARMS_SYNC_GATEWAY_CLIENT_SECRET or the "
            "agency's ARMS_SYNC_<AGENCY>_GATEWAY_CLIENT_SECRET."
        )


def require_a_host(base_url: str) -> None:
    """Refuse a gateway URL that names no host or has a malformed host or port.

    The message does not repeat the URL, which may hold credentials.
    """
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as error:
        raise ConfigurationError(
            "A gateway URL is not a valid URL: check its host and port."
        ) from error
    if not parts.hostname:
        raise ConfigurationError("A gateway URL names no host: give https://HOST[:PORT].")


def require_tls_off_this_machine(base_url: str) -> None:
    """Refuse a plain `http://` gateway URL unless the gateway runs on this machine.

    The client secret and bearer tokens must never cross a network in clear.
    """
    parts = urlsplit(base_url)
    if parts.scheme == "http" and not _is_this_machine(parts.hostname or ""):
        raise ConfigurationError(
            "A gateway off this machine must be reached over https (plain http is "
            "allowed only for 127.0.0.1, ::1 or localhost, or with "
            "ARMS_SYNC_GATEWAY_ALLOW_PLAIN_HTTP on a private test network)."
        )


def _is_this_machine(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _this_thread() -> int:
    """The calling thread's id, its thread registered so `threading.enumerate` lists it."""
    threading.current_thread()  # a thread not started by `threading` gets a record here
    return threading.get_ident()


class GatewayClients:
    """One client per (agency, base URL) per thread, built on first use; thread-safe.

    Clients are kept in a dict keyed by (thread id, agency, base URL) under a
    lock (not a `threading.local`, so `close` reaches every thread's clients).
    When a new client is built, the clients of threads that have ended are
    closed and dropped; a new thread that gets an ended thread's id may reuse
    that thread's client, which no one else uses any more.
    """

    def __init__(self, build: Builder) -> None:
        self._build = build
        self._clients: dict[ClientKey, GatewayClient] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str, agency: str) -> GatewayClient:
        """This thread's client for an agency's gateway (built now if it has none)."""
        key = (_this_thread(), agency, base_url.rstrip("/"))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._build(key[2], agency)
                self._close_ended_threads()
                self._clients[key] = client
        return client

    def close(self) -> None:
        """Close every client (its HTTP session); a later `get` builds afresh."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _close_ended_threads(self) -> None:
        """Close and drop the clients of threads that have ended (lock held)."""
        alive = {thread.ident for thread in threading.enumerate()}
        ended = [key for key in self._clients if key[0] not in alive]
        for key in ended:
            self._clients.pop(key).close()


def gateway_host_port(url: str) -> str:
    """A gateway's host and port as its URL writes them (never credentials or a path).

    How the hub names a gateway in progress lines, errors, the audit log, its
    cursor key and the dead-letter listing.
    """
    return urlsplit(url).netloc.rpartition("@")[2]
