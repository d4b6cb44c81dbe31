"""The gateway client's decisions against a real HTTP server on 127.0.0.1 that follows a script.

Each request the server receives is answered by the next step of its script
(`tests/scripted_http.py`): a reply, a hang-up with no answer, a body cut
short, or an answer later than the client waits. The client's `sleep` is
recorded instead of slept, so the tests see exactly which waits the client
chose.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote_plus

import pytest

from sync.crypto import CONTENT_TYPE_NOTICES, Party, seal
from sync.crypto.envelope import wire_digest
from sync.crypto.keys import KeyRing
from sync.errors import (
    STALE_ENVELOPE_CODE,
    PermanentGatewayError,
    RetryableGatewayError,
    RetryAfterError,
    StaleEnvelopeError,
)
from sync.gateway.client import GatewayClient
from sync.gateway.oauth import client_credentials
from sync.gateway.receipt import sign_receipt, verify_receipt
from sync.gateway.retry import RetryPolicy
from tests.scripted_http import (
    AnswerLate,
    CutShort,
    HangUp,
    Reply,
    ScriptedGateway,
    StartGateway,
    Step,
    reply,
    scripted,
)

pytestmark = pytest.mark.integration
__all__ = ["scripted"]  # the fixture, from tests/scripted_http.py

TOKEN = {"access_token": "token-1", "token_type": "Bearer", "expires_in": 300}
PAGE = {"envelope": None, "next": "djE6MA", "more": False}
NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
# Seconds the client waits for an answer: long enough that a loaded machine's stall
# (a full garbage collection pauses the server thread too) never looks like a late
# answer; a late step holds its answer until the test ends, so waits it out once.
READ_TIMEOUT = 3.0


def _client(
    keyrings: dict[Party, KeyRing], gateway: ScriptedGateway, sleeps: list[float], **kwargs: Any
) -> GatewayClient:
    return GatewayClient(
        gateway.url,
        agency=Party.POLICE,
        client_id="hub",
        client_secret="secret",
        keyring=keyrings[Party.HUB],
        retry=kwargs.pop("retry", RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=2.0)),
        timeout=(2.0, READ_TIMEOUT),
        sleep=sleeps.append,
        rand=lambda: 0.5,
        **kwargs,
    )


def _endpoints(gateway: ScriptedGateway) -> list[str]:
    return [call.endpoint for call in gateway.calls]


def test_503_with_retry_after_waits_as_told_then_succeeds(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    gateway = scripted(
        [reply(200, TOKEN), reply(503, {}, headers={"Retry-After": "1"}), reply(200, PAGE)]
    )
    sleeps: list[float] = []
    with _client(keyrings, gateway, sleeps) as client:
        page = client.fetch_page(None, 10)
    assert (page.envelope, page.more) == (None, False)
    assert sleeps == [1.0]
    assert _endpoints(gateway) == ["token", "feed", "feed"]


def _in_ten_minutes() -> str:
    """An HTTP date ten minutes from now (made when the test runs, not when it is collected)."""
    return format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)


@pytest.mark.parametrize(
    "make_retry_after", [lambda: "120", _in_ten_minutes], ids=["seconds", "date"]
)
def test_a_retry_after_beyond_max_delay_ends_the_call_at_once_with_the_wait(
    keyrings: dict[Party, KeyRing],
    scripted: StartGateway,
    make_retry_after: Callable[[], str],
) -> None:
    gateway = scripted(
        [reply(200, TOKEN), reply(503, {}, headers={"Retry-After": make_retry_after()})]
    )
    sleeps: list[float] = []
    with (
        _client(keyrings, gateway, sleeps) as client,
        pytest.raises(RetryAfterError, match="asked to wait") as caught,
    ):
        client.fetch_page(None, 10)
    assert caught.value.retry_after >= 120
    assert sleeps == []
    assert _endpoints(gateway) == ["token", "feed"]


def test_attempts_run_out_on_a_retry_after_carry_its_wait(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    busy: list[Step] = [reply(429, {}, headers={"Retry-After": "2"}) for _ in range(4)]
    gateway = scripted([reply(200, TOKEN), *busy])
    sleeps: list[float] = []
    with (
        _client(keyrings, gateway, sleeps) as client,
        pytest.raises(RetryAfterError, match="after 4 attempts") as caught,
    ):
        client.fetch_page(None, 10)
    assert caught.value.retry_after == 2.0
    assert sleeps == [2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "failure",
    [HangUp(), AnswerLate(reply(200, PAGE)), CutShort(reply(200, PAGE))],
    ids=["hang-up", "late", "cut-short"],
)
def test_transport_failures_are_retried(
    keyrings: dict[Party, KeyRing],
    scripted: StartGateway,
    failure: Step,
) -> None:
    gateway = scripted([reply(200, TOKEN), failure, reply(200, PAGE)])
    sleeps: list[float] = []
    with _client(keyrings, gateway, sleeps) as client:
        page = client.fetch_page("djE6MA", 10)
    assert page.next == PAGE["next"]
    assert sleeps == [0.05]
    assert _endpoints(gateway) == ["token", "feed", "feed"]


@pytest.mark.parametrize(
    "bad",
    [
        reply(200, body=b"\x00garbage{"),
        reply(200, body=b"[" * 100_000 + b"]" * 100_000),
        reply(200, ["not", "an", "object"]),
        reply(200, {"envelope": 7, "next": "x", "more": True}),
        reply(500, {}),
        reply(429, {}),
    ],
    ids=["garbage", "nested-too-deep", "array", "wrong-envelope", "500", "429"],
)
def test_bad_answers_are_retried(
    keyrings: dict[Party, KeyRing], scripted: StartGateway, bad: Reply
) -> None:
    gateway = scripted([reply(200, TOKEN), bad, reply(200, PAGE)])
    sleeps: list[float] = []
    with _client(keyrings, gateway, sleeps) as client:
        page = client.fetch_page(None, 10)
    assert page.next == PAGE["next"]
    assert sleeps == [0.05]
    assert _endpoints(gateway) == ["token", "feed", "feed"]


def test_exhausted_retries_raise_retryable(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    gateway = scripted([reply(200, TOKEN), *(reply(502, {}) for _ in range(4))])
    sleeps: list[float] = []
    with (
        _client(keyrings, gateway, sleeps) as client,
        pytest.raises(RetryableGatewayError, match="after 4 attempts"),
    ):
        client.fetch_page(None, 10)
    assert sleeps == [0.05, 0.1, 0.2]
    assert _endpoints(gateway) == ["token", "feed", "feed", "feed", "feed"]


def test_401_fetches_a_new_token_once(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    second = {**TOKEN, "access_token": "token-2"}
    gateway = scripted([reply(200, TOKEN), reply(401, {}), reply(200, second), reply(200, PAGE)])
    with _client(keyrings, gateway, []) as client:
        client.fetch_page(None, 10)
    feed_calls = [call.authorization for call in gateway.calls if call.endpoint == "feed"]
    assert feed_calls == ["Bearer token-1", "Bearer token-2"]


def test_a_second_401_is_permanent(keyrings: dict[Party, KeyRing], scripted: StartGateway) -> None:
    gateway = scripted([reply(200, TOKEN), reply(401, {}), reply(200, TOKEN), reply(401, {})])
    with (
        _client(keyrings, gateway, []) as client,
        pytest.raises(PermanentGatewayError, match="HTTP 401"),
    ):
        client.fetch_page(None, 10)
    assert _endpoints(gateway) == ["token", "feed", "token", "feed"]


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("hub", "secret"), ("hub id+1", "pa+ss%20wörd:x"), ("ä:b", "&=/?#[]@!$'()*,; ~")],
)
def test_basic_credentials_are_form_encoded_as_rfc_6749_asks(
    keyrings: dict[Party, KeyRing],
    scripted: StartGateway,
    client_id: str,
    secret: str,
) -> None:
    gateway = scripted([reply(200, TOKEN), reply(200, PAGE)])
    with GatewayClient(
        gateway.url,
        agency=Party.POLICE,
        client_id=client_id,
        client_secret=secret,
        keyring=keyrings[Party.HUB],
    ) as client:
        client.fetch_page(None, 10)
    token_call = gateway.calls[0]
    assert (token_call.method, token_call.endpoint) == ("POST", "token")
    assert token_call.authorization is not None
    encoded = token_call.authorization.removeprefix("Basic ")
    assert base64.b64decode(encoded).decode("ascii") == (
        f"{quote_plus(client_id)}:{quote_plus(secret)}"
    )
    assert client_credentials({}, token_call.authorization) == (client_id, secret)


def test_refused_credentials_are_permanent(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    gateway = scripted([reply(401, {"error": "invalid_client"})])
    with (
        _client(keyrings, gateway, []) as client,
        pytest.raises(PermanentGatewayError, match="client credentials"),
    ):
        client.fetch_page(None, 10)
    assert _endpoints(gateway) == ["token"]


def test_other_4xx_is_permanent_and_not_retried(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    gateway = scripted([reply(200, TOKEN), reply(400, {"error": "invalid_cursor", "reason": "x"})])
    sleeps: list[float] = []
    with (
        _client(keyrings, gateway, sleeps) as client,
        pytest.raises(PermanentGatewayError, match=r"HTTP 400 \(invalid_cursor\)"),
    ):
        client.fetch_page("bad", 10)
    assert sleeps == []
    assert _endpoints(gateway) == ["token", "feed"]


def notice_batch(keyrings: dict[Party, KeyRing]) -> bytes:
    """An empty notice batch sealed by the hub to the police."""
    return seal(
        b'{"notices": []}',
        sender=Party.HUB,
        recipient=Party.POLICE,
        keyring=keyrings[Party.HUB],
        content_type=CONTENT_TYPE_NOTICES,
        now=datetime.now(UTC),
    )


def signed_receipt(keyrings: dict[Party, KeyRing], envelope: bytes, **changes: str) -> Any:
    """The police gateway's receipt of `envelope`, with any field changed as given."""
    fields = {
        "msg_id": json.loads(envelope)["header"]["msg_id"],
        "digest": wire_digest(envelope),
        "received_at": "2026-11-28T10:00:00Z",
    }
    return json.loads(sign_receipt(keyrings[Party.POLICE], **{**fields, **changes}))


