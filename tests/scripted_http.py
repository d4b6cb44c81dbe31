"""An HTTP server on 127.0.0.1 that answers from a script, for the gateway client's tests.

Each request gets the next reply of the script, over a real socket, and is
recorded (method, path, query, body, headers), so a test can give the client
answers no well-behaved gateway would (a malformed page, a redirect, a body
of an exact size) and check what the client sent. A request the script did
not expect is answered 500 and counted, and the server refuses to stop
quietly: leaving the `with` block raises when there was one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


def json_reply(
    status: int, document: object = None, headers: Mapping[str, str] | None = None
) -> Reply:
    """A reply holding the JSON of `document`."""
    return Reply(status, json.dumps(document).encode(), dict(headers or {}))


@dataclass(frozen=True)
class Asked:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]


class ScriptedServer:
    """A scripted HTTP server on a free port of 127.0.0.1, served from a thread."""

    def __init__(self, script: list[Reply] | None = None) -> None:
        self.script: list[Reply] = list(script or [])
        self.asked: list[Asked] = []
        self.unexpected = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        if error is None and self.unexpected:
            raise AssertionError(f"the client made {self.unexpected} request(s) not scripted")

    def answer(self, asked: Asked) -> Reply:
        """Record `asked` and give the next reply (500 when the script has run out)."""
        with self._lock:
            self.asked.append(asked)
            if self.script:
                return self.script.pop(0)
            self.unexpected += 1
            return json_reply(500, {"error": "not_scripted"})


def _handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._reply()

        def do_POST(self) -> None:
            self._reply()

        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            asked = Asked(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query)),
                self.rfile.read(length),
                dict(self.headers.items()),
            )
            reply = server.answer(asked)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - its signature
            """Quiet: the test reads `asked`, not a log."""

    return Handler


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
