"""A gateway's reply body is read under a deadline and a size cap, against real HTTP servers.

The servers here misbehave on purpose: one trickles a valid page a few bytes
at a time (each wait shorter than the read timeout), one streams a body far
larger than the cap, one sends a small gzip body that inflates past it.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sync.crypto import Party, generate_party, load_keyring
from sync.crypto.keys import KeyRing
from sync.errors import PermanentGatewayError, RetryableGatewayError
from sync.gateway.client import GatewayClient
from sync.gateway.retry import RetryPolicy

pytestmark = pytest.mark.integration
TOKEN = json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 300}).encode()
PAGE = json.dumps({"envelope": None, "next": "djE6MA", "more": False}).encode()
CAP = 256 * 1024
HUGE = 64 * 1024 * 1024  # far more than a socket buffers, so the server sees the reader stop
TRICKLE_PAUSE = 0.05  # seconds between bytes: far under the read timeout


class Sent:
    """What a misbehaving feed endpoint managed to send, and whether it finished."""

    def __init__(self) -> None:
        self.bytes = 0
        self.finished = False


FeedAnswer = Callable[[BaseHTTPRequestHandler, Sent], None]


def _trickle(handler: BaseHTTPRequestHandler, sent: Sent) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(PAGE)))
    handler.end_headers()
    for byte in PAGE:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        sent.bytes += 1
        time.sleep(TRICKLE_PAUSE)
    sent.finished = True


def _flood(handler: BaseHTTPRequestHandler, sent: Sent) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(HUGE))
    handler.end_headers()
    chunk = b" " * (1024 * 1024)
    for _ in range(HUGE // len(chunk)):
        handler.wfile.write(chunk)
        sent.bytes += len(chunk)
    sent.finished = True


def _bomb(handler: BaseHTTPRequestHandler, sent: Sent) -> None:
    body = gzip.compress(b" " * (CAP * 8) + PAGE)
    assert len(body) < CAP  # small on the wire, large once inflated
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    sent.bytes, sent.finished = len(body), True


def _serve(answer: FeedAnswer, sent: Sent) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the token endpoint
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(TOKEN)))
            self.end_headers()
            self.wfile.write(TOKEN)

        def do_GET(self) -> None:  # the feed endpoint
            # The client may hang up mid-body: what it did is the point of the test.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                answer(self, sent)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    directory: Path = tmp_path_factory.mktemp("keys")
    generate_party(directory, Party.HUB)
    return load_keyring(directory, Party.HUB)


@pytest.fixture
def gateway(request: pytest.FixtureRequest) -> Iterator[tuple[str, Sent]]:
    sent = Sent()
    server = _serve(request.param, sent)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sent
    finally:
        server.shutdown()
        server.server_close()


def _client(url: str, hub: KeyRing, *, deadline: float = 60.0) -> GatewayClient:
    return GatewayClient(
        url,
        agency=Party.POLICE,
        client_id="hub",
        client_secret="secret",
        keyring=hub,
        timeout=(2.0, 2.0),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
        deadline=deadline,
        max_body_bytes=CAP,
    )


@pytest.mark.parametrize("gateway", [_trickle], indirect=True)
def test_a_body_trickled_past_the_deadline_is_cut_off_and_retried(
    gateway: tuple[str, Sent], hub: KeyRing
) -> None:
    url, sent = gateway
    gave_up = r"after 2 attempts \(last: body too slow\)"
    client = _client(url, hub, deadline=TRICKLE_PAUSE * 5)
    with client, pytest.raises(RetryableGatewayError, match=gave_up):
        client.fetch_page(None, 10)
    assert not sent.finished


@pytest.mark.parametrize("gateway", [_trickle], indirect=True)
def test_a_slow_body_within_the_deadline_is_read(gateway: tuple[str, Sent], hub: KeyRing) -> None:
    url, _ = gateway
    with _client(url, hub) as client:
        page = client.fetch_page(None, 10)
    assert (page.envelope, page.next, page.more) == (None, "djE6MA", False)


@pytest.mark.parametrize("gateway", [_flood], indirect=True)
def test_a_body_over_the_cap_is_refused_without_reading_it_all(
    gateway: tuple[str, Sent], hub: KeyRing
) -> None:
    url, sent = gateway
    with _client(url, hub) as client, pytest.raises(PermanentGatewayError) as refused:
        client.fetch_page(None, 10)
    message = str(refused.value)
    assert message == (
        f"the police gateway answered GET /feed with a body over {CAP} bytes "
        "(ARMS_SYNC_GATEWAY_MAX_RESPONSE_BYTES)."
    )
    assert not sent.finished


@pytest.mark.parametrize("gateway", [_bomb], indirect=True)
def test_the_cap_counts_the_body_after_decompression(
    gateway: tuple[str, Sent], hub: KeyRing
) -> None:
    url, _ = gateway
    with _client(url, hub) as client, pytest.raises(PermanentGatewayError, match="body over"):
        client.fetch_page(None, 10)


def _redirect(handler: BaseHTTPRequestHandler, sent: Sent) -> None:
    """Send the feed call elsewhere (another host, in plain HTTP); count the calls."""
    sent.bytes += 1
    handler.send_response(307)
    handler.send_header("Location", "http://elsewhere.invalid/feed")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


@pytest.mark.parametrize("gateway", [_redirect], indirect=True)
def test_a_redirect_is_refused_not_followed(gateway: tuple[str, Sent], hub: KeyRing) -> None:
    url, sent = gateway
    with _client(url, hub) as client, pytest.raises(PermanentGatewayError) as refused:
        client.fetch_page(None, 10)
    assert str(refused.value) == (
        "the police gateway answered GET /feed with a redirect (HTTP 307), which is not "
        "followed: check its URL."
    )
    assert sent.bytes == 1  # asked once: a refusal is not retried
