"""Retry timing (backoff, full jitter, Retry-After) and the client's retry decisions.

The timing rules are pure functions; the client is driven by a scripted
session that never opens a socket, with `sleep` recorded instead of slept.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
import urllib3
from hypothesis import given
from hypothesis import strategies as st

from sync.crypto import CONTENT_TYPE_NOTICES, Party, generate_party, load_keyring, seal
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
from sync.gateway.retry import (
    RetryPolicy,
    backoff_ceiling,
    backoff_delay,
    next_delay,
    parse_retry_after,
    waits_too_long,
)

NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    base_delay=st.floats(0, 10, allow_nan=False),
    max_delay=st.floats(0, 120, allow_nan=False),
    jitter=st.booleans(),
)
unit_interval = st.floats(0, 1, exclude_max=True, allow_nan=False)


# --- pure timing rules -------------------------------------------------------


def test_backoff_ceiling_doubles_until_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [backoff_ceiling(policy, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_without_jitter_the_delay_is_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, jitter=False)
    assert backoff_delay(policy, 3, 0.1) == 4.0


def test_full_jitter_scales_the_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0)
    assert backoff_delay(policy, 3, 0.25) == 1.0
    assert backoff_delay(policy, 3, 0.0) == 0.0


@given(policies, st.integers(1, 10_000), unit_interval)
def test_backoff_stays_within_zero_and_the_capped_ceiling(
    policy: RetryPolicy, retry_number: int, rand: float
) -> None:
    delay = backoff_delay(policy, retry_number, rand)
    assert 0.0 <= delay <= backoff_ceiling(policy, retry_number) <= policy.max_delay


@given(policies, st.integers(1, 50))
def test_ceiling_never_shrinks_from_one_retry_to_the_next(
    policy: RetryPolicy, retry_number: int
) -> None:
    assert backoff_ceiling(policy, retry_number) <= backoff_ceiling(policy, retry_number + 1)


@given(policies, st.integers(1, 50), unit_interval, st.floats(0, 10_000, allow_nan=False))
def test_retry_after_is_a_floor_never_cut_short(
    policy: RetryPolicy, retry_number: int, rand: float, retry_after: float
) -> None:
    delay = next_delay(policy, retry_number, rand, retry_after)
    backoff = backoff_delay(policy, retry_number, rand)
    assert delay == max(retry_after, backoff)
    assert delay >= retry_after
    if retry_after <= policy.max_delay:
        assert delay <= policy.max_delay


@given(policies, st.floats(0, 10_000, allow_nan=False))
def test_a_call_waits_out_only_what_fits_within_max_delay(
    policy: RetryPolicy, retry_after: float
) -> None:
    assert waits_too_long(policy, retry_after) == (retry_after > policy.max_delay)
    assert not waits_too_long(policy, None)


def test_next_delay_without_retry_after_is_the_backoff() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0)
    assert next_delay(policy, 2, 0.5, None) == backoff_delay(policy, 2, 0.5)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=7), usegmt=True), 7.0),
        (format_datetime(NOW - timedelta(seconds=7), usegmt=True), 0.0),
        ("-1", None),
        ("86400", 86_400.0),
        ("315360000", 86_400.0),
        ("9" * 40, 86_400.0),
        ("0" * 20 + "5", 5.0),
        (format_datetime(NOW + timedelta(days=3650), usegmt=True), 86_400.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -0.5}])
def test_policy_refuses_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)


def test_retry_number_starts_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        backoff_ceiling(RetryPolicy(), 0)


# --- the client's decisions, on a scripted session ----------------------------


def _response(
    status: int,
    document: object = None,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = "scripted"
    response.url = "http://gateway.test/"
    content = body if body is not None else json.dumps(document).encode()
    # A streamed response, as the client asks for: the body is read from `raw`.
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(content), status=status, preload_content=False
    )
    response.headers.update(headers or {})
    return response


TOKEN = {"access_token": "token-1", "token_type": "Bearer", "expires_in": 300}
PAGE = {"envelope": None, "next": "djE6MA", "more": False}


class ScriptedSession(requests.Session):
    """Answers each request with the next scripted response or exception."""

    def __init__(self, script: list[requests.Response | Exception]) -> None:
        super().__init__()
        self.script: Iterator[requests.Response | Exception] = iter(script)
        self.calls: list[tuple[str, str, str | None]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        auth = (kwargs.get("headers") or {}).get("Authorization")
        self.calls.append((str(method), str(url).rsplit("/", 1)[-1], auth))
        step = next(self.script)
        if isinstance(step, Exception):
            raise step
        return step


@pytest.fixture(scope="module")
def keyrings(tmp_path_factory: pytest.TempPathFactory) -> dict[Party, KeyRing]:
    directory = tmp_path_factory.mktemp("keys")
    for party in Party:
        generate_party(directory, party)
    return {party: load_keyring(directory, party) for party in Party}


def _client(
    keyrings: dict[Party, KeyRing], session: ScriptedSession, sleeps: list[float], **kwargs: Any
) -> GatewayClient:
    return GatewayClient(
        "http://gateway.test",
        agency=Party.POLICE,
        client_id="hub",
        client_secret="secret",
        keyring=keyrings[Party.HUB],
        retry=kwargs.pop("retry", RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=2.0)),
        session=session,
        sleep=sleeps.append,
        rand=lambda: 0.5,
        **kwargs,
    )


def test_503_with_retry_after_waits_as_told_then_succeeds(keyrings: dict[Party, KeyRing]) -> None:
    session = ScriptedSession(
        [
            _response(200, TOKEN),
            _response(503, {}, headers={"Retry-After": "1"}),
            _response(200, PAGE),
        ]
    )
    sleeps: list[float] = []
    page = _client(keyrings, session, sleeps).fetch_page(None, 10)
    assert page.envelope is None
    assert page.more is False
    assert sleeps == [1.0]


def _in_ten_minutes() -> str:
    """An HTTP date ten minutes from now (made when the test runs, not when it is collected)."""
    return format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)


@pytest.mark.parametrize(
    "make_retry_after", [lambda: "120", _in_ten_minutes], ids=["seconds", "date"]
)
def test_a_retry_after_beyond_max_delay_ends_the_call_at_once_with_the_wait(
    keyrings: dict[Party, KeyRing], make_retry_after: Callable[[], str]
) -> None:
    retry_after = make_retry_after()
    session = ScriptedSession(
        [_response(200, TOKEN), _response(503, {}, headers={"Retry-After": retry_after})]
    )
    sleeps: list[float] = []
    with pytest.raises(RetryAfterError, match="asked to wait") as caught:
        _client(keyrings, session, sleeps).fetch_page(None, 10)
    assert caught.value.retry_after >= 120
    assert sleeps == []
    assert [call[1] for call in session.calls] == ["token", "feed"]


def test_attempts_run_out_on_a_retry_after_carry_its_wait(
    keyrings: dict[Party, KeyRing],
) -> None:
    busy = [_response(429, {}, headers={"Retry-After": "2"}) for _ in range(4)]
    session = ScriptedSession([_response(200, TOKEN), *busy])
    sleeps: list[float] = []
    with pytest.raises(RetryAfterError, match="after 4 attempts") as caught:
        _client(keyrings, session, sleeps).fetch_page(None, 10)
    assert caught.value.retry_after == 2.0
    assert sleeps == [2.0, 2.0, 2.0]


def test_a_retry_after_error_survives_pickling() -> None:
    error = RetryAfterError("the police gateway asked to wait 120 s.", 120.0)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.retry_after) == (str(error), 120.0)


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
)
def test_transport_failures_are_retried(keyrings: dict[Party, KeyRing], failure: Exception) -> None:
    session = ScriptedSession([_response(200, TOKEN), failure, _response(200, PAGE)])
    sleeps: list[float] = []
    _client(keyrings, session, sleeps).fetch_page("djE6MA", 10)
    assert sleeps == [0.05]
    assert [call[1] for call in session.calls] == ["token", "feed", "feed"]


@pytest.mark.parametrize(
    "bad",
    [
        _response(200, body=b"\x00garbage{"),
        _response(200, ["not", "an", "object"]),
        _response(200, {"envelope": 7, "next": "x", "more": True}),
        _response(500, {}),
        _response(429, {}),
    ],
)
def test_bad_answers_are_retried(keyrings: dict[Party, KeyRing], bad: requests.Response) -> None:
    session = ScriptedSession([_response(200, TOKEN), bad, _response(200, PAGE)])
    sleeps: list[float] = []
    _client(keyrings, session, sleeps).fetch_page(None, 10)
    assert len(sleeps) == 1


def test_exhausted_retries_raise_retryable(keyrings: dict[Party, KeyRing]) -> None:
    failures: list[requests.Response | Exception] = [_response(502, {}) for _ in range(4)]
    session = ScriptedSession([_response(200, TOKEN), *failures])
    sleeps: list[float] = []
    with pytest.raises(RetryableGatewayError, match="after 4 attempts"):
        _client(keyrings, session, sleeps).fetch_page(None, 10)
    assert sleeps == [0.05, 0.1, 0.2]


def test_401_fetches_a_new_token_once(keyrings: dict[Party, KeyRing]) -> None:
    second = {**TOKEN, "access_token": "token-2"}
    session = ScriptedSession(
        [_response(200, TOKEN), _response(401, {}), _response(200, second), _response(200, PAGE)]
    )
    _client(keyrings, session, []).fetch_page(None, 10)
    assert [call[2] for call in session.calls if call[1] == "feed"] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


def test_a_second_401_is_permanent(keyrings: dict[Party, KeyRing]) -> None:
    session = ScriptedSession(
        [_response(200, TOKEN), _response(401, {}), _response(200, TOKEN), _response(401, {})]
    )
    with pytest.raises(PermanentGatewayError, match="HTTP 401"):
        _client(keyrings, session, []).fetch_page(None, 10)


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("hub", "secret"), ("hub id+1", "pa+ss%20wörd:x"), ("ä:b", "&=/?#[]@!$'()*,; ~")],
)
def test_basic_credentials_are_form_encoded_as_rfc_6749_asks(
    keyrings: dict[Party, KeyRing], client_id: str, secret: str
) -> None:
    session = ScriptedSession([_response(200, TOKEN), _response(200, PAGE)])
    client = GatewayClient(
        "http://gateway.test",
        agency=Party.POLICE,
        client_id=client_id,
        client_secret=secret,
        keyring=keyrings[Party.HUB],
        session=session,
    )
    client.fetch_page(None, 10)
    [(method, endpoint, authorization), _page] = session.calls
    assert (method, endpoint) == ("POST", "token")
    assert authorization is not None
    encoded = authorization.removeprefix("Basic ")
    assert base64.b64decode(encoded).decode("ascii") == (
        f"{quote_plus(client_id)}:{quote_plus(secret)}"
    )
    assert client_credentials({}, authorization) == (client_id, secret)


def test_refused_credentials_are_permanent(keyrings: dict[Party, KeyRing]) -> None:
    session = ScriptedSession([_response(401, {"error": "invalid_client"})])
    with pytest.raises(PermanentGatewayError, match="client credentials"):
        _client(keyrings, session, []).fetch_page(None, 10)


def test_other_4xx_is_permanent_and_not_retried(keyrings: dict[Party, KeyRing]) -> None:
    session = ScriptedSession(
        [_response(200, TOKEN), _response(400, {"error": "invalid_cursor", "reason": "x"})]
    )
    sleeps: list[float] = []
    with pytest.raises(PermanentGatewayError, match=r"HTTP 400 \(invalid_cursor\)"):
        _client(keyrings, session, sleeps).fetch_page("bad", 10)
    assert sleeps == []


def test_tls_verification_failure_is_permanent(keyrings: dict[Party, KeyRing]) -> None:
    session = ScriptedSession([requests.exceptions.SSLError("bad certificate")])
    with pytest.raises(PermanentGatewayError, match="TLS certificate"):
        _client(keyrings, session, []).fetch_page(None, 10)


def _batch(keyrings: dict[Party, KeyRing]) -> bytes:
    return seal(
        b'{"notices": []}',
        sender=Party.HUB,
        recipient=Party.POLICE,
        keyring=keyrings[Party.HUB],
        content_type=CONTENT_TYPE_NOTICES,
        now=datetime.now(UTC),
    )


def _receipt(keyrings: dict[Party, KeyRing], envelope: bytes, **changes: str) -> object:
    msg_id = json.loads(envelope)["header"]["msg_id"]
    fields = {
        "msg_id": msg_id,
        "digest": wire_digest(envelope),
        "received_at": "2026-11-28T10:00:00Z",
    }
    return json.loads(sign_receipt(keyrings[Party.POLICE], **{**fields, **changes}))


def test_deliver_returns_the_verified_receipt(keyrings: dict[Party, KeyRing]) -> None:
    envelope = _batch(keyrings)
    session = ScriptedSession([_response(200, TOKEN), _response(200, _receipt(keyrings, envelope))])
    receipt = _client(keyrings, session, []).deliver(envelope + b"\n")
    assert receipt.msg_id == json.loads(envelope)["header"]["msg_id"]
    assert receipt.digest == wire_digest(envelope)
    assert json.loads(receipt.raw)["sig"]


def test_a_receipt_for_another_envelope_is_permanent(keyrings: dict[Party, KeyRing]) -> None:
    envelope = _batch(keyrings)
    other = _receipt(keyrings, envelope, digest="0" * 64)
    session = ScriptedSession([_response(200, TOKEN), _response(200, other)])
    with pytest.raises(PermanentGatewayError, match="does not match"):
        _client(keyrings, session, []).deliver(envelope)


def test_a_receipt_signed_by_another_party_is_permanent(keyrings: dict[Party, KeyRing]) -> None:
    envelope = _batch(keyrings)
    msg_id = json.loads(envelope)["header"]["msg_id"]
    forged = json.loads(
        sign_receipt(
            keyrings[Party.PROBATION],
            msg_id=msg_id,
            digest=wire_digest(envelope),
            received_at="2026-11-28T10:00:00Z",
        )
    )
    session = ScriptedSession([_response(200, TOKEN), _response(200, forged)])
    with pytest.raises(PermanentGatewayError, match="does not verify"):
        _client(keyrings, session, []).deliver(envelope)


def test_a_tampered_receipt_is_permanent(keyrings: dict[Party, KeyRing]) -> None:
    envelope = _batch(keyrings)
    document: Any = _receipt(keyrings, envelope)
    document["receipt"] = document["receipt"].replace("2026-11-28", "2026-11-29")
    session = ScriptedSession([_response(200, TOKEN), _response(200, document)])
    with pytest.raises(PermanentGatewayError, match="does not verify"):
        _client(keyrings, session, []).deliver(envelope)


def test_a_receipt_whose_msg_id_is_off_its_exact_format_does_not_verify(
    keyrings: dict[Party, KeyRing],
) -> None:
    envelope = _batch(keyrings)
    msg_id = json.loads(envelope)["header"]["msg_id"]
    document: Any = _receipt(keyrings, envelope, msg_id=msg_id + "\n")
    with pytest.raises(PermanentGatewayError, match="does not verify"):
        verify_receipt(document, keyring=keyrings[Party.HUB], agency=Party.POLICE, now=NOW)


def test_a_stale_envelope_refusal_is_told_apart_by_its_code(
    keyrings: dict[Party, KeyRing],
) -> None:
    refusal = {"error": STALE_ENVELOPE_CODE, "reason": "Sealed too long ago."}
    session = ScriptedSession([_response(200, TOKEN), _response(400, refusal)])
    sleeps: list[float] = []
    with pytest.raises(StaleEnvelopeError) as caught:
        _client(keyrings, session, sleeps).deliver(_batch(keyrings))
    assert caught.value.code == STALE_ENVELOPE_CODE
    assert sleeps == []


def test_deliver_refuses_what_is_not_an_envelope(keyrings: dict[Party, KeyRing]) -> None:
    with pytest.raises(PermanentGatewayError, match="not a sealed envelope"):
        _client(keyrings, ScriptedSession([]), []).deliver(b'{"notices": []}')
