"""The gateway's HTTP server: routes, bearer checks, fault injection, TLS, shutdown.

A `ThreadingHTTPServer` whose handler turns each request into a
`sync.gateway.service.Request`, asks the `Gateway` for a `Reply`, and writes it.
Request lines are logged without their query strings; bodies are never logged.
The server counts the requests each endpoint received, and the requests it
refused for a missing or expired bearer token (`RequestCounts`).
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import chain
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from sync.gateway.faults import BEFORE_WORK, GARBAGE_BODY, Fault, FaultInjector
from sync.gateway.service import Gateway, Reply, Request, error_reply, unauthorized

MAX_BODY_BYTES = 64 * 1024 * 1024
HANDLER_TIMEOUT_SECONDS = 60.0
STOP_POLL_SECONDS = 0.1
BAD_TOKEN = "bad-token"  # noqa: S105 - a counter's name, not a secret
log = logging.getLogger("arms_sync.gateway")

Endpoint = Callable[[Gateway, Request], Reply]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: its name, its handler, whether it needs a token, whether faults may hit it."""

    name: str
    endpoint: Endpoint
    needs_token: bool = True
    faulty: bool = True


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/health"): Route("health", Gateway.health, needs_token=False, faulty=False),
    ("POST", "/oauth/token"): Route("token", Gateway.token, needs_token=False),
    ("GET", "/feed"): Route("feed", Gateway.feed_page),
    ("POST", "/notices"): Route("notices", Gateway.receive_notices),
    ("GET", "/notices"): Route("listing", Gateway.list_notices, faulty=False),
}


class RequestCounts:
    """How many requests each endpoint received, and how many had no valid token; thread-safe."""

    def __init__(self) -> None:
        names = chain((route.name for route in ROUTES.values()), (BAD_TOKEN,))
        self._counts = dict.fromkeys(names, 0)
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        """Count one request under `name` (an endpoint's name or `bad-token`)."""
        with self._lock:
            self._counts[name] += 1

    def summary(self) -> str:
        """`name=count` for each, space-separated, e.g. `health=0 token=1 … bad-token=0`."""
        with self._lock:
            return " ".join(f"{name}={count}" for name, count in self._counts.items())


class GatewayServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its gateway and fault injector."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], gateway: Gateway, faults: FaultInjector | None = None
    ) -> None:
        super().__init__(address, GatewayHandler)
        self.gateway = gateway
        self.faults = faults or FaultInjector()
        self.requests = RequestCounts()

    def handle_error(self, request: object, client_address: object) -> None:
        """Log a failed connection in one line (type only, no traceback, no content)."""
        error = sys.exc_info()[1]
        log.warning("a gateway connection failed (%s)", type(error).__name__)

    @property
    def port(self) -> int:
        """The port actually bound (useful when asked for port 0)."""
        return int(self.server_address[1])


def _log_refusal(method: str, path: str, reply: Reply) -> None:
    """Log an endpoint's refusal with its code and reason, which name no personal data:
    the hub keeps only the code, and points its operator to this log for the reason.
    An expired or missing token (401) is routine and left to the request counts."""
    if reply.status < HTTPStatus.BAD_REQUEST or reply.status == HTTPStatus.UNAUTHORIZED:
        return
    try:
        answer = json.loads(reply.body)
        code, reason = str(answer["error"]), str(answer["reason"])
    except (ValueError, KeyError, TypeError):
        code, reason = "error", "(no reason given)"
    log.warning("%s %s refused: %d %s: %s", method, path, reply.status, code, reason)


class GatewayHandler(BaseHTTPRequestHandler):
    """Moves bytes between one connection and the `Gateway`."""

    server: GatewayServer
    protocol_version = "HTTP/1.1"
    server_version = "arms-sync-gateway"
    sys_version = ""
    timeout = HANDLER_TIMEOUT_SECONDS

    def setup(self) -> None:
        """Finish the TLS handshake in this connection's own thread."""
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def do_GET(self) -> None:
        """Answer a GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """Answer a POST."""
        self._dispatch("POST")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Log requests at debug level, never with query strings."""
        log.debug("%s %s", self.command, urlsplit(self.path).path)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        route = ROUTES.get((method, parts.path))
        if route is None:
            self._write(error_reply(HTTPStatus.NOT_FOUND, "not_found", "No such endpoint."))
            return
        self.server.requests.add(route.name)
        request = Request(
            method=method,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=b"",
        )
        if route.needs_token and not self.server.gateway.authorized(request):
            # Refused before its body is read: no one without a token makes the
            # gateway hold a large body in memory.
            self.server.requests.add(BAD_TOKEN)
            self.close_connection = True
            self._write(unauthorized())
            return
        body = self._read_body()
        if body is None:
            return
        fault = self.server.faults.draw() if route.faulty else None
        if fault in BEFORE_WORK:
            self._write(_fault_reply(fault, self.server.faults.retry_after_seconds))
            return
        reply = route.endpoint(self.server.gateway, replace(request, body=body))
        _log_refusal(method, parts.path, reply)
        self._deliver(reply, fault)

    def _read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length", "0")
        if not length_text.isdigit() or int(length_text) > MAX_BODY_BYTES:
            self.close_connection = True
            self._write(
                error_reply(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    "body_too_large",
                    "The request body is missing a valid length or is too large.",
                )
            )
            return None
        return self.rfile.read(int(length_text))

    def _deliver(self, reply: Reply, fault: Fault | None) -> None:
        if fault is Fault.SLOW:
            time.sleep(self.server.faults.delay_seconds)
        if fault is Fault.DROP:
            self._drop()
            return
        if fault is Fault.GARBAGE:
            reply = Reply(HTTPStatus.OK, GARBAGE_BODY)
        self._write(reply)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            log.debug("connection already closed before the injected drop")

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


def _fault_reply(fault: Fault | None, retry_after_seconds: int) -> Reply:
    if fault is Fault.UNAVAILABLE:
        return error_reply(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "unavailable",
            "The gateway is busy; try again later.",
            (("Retry-After", str(retry_after_seconds)),),
        )
    return error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "The gateway failed.")


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or later) from a certificate chain and its key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert_file, keyfile=key_file)
    return context


def build_server(
    gateway: Gateway,
    *,
    host: str,
    port: int,
    faults: FaultInjector | None = None,
    tls: ssl.SSLContext | None = None,
) -> GatewayServer:
    """A bound (not yet serving) gateway server; TLS when a context is given."""
    server = GatewayServer((host, port), gateway, faults)
    if tls is not None:
        server.socket = tls.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
    return server


def serve_until(server: GatewayServer, stop: threading.Event) -> None:
    """Serve on a background thread until `stop` is set, then shut down cleanly.

    The main thread polls `stop` rather than blocking on it, so a signal handler
    that sets it never waits for a lock the main thread holds.
    """
    worker = threading.Thread(target=server.serve_forever, name="gateway-http", daemon=True)
    worker.start()
    try:
        while not stop.is_set():
            time.sleep(STOP_POLL_SECONDS)
    finally:
        server.shutdown()
        worker.join()
        server.server_close()
