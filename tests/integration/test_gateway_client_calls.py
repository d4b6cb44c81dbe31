"""The gateway client's requests and its reading of answers, against a scripted HTTP server.

The server runs on 127.0.0.1 and answers each request from a script, so the
client meets answers no well-behaved gateway gives; what it sent is read off
the server.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pytest

from sync.crypto import Party
from sync.crypto.envelope import wire_digest
from sync.crypto.keys import KeyRing
from sync.errors import (
    EnvelopeRefusedError,
    PermanentGatewayError,
    RetryableGatewayError,
    RetryAfterError,
    StaleEnvelopeError,
)
from sync.gateway.client import MAX_ERROR_BODY_BYTES, GatewayClient
from sync.gateway.retry import RetryPolicy
from tests.integration.test_gateway_client_decisions import (
    PAGE,
    TOKEN,
    notice_batch,
    signed_receipt,
)
from tests.scripted_http import (
    Call,
    CutShort,
    RecordingSession,
    ScriptedGateway,
    StartGateway,
    Step,
    reply,
    scripted,
)

pytestmark = pytest.mark.integration
__all__ = ["scripted"]  # the fixture, from tests/scripted_http.py


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A client of a scripted server, the session it sends with, its waits and its clock."""

    client: GatewayClient
    server: ScriptedGateway
    session: RecordingSession
    sleeps: list[float]
    clock: Clock

    @property
    def sent(self) -> list[Call]:
        """The requests the server received, in order."""
        return self.server.calls


MakeHarness = Callable[..., Harness]


@pytest.fixture
def harness(keyrings: dict[Party, KeyRing], scripted: StartGateway) -> Iterator[MakeHarness]:
    """Builds clients of scripted servers; no server may be asked more than its script."""
    servers: list[ScriptedGateway] = []

    def make(
        replies: list[Step],
        *,
        trailing_slash: bool = False,
        ca_bundle: str | None = None,
        max_body_bytes: int = 1024 * 1024,
    ) -> Harness:
        server = scripted(list(replies))
        servers.append(server)
        session = RecordingSession()
        sleeps: list[float] = []
        clock = Clock()
        client = GatewayClient(
            server.url + ("/" if trailing_slash else ""),
            agency=Party.POLICE,
            client_id="hub",
            client_secret="synthetic-secret",
            keyring=keyrings[Party.HUB],
            retry=RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=2.0),
            session=session,
            sleep=sleeps.append,
            rand=lambda: 0.5,
            monotonic=clock,
            ca_bundle=ca_bundle,
            max_body_bytes=max_body_bytes,
        )
        return Harness(client, server, session, sleeps, clock)

    yield make
    assert [server.unscripted for server in servers] == [0] * len(servers)


def _paths(run: Harness) -> list[str]:
    return [sent.path for sent in run.sent]


# --- what the client sends -------------------------------------------------------


