"""The reference gateway's endpoints in-process: health, tokens, feed pages, the notices inbox."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from sync.crypto import CONTENT_TYPE_NOTICES, KeyRing, Party, seal
from sync.crypto.envelope import wire_digest
from sync.crypto.header import format_sealed_at
from sync.gateway.feed import FeedFile, encode_cursor
from sync.gateway.oauth import TokenIssuer
from sync.gateway.service import Gateway, GatewayConfig, Reply, Request
from sync.gateway.store import MsgIdConflictError, NewNotice, NoticeStore
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    make_keys,
    notice_batch,
    write_feed,
)

AGENCY = Party.POLICE
RECORDS = 10
PAGE_SIZE = 4
# The gateway's clock runs two minutes ahead of the hub's: still within the skew window.
GATEWAY_AHEAD = timedelta(minutes=2)


@pytest.fixture
def gateway(keyrings: dict[Party, KeyRing], tmp_path: Path) -> Iterator[Gateway]:
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, AGENCY.value, RECORDS)
    store = NoticeStore(tmp_path / "state")
    config = GatewayConfig(
        agency=AGENCY,
        keyring=keyrings[AGENCY],
        feed=FeedFile(feed),
        store=store,
        tokens=TokenIssuer(CLIENT_ID, CLIENT_SECRET),
        page_size=PAGE_SIZE,
        clock=lambda: datetime.now(UTC) + GATEWAY_AHEAD,
    )
    yield Gateway(config)
    store.close()


def _json(reply: Reply) -> Any:
    return json.loads(reply.body)


def _error(reply: Reply) -> tuple[int, str]:
    return reply.status, _json(reply)["error"]


def _deliver(gateway: Gateway, envelope: bytes) -> Reply:
    return gateway.receive_notices(Request("POST", "/notices", body=envelope))


def _feed(gateway: Gateway, **query: str) -> Reply:
    return gateway.feed_page(Request("GET", "/feed", query=query))


def _listing(gateway: Gateway, **query: str) -> Reply:
    return gateway.list_notices(Request("GET", "/notices", query=query))


def _cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


# --- health and tokens -----------------------------------------------------------


def test_health_reports_the_agency_and_the_counts(
    gateway: Gateway, keyrings: dict[Party, KeyRing]
) -> None:
    assert _deliver(gateway, notice_batch(keyrings[Party.HUB], AGENCY, 1)).status == HTTPStatus.OK
    reply = gateway.health(Request("GET", "/health"))
    assert reply.status == HTTPStatus.OK
    assert _json(reply) == {"status": "ok", "agency": "police", "records": RECORDS, "notices": 1}


@pytest.mark.parametrize(
    "form",
    [
        f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=wrong",
        f"grant_type=client_credentials&client_id={CLIENT_ID}",
        f"grant_type=client_credentials&client_secret={CLIENT_SECRET}",
        "grant_type=client_credentials",
    ],
    ids=["wrong-secret", "no-secret", "no-id", "nothing"],
)
def test_a_token_request_without_the_right_credentials_is_challenged(
    gateway: Gateway, form: str
) -> None:
    reply = gateway.token(Request("POST", "/oauth/token", body=form.encode()))
    assert _error(reply) == (HTTPStatus.UNAUTHORIZED, "invalid_client")
    assert ("WWW-Authenticate", 'Basic realm="arms-sync-gateway"') in reply.headers


# --- feed pages --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [_cursor_of("12"), _cursor_of("v2:3"), _cursor_of("v1:"), _cursor_of("v1:x"), "@@@", "djE6MTE"],
    ids=["no-prefix", "other-version", "no-number", "not-a-number", "not-base64", "past-end"],
)
def test_a_cursor_this_gateway_did_not_issue_is_an_invalid_cursor(
    gateway: Gateway, cursor: str
) -> None:
    assert _error(_feed(gateway, since=cursor, limit="2")) == (
        HTTPStatus.BAD_REQUEST,
        "invalid_cursor",
    )


@pytest.mark.parametrize("limit", ["0", "10001", "-1", "two", ""])
def test_a_limit_out_of_range_is_an_invalid_limit(gateway: Gateway, limit: str) -> None:
    assert _error(_feed(gateway, limit=limit)) == (HTTPStatus.BAD_REQUEST, "invalid_limit")


@pytest.mark.parametrize(("limit", "records"), [("1", 1), ("10000", RECORDS)])
def test_the_limits_at_either_end_of_the_range_are_served(
    gateway: Gateway, limit: str, records: int
) -> None:
    reply = _feed(gateway, limit=limit)
    assert reply.status == HTTPStatus.OK
    assert _json(reply)["next"] == encode_cursor(records)


def test_without_a_limit_a_page_holds_the_gateway_s_page_size(gateway: Gateway) -> None:
    page = _json(_feed(gateway))
    assert (page["next"], page["more"]) == (encode_cursor(PAGE_SIZE), True)
    last = _json(_feed(gateway, since=encode_cursor(2 * PAGE_SIZE)))
    assert (last["next"], last["more"]) == (encode_cursor(RECORDS), False)


# --- the notices inbox -------------------------------------------------------------


def _sealed(keyrings: dict[Party, KeyRing], plaintext: bytes) -> bytes:
    return seal(
        plaintext,
        sender=Party.HUB,
        recipient=AGENCY,
        keyring=keyrings[Party.HUB],
        content_type=CONTENT_TYPE_NOTICES,
        now=datetime.now(UTC),
    )


@pytest.mark.parametrize(
    "plaintext", [b"[1, 2]", b'"notices"', b"not json", b"\xff\xfe", b"[" * 100_000]
)
def test_a_batch_that_is_not_a_json_object_is_refused_and_not_stored(
    gateway: Gateway, keyrings: dict[Party, KeyRing], plaintext: bytes
) -> None:
    reply = _deliver(gateway, _sealed(keyrings, plaintext))
    assert _error(reply) == (HTTPStatus.BAD_REQUEST, "envelope_rejected")
    assert gateway.config.store.count() == 0


def test_a_body_nested_deeper_than_python_parses_is_not_an_envelope(gateway: Gateway) -> None:
    reply = _deliver(gateway, b"[" * 100_000 + b"]" * 100_000)
    assert _error(reply)[0] == HTTPStatus.BAD_REQUEST
    assert gateway.config.store.count() == 0


def test_a_receipt_says_when_the_gateway_received_the_batch(
    gateway: Gateway, keyrings: dict[Party, KeyRing]
) -> None:
    sealed_at = datetime.now(UTC)
    envelope = notice_batch(keyrings[Party.HUB], AGENCY, 1, now=sealed_at)
    reply = _deliver(gateway, envelope)
    receipt = json.loads(_json(reply)["receipt"])
    received = datetime.strptime(receipt["received_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert received - sealed_at >= GATEWAY_AHEAD - timedelta(seconds=1)
    assert receipt["digest"] == wire_digest(envelope)


def test_an_envelope_sealed_just_outside_five_minutes_is_stale(
    gateway: Gateway, keyrings: dict[Party, KeyRing]
) -> None:
    hub = keyrings[Party.HUB]
    # The gateway's clock is two minutes ahead: these are sealed 4 and 6 minutes before it.
    inside = notice_batch(hub, AGENCY, 1, now=datetime.now(UTC) - timedelta(minutes=2))
    outside = notice_batch(hub, AGENCY, 2, now=datetime.now(UTC) - timedelta(minutes=4))
    assert _deliver(gateway, inside).status == HTTPStatus.OK
    assert _error(_deliver(gateway, outside)) == (HTTPStatus.BAD_REQUEST, "stale_envelope")


def test_an_envelope_sent_again_with_surrounding_whitespace_gets_the_same_receipt(
    gateway: Gateway, keyrings: dict[Party, KeyRing]
) -> None:
    envelope = notice_batch(keyrings[Party.HUB], AGENCY, 1)
    first = _deliver(gateway, envelope)
    again = _deliver(gateway, b"\n  " + envelope + b"\r\n")
    assert (first.status, again.body) == (HTTPStatus.OK, first.body)
    assert gateway.config.store.count() == 1


def test_a_batch_sealed_with_keys_the_gateway_does_not_know_is_refused(
    gateway: Gateway, tmp_path: Path
) -> None:
    strangers = make_keys(tmp_path / "other-keys")
    envelope = notice_batch(strangers[Party.HUB], AGENCY, 1)
    reply = _deliver(gateway, envelope)
    assert _error(reply) == (HTTPStatus.BAD_REQUEST, "envelope_rejected")
    assert _json(reply)["reason"].endswith("is not in the key ring.")
    assert gateway.config.store.count() == 0


# --- the listing -------------------------------------------------------------------


@pytest.fixture
def three_stored(gateway: Gateway, keyrings: dict[Party, KeyRing]) -> Gateway:
    for number in range(3):
        reply = _deliver(gateway, notice_batch(keyrings[Party.HUB], AGENCY, number))
        assert reply.status == HTTPStatus.OK
    return gateway


def test_the_listing_returns_the_batches_after_a_number_oldest_first(three_stored: Gateway) -> None:
    every = _json(_listing(three_stored))
    seqs = [row["seq"] for row in every["notices"]]
    assert len(seqs) == 3
    assert seqs == sorted(seqs)
    assert every["last"] == seqs[-1]
    first = every["notices"][0]
    assert set(first) == {
        "seq",
        "msg_id",
        "digest",
        "sender",
        "content_type",
        "received_at",
        "batch",
    }
    assert (first["sender"], first["content_type"]) == ("hub", CONTENT_TYPE_NOTICES)
    assert first["batch"]["batch"] == 0
    after = _json(_listing(three_stored, after=str(seqs[0])))
    assert [row["seq"] for row in after["notices"]] == seqs[1:]
    one = _json(_listing(three_stored, after=str(seqs[0]), limit="1"))
    assert ([row["seq"] for row in one["notices"]], one["last"]) == ([seqs[1]], seqs[1])


def test_a_listing_past_the_last_batch_is_empty_and_keeps_the_number(
    three_stored: Gateway,
) -> None:
    assert _json(_listing(three_stored, after="99")) == {"notices": [], "last": 99}


@pytest.mark.parametrize(
    "query",
    [{"after": "x"}, {"after": "-1"}, {"limit": "0"}, {"limit": "many"}, {"after": ""}],
    ids=["after-text", "after-negative", "limit-zero", "limit-text", "after-empty"],
)
def test_a_listing_with_a_bad_number_is_an_invalid_query(
    three_stored: Gateway, query: dict[str, str]
) -> None:
    assert _error(_listing(three_stored, **query)) == (HTTPStatus.BAD_REQUEST, "invalid_query")


# --- the store ------------------------------------------------------------------


def _notice(digest: str) -> NewNotice:
    return NewNotice(
        msg_id="a" * 32,
        digest=digest,
        sender="hub",
        content_type=CONTENT_TYPE_NOTICES,
        received_at=format_sealed_at(datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        batch='{"notices": []}',
    )


def test_the_store_keeps_one_receipt_per_msg_id(tmp_path: Path) -> None:
    store = NoticeStore(tmp_path / "state")
    try:
        assert store.add(_notice("1" * 64), b"first receipt") == b"first receipt"
        assert store.add(_notice("1" * 64), b"second receipt") == b"first receipt"
        with pytest.raises(MsgIdConflictError):
            store.add(_notice("2" * 64), b"third receipt")
        assert store.count() == 1
    finally:
        store.close()


def test_the_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = NoticeStore(tmp_path / "state")
    try:
        assert stat.S_IMODE(store.path.stat().st_mode) & 0o077 == 0
    finally:
        store.close()