def test_deliver_returns_the_verified_receipt(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    envelope = notice_batch(keyrings)
    gateway = scripted([reply(200, TOKEN), reply(200, signed_receipt(keyrings, envelope))])
    with _client(keyrings, gateway, []) as client:
        receipt = client.deliver(envelope + b"\n")
    assert receipt.msg_id == json.loads(envelope)["header"]["msg_id"]
    assert receipt.digest == wire_digest(envelope)
    assert json.loads(receipt.raw)["sig"]
    assert [(call.method, call.endpoint) for call in gateway.calls] == [
        ("POST", "token"),
        ("POST", "notices"),
    ]


def _forged_receipt(keyrings: dict[Party, KeyRing], envelope: bytes) -> Any:
    """A receipt for this envelope, signed by the probation gateway instead of the police one."""
    return json.loads(
        sign_receipt(
            keyrings[Party.PROBATION],
            msg_id=json.loads(envelope)["header"]["msg_id"],
            digest=wire_digest(envelope),
            received_at="2026-11-28T10:00:00Z",
        )
    )


def _tampered_receipt(keyrings: dict[Party, KeyRing], envelope: bytes) -> Any:
    document = signed_receipt(keyrings, envelope)
    document["receipt"] = document["receipt"].replace("2026-11-28", "2026-11-29")
    return document


@pytest.mark.parametrize(
    ("make_receipt", "message"),
    [
        (lambda keys, envelope: signed_receipt(keys, envelope, digest="0" * 64), "does not match"),
        (_forged_receipt, "does not verify"),
        (_tampered_receipt, "does not verify"),
    ],
    ids=["another-envelope", "signed-by-another-party", "tampered"],
)
def test_a_receipt_that_does_not_prove_this_delivery_is_permanent(
    keyrings: dict[Party, KeyRing],
    scripted: StartGateway,
    make_receipt: Callable[[dict[Party, KeyRing], bytes], Any],
    message: str,
) -> None:
    envelope = notice_batch(keyrings)
    gateway = scripted([reply(200, TOKEN), reply(200, make_receipt(keyrings, envelope))])
    sleeps: list[float] = []
    with (
        _client(keyrings, gateway, sleeps) as client,
        pytest.raises(PermanentGatewayError, match=message),
    ):
        client.deliver(envelope)
    assert sleeps == []
    assert _endpoints(gateway) == ["token", "notices"]


def test_a_receipt_whose_msg_id_is_off_its_exact_format_does_not_verify(
    keyrings: dict[Party, KeyRing],
) -> None:
    envelope = notice_batch(keyrings)
    msg_id = json.loads(envelope)["header"]["msg_id"]
    document = signed_receipt(keyrings, envelope, msg_id=msg_id + "\n")
    with pytest.raises(PermanentGatewayError, match="does not verify"):
        verify_receipt(document, keyring=keyrings[Party.HUB], agency=Party.POLICE, now=NOW)


def test_a_stale_envelope_refusal_is_told_apart_by_its_code(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    refusal = {"error": STALE_ENVELOPE_CODE, "reason": "Sealed too long ago."}
    gateway = scripted([reply(200, TOKEN), reply(400, refusal)])
    sleeps: list[float] = []
    with (
        _client(keyrings, gateway, sleeps) as client,
        pytest.raises(StaleEnvelopeError) as caught,
    ):
        client.deliver(notice_batch(keyrings))
    assert caught.value.code == STALE_ENVELOPE_CODE
    assert sleeps == []


def test_deliver_refuses_what_is_not_an_envelope_without_calling_the_gateway(
    keyrings: dict[Party, KeyRing], scripted: StartGateway
) -> None:
    gateway = scripted([])
    with (
        _client(keyrings, gateway, []) as client,
        pytest.raises(PermanentGatewayError, match="not a sealed envelope"),
    ):
        client.deliver(b'{"notices": []}')
    assert gateway.calls == []


def test_a_receipt_naming_a_malformed_key_id_does_not_verify_and_is_not_echoed(
    keyrings: dict[Party, KeyRing],
) -> None:
    """The key id is remote text: only a well-formed one is named in the refusal."""
    document = signed_receipt(keyrings, notice_batch(keyrings))
    document["key_id"] = "not-a-key\n1990-01-31"
    with pytest.raises(PermanentGatewayError) as refused:
        verify_receipt(document, keyring=keyrings[Party.HUB], agency=Party.POLICE, now=NOW)
    assert str(refused.value) == (
        "the police gateway's receipt does not verify: a receipt's key id is malformed."
    )