def test_a_delivery_posts_the_stripped_envelope_as_json(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    envelope = notice_batch(keyrings)
    run = harness([reply(200, TOKEN), reply(200, signed_receipt(keyrings, envelope))])
    run.client.deliver(b"  " + envelope + b"\n")
    token, notices = run.sent
    assert (notices.method, notices.path) == ("POST", "/notices")
    assert notices.body == envelope
    assert notices.headers["Content-Type"] == "application/json"
    assert notices.headers["Authorization"] == "Bearer token-1"
    assert (token.method, token.path) == ("POST", "/oauth/token")
    assert dict(parse_qsl(token.body.decode())) == {"grant_type": "client_credentials"}
    assert token.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("ca_bundle", [None, "/etc/synthetic/ca.pem"])
def test_every_request_names_its_certificate_check(
    harness: MakeHarness, keyrings: dict[Party, KeyRing], ca_bundle: str | None
) -> None:
    run = harness([reply(200, TOKEN), reply(200, PAGE)], ca_bundle=ca_bundle)
    run.client.fetch_page(None, 10)
    expected = True if ca_bundle is None else ca_bundle
    assert [options["verify"] for options in run.session.sent_options] == [expected, expected]
    assert run.session.verify == expected


def test_a_trailing_slash_in_the_base_url_makes_no_difference(
    harness: MakeHarness,
    keyrings: dict[Party, KeyRing],
) -> None:
    run = harness([reply(200, TOKEN), reply(200, PAGE)], trailing_slash=True)
    run.client.fetch_page("djE6Mw", 25)
    assert _paths(run) == ["/oauth/token", "/feed"]
    assert run.sent[1].query == {"limit": "25", "since": "djE6Mw"}


def test_the_listing_asks_for_the_notices_after_the_number_given(
    harness: MakeHarness,
    keyrings: dict[Party, KeyRing],
) -> None:
    listing = {"notices": [{"seq": 6}], "last": 6}
    run = harness([reply(200, TOKEN), reply(200, listing)])
    assert run.client.received_notices(5) == [{"seq": 6}]
    assert run.sent[1].query == {"after": "5"}


def test_closing_the_client_closes_its_session(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    run = harness([])
    with run.client:
        assert not run.session.closed
    assert run.session.closed


# --- the bearer token's lifetime ------------------------------------------------------


def test_a_token_is_reused_until_ten_seconds_before_it_expires(
    harness: MakeHarness,
    keyrings: dict[Party, KeyRing],
) -> None:
    second = {**TOKEN, "access_token": "token-2"}
    replies = [reply(200, TOKEN), reply(200, PAGE), reply(200, PAGE)]
    run = harness([*replies, reply(200, second), reply(200, PAGE)])
    run.client.fetch_page(None, 10)
    run.clock.now += 289.5  # 10.5 s before the 300 s token expires
    run.client.fetch_page(None, 10)
    run.clock.now += 0.5  # 10 s before
    run.client.fetch_page(None, 10)
    feed_tokens = [s.headers["Authorization"] for s in run.sent if s.path == "/feed"]
    assert feed_tokens == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


# --- answers that are retried -------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"envelope": None, "next": 7, "more": False},
        {"envelope": None, "next": "djE6MA", "more": "no"},
        {"envelope": None, "more": False},
    ],
    ids=["cursor-not-text", "more-not-boolean", "no-cursor"],
)
def test_a_malformed_page_is_retried(
    harness: MakeHarness, keyrings: dict[Party, KeyRing], bad: object
) -> None:
    run = harness([reply(200, TOKEN), reply(200, bad), reply(200, PAGE)])
    page = run.client.fetch_page(None, 10)
    assert (page.next, page.more) == ("djE6MA", False)
    assert run.sleeps == [0.05]


def _page(cursor: str, *, more: bool = True) -> Step:
    return reply(200, {"envelope": "c2VhbGVk", "next": cursor, "more": more})


def test_a_pull_follows_the_cursors_until_no_more_is_offered(harness: MakeHarness) -> None:
    run = harness([reply(200, TOKEN), _page("c1"), _page("c2"), _page("c3", more=False)])
    assert [page.next for page in run.client.pages("c0", 10)] == ["c1", "c2", "c3"]
    assert [sent.query.get("since") for sent in run.sent[1:]] == [
        "c0",
        "c1",
        "c2",
    ]


@pytest.mark.parametrize(
    ("since", "cursors"),
    [("c1", ["c1"]), (None, ["c1", "c2", "c1"]), ("c0", ["c1", "c0"])],
    ids=["the-same-cursor", "back-to-an-earlier-one", "back-to-the-first"],
)
def test_a_pull_whose_cursor_does_not_move_on_stops_after_that_page(
    harness: MakeHarness, since: str | None, cursors: list[str]
) -> None:
    """A gateway offering more pages from a cursor already read from would be pulled for
    ever: the pull stops once that page is given, and asks for nothing more."""
    run = harness([reply(200, TOKEN), *(_page(cursor) for cursor in cursors)])
    given: list[str] = []
    with pytest.raises(PermanentGatewayError, match="feed cursor did not move on"):
        given.extend(page.next for page in run.client.pages(since, 10))
    assert given == cursors
    assert len(run.sent) == 1 + len(cursors)


@pytest.mark.parametrize(
    "bad",
    [
        {**TOKEN, "access_token": ""},
        {**TOKEN, "expires_in": "300"},
        {"token_type": "Bearer", "expires_in": 300},
    ],
    ids=["empty-token", "lifetime-not-a-number", "no-token"],
)
def test_a_malformed_token_answer_is_retried(
    harness: MakeHarness, keyrings: dict[Party, KeyRing], bad: object
) -> None:
    run = harness([reply(200, bad), reply(200, TOKEN), reply(200, PAGE)])
    run.client.fetch_page(None, 10)
    assert _paths(run) == ["/oauth/token", "/oauth/token", "/feed"]
    assert run.sent[-1].headers["Authorization"] == "Bearer token-1"
    assert run.sleeps == [0.05]


