"""A real HTTP server on 127.0.0.1 that follows a script, for the gateway client's tests.

Each request the server receives is recorded (method, path, query, body,
headers) and answered by the next step of its script: a reply, a hang-up
with no answer, a body cut short, or an answer later than the client waits.
So a test can give the client answers no well-behaved gateway gives and see
exactly what the client sent. A step may also relay the request to a real
server behind (`Relay`) and send its answer back unchanged. A request beyond
the script is answered 599 and counted in `unscripted`.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

HELD_AT_MOST_SECONDS = 120.0  # a late answer's hold, should a test never stop its gateway


@dataclass(frozen=True)
class Reply:
    """An answer: status, body and headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HangUp:
    """Close the connection without answering."""


@dataclass(frozen=True)
class CutShort:
    """Announce `answer`'s body and 100 bytes more, send the body, close the connection."""

    answer: Reply


@dataclass(frozen=True)
class AnswerLate:
    """Hold `answer` until the gateway stops: later than any client waits, however slow
    the machine (a fixed delay races the client's read timeout under load)."""

    answer: Reply


@dataclass(frozen=True)
class Relay:
    """Send the request on to the server at `upstream` and its answer back, unchanged."""

    upstream: str


Step = Reply | HangUp | CutShort | AnswerLate | Relay
RELAY_TIMEOUT_SECONDS = 30.0
RELAYED_REQUEST_HEADERS = frozenset({"authorization", "content-type", "accept"})
RELAYED_REPLY_HEADERS = frozenset({"content-type", "retry-after"})


def reply(
    status: int,
    document: object = None,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """A reply whose body is `body` as given, else the JSON of `document`."""
    content = body if body is not None else json.dumps(document).encode()
    return Reply(status, content, dict(headers or {}))


@dataclass(frozen=True)
class Call:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]

    @property
    def endpoint(self) -> str:
        """The last part of the path: `token`, `feed`, `notices`."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def authorization(self) -> str | None:
        """The Authorization header, if the request had one."""
        return self.headers.get("Authorization")


class ScriptedGateway:
    """A real HTTP server on 127.0.0.1 answering each request with the next step of a script."""

    def __init__(self, script: list[Step]) -> None:
        self.script = list(script)
        self.calls: list[Call] = []
        self.unscripted = 0
        self.stopping = threading.Event()  # set when the test is done with the gateway
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_of(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def next_step(self, call: Call) -> Step:
        """Record `call` and take the next step of the script (599 past its end)."""
        with self._lock:
            self.calls.append(call)
            if not self.script:
                self.unscripted += 1
                return reply(599, {"error": "unscripted_request"})
            return self.script.pop(0)


def _handler_of(gateway: ScriptedGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            call = Call(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query)),
                self.rfile.read(int(self.headers.get("Content-Length") or 0)),
                dict(self.headers.items()),
            )
            step = gateway.next_step(call)
            with contextlib.suppress(OSError):
                self._perform(step, call)

        def _perform(self, step: Step, call: Call) -> None:
            if isinstance(step, Relay):
                self._send(relayed(step.upstream, call))
            elif isinstance(step, HangUp):
                self.close_connection = True
            elif isinstance(step, CutShort):
                self._send(step.answer, announced_extra=100)
            elif isinstance(step, AnswerLate):
                gateway.stopping.wait(timeout=HELD_AT_MOST_SECONDS)
                self._send(step.answer)
            else:
                self._send(step)

        def _send(self, answer: Reply, announced_extra: int = 0) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body) + announced_extra))
            self.end_headers()
            self.wfile.write(answer.body)
            self.close_connection = True

        def log_message(self, *_: object) -> None:
            return

    return Handler


def relayed(upstream: str, call: Call) -> Reply:
    """The answer of the server at `upstream` to `call`, with the headers a client reads."""
    headers = {k: v for k, v in call.headers.items() if k.lower() in RELAYED_REQUEST_HEADERS}
    response = requests.request(
        call.method,
        upstream + call.path,
        params=call.query,
        data=call.body or None,
        headers=headers,
        timeout=RELAY_TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    kept = {k: v for k, v in response.headers.items() if k.lower() in RELAYED_REPLY_HEADERS}
    return Reply(response.status_code, response.content, kept)


StartGateway = Callable[[list[Step]], ScriptedGateway]


@pytest.fixture
def scripted() -> Iterator[StartGateway]:
    """Start scripted gateways; each is stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda script: stack.enter_context(ScriptedGateway(script))


class RecordingSession(requests.Session):
    """A real `requests` session that also keeps the options of each request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_options: list[dict[str, Any]] = []
        self.closed = False

    def request(  # type: ignore[override]
        self, method: str, url: str, **kwargs: Any
    ) -> requests.Response:
        """Send the request as `requests` would, keeping its options."""
        self.sent_options.append(kwargs)
        return super().request(method, url, **kwargs)

    def close(self) -> None:
        """Close as `requests` would, and remember it."""
        self.closed = True
        super().close()
