"""The reference gateway's HTTP server: routes faults hit, request counts, body limits, logs."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sync.crypto import KeyRing, Party
from sync.gateway.faults import Fault, FaultInjector
from sync.gateway.server import GatewayServer
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, notice_batch, write_feed
from tests.integration.gateway_thread import base_url, gateway_config, hub_tokens, serving

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE
SLOW_BY = 1.0  # seconds a slow answer is held back


class Failing(FaultInjector):
    """Answers every call that faults may hit with one fault (HTTP 500 unless told)."""

    def __init__(self) -> None:
        super().__init__(delay_seconds=SLOW_BY)
        self.fault = Fault.SERVER_ERROR

    def draw(self) -> Fault | None:
        return self.fault


@dataclass
class Served:
    """A gateway serving on loopback from a thread of the test."""

    server: GatewayServer
    url: str
    token: str
    faults: Failing


@pytest.fixture
def served(keyrings: dict[Party, KeyRing], tmp_path: Path) -> Iterator[Served]:
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, AGENCY.value, 5)
    tokens = hub_tokens()
    config = gateway_config(AGENCY, keyrings[AGENCY], feed, tmp_path / "state", tokens)
    faults = Failing()
    issued = tokens.issue(CLIENT_ID, CLIENT_SECRET)
    assert issued is not None
    with serving(config, faults) as server:
        yield Served(server, base_url(server), issued.access_token, faults)


def _bearer(served: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.token}"}


def test_health_and_the_listing_are_never_faulted_and_the_rest_are(served: Served) -> None:
    assert requests.get(f"{served.url}/health", timeout=5).status_code == 200
    listing = requests.get(f"{served.url}/notices", headers=_bearer(served), timeout=5)
    assert listing.status_code == 200
    feed = requests.get(f"{served.url}/feed", headers=_bearer(served), timeout=5)
    assert (feed.status_code, feed.json()["error"]) == (500, "internal_error")
    token = requests.post(
        f"{served.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert token.status_code == 500


def test_a_dropped_answer_comes_after_the_work_is_done(
    served: Served, keyrings: dict[Party, KeyRing]
) -> None:
    served.faults.fault = Fault.DROP
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"{served.url}/notices",
            data=notice_batch(keyrings[Party.HUB], AGENCY, 1),
            headers={**_bearer(served), "Content-Type": "application/json"},
            timeout=5,
        )
    listing = requests.get(f"{served.url}/notices", headers=_bearer(served), timeout=5)
    assert [row["batch"]["batch"] for row in listing.json()["notices"]] == [1]


def test_a_slow_answer_comes_later_than_a_client_waits(served: Served) -> None:
    served.faults.fault = Fault.SLOW
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{served.url}/feed", headers=_bearer(served), timeout=SLOW_BY / 4)


def test_a_garbage_answer_is_not_json(served: Served) -> None:
    served.faults.fault = Fault.GARBAGE
    answer = requests.get(f"{served.url}/feed", headers=_bearer(served), timeout=5)
    assert answer.status_code == 200
    with pytest.raises(ValueError, match="Expecting value"):
        answer.json()


def test_a_request_refused_for_its_token_is_answered_and_its_connection_closed(
    served: Served,
) -> None:
    with socket.create_connection(("127.0.0.1", served.server.port), timeout=5) as connection:
        connection.sendall(
            b"POST /notices HTTP/1.1\r\nHost: gateway\r\nContent-Length: 10\r\n\r\n0123456789"
        )
        received = b""
        while chunk := connection.recv(4096):  # ends only when the gateway closes it
            received += chunk
    assert received.split(b"\r\n", 1)[0].endswith(b" 401 Unauthorized")
    assert received.count(b"HTTP/1.1 ") == 1


def test_requests_are_counted_per_endpoint_and_those_without_a_token(served: Served) -> None:
    requests.get(f"{served.url}/health", timeout=5)
    requests.get(f"{served.url}/feed", timeout=5)
    requests.get(f"{served.url}/feed", headers={"Authorization": "Bearer forged"}, timeout=5)
    requests.get(f"{served.url}/notices", headers=_bearer(served), timeout=5)
    requests.get(f"{served.url}/nothing-here", timeout=5)
    assert served.server.requests.summary() == (
        "health=1 token=0 feed=2 notices=0 listing=1 bad-token=2"
    )


def _post_with_length(served: Served, length: str) -> bytes:
    host, port = "127.0.0.1", served.server.port
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(
            b"POST /notices HTTP/1.1\r\nHost: gateway\r\n"
            + f"Authorization: Bearer {served.token}\r\n".encode()
            + f"Content-Length: {length}\r\n\r\n".encode()
        )
        received = b""
        while chunk := connection.recv(4096):  # the gateway closes the connection after it
            received += chunk
        return received


@pytest.mark.parametrize("length", [str(64 * 1024 * 1024 + 1), "12abc", "-5"])
def test_a_body_with_a_bad_or_too_large_length_is_refused_unread(
    served: Served, length: str
) -> None:
    answer = _post_with_length(served, length)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 413 Request Entity Too Large")
    assert b'"error":"body_too_large"' in answer


def test_request_lines_are_logged_without_their_query_strings(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    cursor = "c3ludGhldGljLWN1cnNvcg"
    with caplog.at_level(logging.DEBUG, logger="arms_sync.gateway"):
        requests.get(f"{served.url}/health?since={cursor}", timeout=5)
    logged = [record.getMessage() for record in caplog.records]
    assert "GET /health" in logged
    assert not any(cursor in line for line in logged)