def test_a_listing_whose_rows_are_not_objects_is_retried(
    harness: MakeHarness,
    keyrings: dict[Party, KeyRing],
) -> None:
    bad = {"notices": [1, 2], "last": 2}
    run = harness([reply(200, TOKEN), *(reply(200, bad) for _ in range(3))])
    with pytest.raises(RetryableGatewayError, match="malformed listing"):
        run.client.received_notices()


def test_a_504_is_retried(harness: MakeHarness, keyrings: dict[Party, KeyRing]) -> None:
    run = harness([reply(200, TOKEN), reply(504, {}), reply(200, PAGE)])
    run.client.fetch_page(None, 10)
    assert run.sleeps == [0.05]


def test_a_receipt_missing_its_fields_is_retried(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    envelope = notice_batch(keyrings)
    good = signed_receipt(keyrings, envelope)
    malformed = {key: value for key, value in good.items() if key != "sig"}
    run = harness([reply(200, TOKEN), reply(200, malformed), reply(200, good)])
    receipt = run.client.deliver(envelope)
    assert receipt.digest == wire_digest(envelope)
    assert run.sleeps == [0.05]


# --- refusals -------------------------------------------------------------------


def test_a_receipt_naming_another_msg_id_is_refused(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    envelope = notice_batch(keyrings)
    other = signed_receipt(keyrings, envelope, msg_id="0" * 32)
    run = harness([reply(200, TOKEN), reply(200, other)])
    with pytest.raises(PermanentGatewayError, match="does not match"):
        run.client.deliver(envelope)
    assert run.sleeps == []


def test_a_refused_envelope_is_told_apart_by_its_code(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    refusal = {"error": "envelope_rejected", "reason": "Unknown key."}
    run = harness([reply(200, TOKEN), reply(400, refusal)])
    with pytest.raises(EnvelopeRefusedError, match=r"HTTP 400 \(envelope_rejected\)"):
        run.client.deliver(notice_batch(keyrings))


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("no such thing <b>", ""),
        ("P-000123", ""),
        ("a" * 60, " (" + "a" * 40 + ")"),
        ("invalid_limit", " (invalid_limit)"),
    ],
    ids=["not-a-word", "an-identifier", "too-long", "a-code"],
)
def test_a_refusal_names_the_gateway_s_code_only_when_it_is_a_plain_word(
    harness: MakeHarness, keyrings: dict[Party, KeyRing], code: str, shown: str
) -> None:
    run = harness([reply(200, TOKEN), reply(400, {"error": code})])
    with pytest.raises(PermanentGatewayError) as refused:
        run.client.fetch_page(None, 10)
    assert str(refused.value) == f"the police gateway refused the request with HTTP 400{shown}."


@pytest.mark.parametrize("status", [300, 301, 308])
def test_every_3xx_answer_is_refused_as_a_redirect(
    harness: MakeHarness, keyrings: dict[Party, KeyRing], status: int
) -> None:
    run = harness([reply(200, TOKEN), reply(status, PAGE)])
    with pytest.raises(PermanentGatewayError, match=rf"with a redirect \(HTTP {status}\)"):
        run.client.fetch_page(None, 10)
    assert run.sleeps == []


def test_a_body_of_exactly_the_cap_is_read_and_one_byte_more_is_refused(
    harness: MakeHarness,
    keyrings: dict[Party, KeyRing],
) -> None:
    padded = {**PAGE, "padding": "x" * 200}  # larger than the token answer
    size = len(json.dumps(padded).encode())
    fits = harness([reply(200, TOKEN), reply(200, padded)], max_body_bytes=size)
    assert fits.client.fetch_page(None, 10).next == PAGE["next"]
    over = harness([reply(200, TOKEN), reply(200, padded)], max_body_bytes=size - 1)
    with pytest.raises(PermanentGatewayError, match=f"over {size - 1} bytes"):
        over.client.fetch_page(None, 10)


KEY_ID = "909a" + "0" * 27 + "1"


# A gateway's own sentence may quote a record: it is passed on nowhere.
QUOTING = "Refused for SMITH John born 1990-01-31, PNC 2001/0012345X"


def test_a_refusal_names_its_status_and_code_never_the_gateway_s_sentence(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    refusal = {"error": "envelope_rejected", "reason": f"Key {KEY_ID}: {QUOTING}."}
    run = harness([reply(200, TOKEN), reply(400, refusal)])
    with pytest.raises(EnvelopeRefusedError) as refused:
        run.client.deliver(notice_batch(keyrings))
    assert str(refused.value) == (
        "the police gateway refused the envelope with HTTP 400 (envelope_rejected)."
    )


def test_a_refusal_of_a_request_names_its_status_and_code_alone(harness: MakeHarness) -> None:
    run = harness([reply(200, TOKEN), reply(400, {"error": "invalid_limit", "reason": QUOTING})])
    with pytest.raises(PermanentGatewayError) as refused:
        run.client.fetch_page(None, 10)
    assert str(refused.value) == (
        "the police gateway refused the request with HTTP 400 (invalid_limit)."
    )


def test_a_wait_the_gateway_asks_for_names_its_code(harness: MakeHarness) -> None:
    no_key = {"error": "no_signing_key", "reason": QUOTING}
    run = harness([reply(200, TOKEN), reply(503, no_key, headers={"Retry-After": "300"})])
    with pytest.raises(RetryAfterError) as waiting:
        run.client.fetch_page(None, 10)
    assert str(waiting.value) == (
        "the police gateway asked to wait 300 s before GET /feed is tried again "
        "(HTTP 503 no_signing_key, longer than a call waits)."
    )


def _busy_body(size: int) -> bytes:
    """A 503's JSON error body of exactly `size` bytes, naming its code and a sentence."""
    document = {"error": "overloaded", "reason": QUOTING, "padding": ""}
    bare = len(json.dumps(document).encode())
    return json.dumps({**document, "padding": "x" * (size - bare)}).encode()


def test_a_retryable_answer_s_body_of_exactly_its_cap_is_read_for_its_code(
    harness: MakeHarness,
) -> None:
    busy = reply(503, body=_busy_body(MAX_ERROR_BODY_BYTES))
    run = harness([reply(200, TOKEN), busy, busy, busy])
    with pytest.raises(RetryableGatewayError) as given_up:
        run.client.fetch_page(None, 10)
    assert str(given_up.value) == (
        "the police gateway did not answer GET /feed after 3 attempts (last: HTTP 503 overloaded)."
    )


def test_a_retryable_answer_s_body_over_its_cap_is_left_unread_and_the_call_still_retried(
    harness: MakeHarness,
) -> None:
    """Over `MAX_ERROR_BODY_BYTES` (though within the client's own cap), the code is not
    read, and the answer stays one to retry, not a refusal."""
    busy = reply(503, body=_busy_body(MAX_ERROR_BODY_BYTES + 1))
    run = harness([reply(200, TOKEN), busy, busy, busy])
    with pytest.raises(RetryableGatewayError) as given_up:
        run.client.fetch_page(None, 10)
    assert str(given_up.value) == (
        "the police gateway did not answer GET /feed after 3 attempts (last: HTTP 503)."
    )
    assert run.sleeps == [0.05, 0.1]


def test_a_wait_asked_for_with_a_body_cut_short_is_still_honoured(
    harness: MakeHarness,
) -> None:
    """A broken error body costs only the code, never the `Retry-After`."""
    busy = reply(503, {"error": "overloaded"}, headers={"Retry-After": "300"})
    run = harness([reply(200, TOKEN), CutShort(busy)])
    with pytest.raises(RetryAfterError) as waiting:
        run.client.fetch_page(None, 10)
    assert waiting.value.retry_after == 300.0
    assert str(waiting.value) == (
        "the police gateway asked to wait 300 s before GET /feed is tried again "
        "(HTTP 503, longer than a call waits)."
    )


def test_a_stale_envelope_refusal_says_so_in_the_hub_s_words(
    harness: MakeHarness, keyrings: dict[Party, KeyRing]
) -> None:
    stale = {"error": "stale_envelope", "reason": QUOTING}
    run = harness([reply(200, TOKEN), reply(400, stale)])
    with pytest.raises(StaleEnvelopeError) as refused:
        run.client.deliver(notice_batch(keyrings))
    assert str(refused.value) == "the police gateway refused an envelope sealed too long ago."
