"""The gateway over real HTTP on loopback: tokens, feed pages, the notices inbox.

A real `arms-sync gateway` process with real keys made in a temporary folder,
and the hub's `GatewayClient` talking to it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from sync.crypto import CONTENT_TYPE_FEED, KeyRing, Party, open_envelope, seal
from sync.crypto.envelope import wire_digest
from sync.crypto.keyring import load_keyring, rotate
from sync.errors import STALE_ENVELOPE_CODE, PermanentGatewayError
from sync.gateway.client import GatewayClient
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    launch,
    make_client,
    make_keys,
    notice_batch,
    start_gateway,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE
FEED_RECORDS = 30
PAGE_LIMIT = 7


@dataclass
class Setup:
    """Keys, feed and a running gateway shared by the tests of this module."""

    root: Path
    keys: Path
    keyrings: dict[Party, KeyRing]
    feed: Path
    records: list[dict[str, object]]
    gateway: RunningGateway

    @property
    def hub(self) -> KeyRing:
        return self.keyrings[Party.HUB]

    def client(self, *, client_secret: str = CLIENT_SECRET) -> GatewayClient:
        return make_client(self.gateway.url, self.hub, AGENCY, client_secret=client_secret)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("gateway")
    keys = root / "keys"
    keyrings = make_keys(keys)
    feed = root / "police.jsonl"
    records = write_feed(feed, AGENCY.value, FEED_RECORDS)
    gateway = start_gateway(agency=AGENCY, feed=feed, keys=keys, state=root / "state", cwd=root)
    try:
        yield Setup(root, keys, keyrings, feed, records, gateway)
    finally:
        gateway.stop()


def _records(hub: KeyRing, envelope: bytes) -> list[dict[str, object]]:
    opened = open_envelope(
        envelope,
        keyring=hub,
        now=datetime.now(UTC),
        max_skew=timedelta(minutes=5),
        replay_guard=None,
    )
    assert opened.header.sender is AGENCY
    assert opened.header.content_type == CONTENT_TYPE_FEED
    return [json.loads(line) for line in opened.plaintext.splitlines()]


def _token(url: str) -> str:
    response = requests.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=5,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _stored(url: str) -> list[dict[str, object]]:
    response = requests.get(
        f"{url}/notices", headers={"Authorization": f"Bearer {_token(url)}"}, timeout=5
    )
    response.raise_for_status()
    return list(response.json()["notices"])


# --- authentication ----------------------------------------------------------


def test_health_is_open_and_every_other_endpoint_needs_a_token(setup: Setup) -> None:
    url = setup.gateway.url
    health = requests.get(f"{url}/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["records"] == FEED_RECORDS
    for method, path in (("GET", "/feed"), ("GET", "/notices"), ("POST", "/notices")):
        response = requests.request(method, f"{url}{path}", timeout=5)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = requests.get(f"{url}/feed", headers={"Authorization": "Bearer forged"}, timeout=5)
    assert bad.status_code == 401


def test_a_request_without_a_token_is_refused_before_its_body_is_read(setup: Setup) -> None:
    """Announcing a large body buys no one without a token the gateway's memory or time."""
    host, port = urlsplit(setup.gateway.url).hostname, urlsplit(setup.gateway.url).port
    announced = 32 * 1024 * 1024
    with socket.create_connection((str(host), int(port or 0)), timeout=5) as connection:
        connection.sendall(
            b"POST /notices HTTP/1.1\r\nHost: gateway\r\n"
            + f"Content-Length: {announced}\r\n\r\n".encode()
            + b"only the first bytes"
        )
        answer = connection.recv(4096)
    assert answer.split(b"\r\n", 1)[0].endswith(b" 401 Unauthorized")


def test_token_by_form_and_by_basic(setup: Setup) -> None:
    url = setup.gateway.url
    form = requests.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=5,
    )
    basic = requests.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    for response in (form, basic):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] > 0
        assert response.headers["Cache-Control"] == "no-store"
    assert form.json()["access_token"] != basic.json()["access_token"]


def test_wrong_credentials_and_grants_are_refused(setup: Setup) -> None:
    url = setup.gateway.url
    wrong = requests.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, "not-the-secret"),
        timeout=5,
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    grant = requests.post(
        f"{url}/oauth/token",
        data={"grant_type": "password"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    with (
        setup.client(client_secret="not-the-secret") as client,
        pytest.raises(PermanentGatewayError, match="client credentials"),
    ):
        client.fetch_page(None, PAGE_LIMIT)


SPECIAL_ID = "hub id+1/ä"
SPECIAL_SECRET = "pa+ss%20wörd:x"


def test_credentials_with_special_characters_reach_the_gateway_form_encoded(
    setup: Setup, tmp_path: Path
) -> None:
    gateway = start_gateway(
        agency=AGENCY,
        feed=setup.feed,
        keys=setup.keys,
        state=tmp_path / "state",
        cwd=tmp_path,
        client_id=SPECIAL_ID,
        client_secret=SPECIAL_SECRET,
    )
    try:
        with make_client(
            gateway.url,
            setup.hub,
            AGENCY,
            client_id=SPECIAL_ID,
            client_secret=SPECIAL_SECRET,
        ) as client:
            pages = list(client.pages(None, PAGE_LIMIT))
            batch = notice_batch(setup.hub, AGENCY, 1)
            receipt = client.deliver(batch)
        with (
            make_client(gateway.url, setup.hub, AGENCY, client_id=SPECIAL_ID) as plain,
            pytest.raises(PermanentGatewayError, match="client credentials"),
        ):
            plain.fetch_page(None, PAGE_LIMIT)
    finally:
        assert gateway.stop() == 0
    pulled = [
        record for page in pages if page.envelope for record in _records(setup.hub, page.envelope)
    ]
    assert pulled == setup.records
    assert receipt.msg_id == json.loads(batch)["header"]["msg_id"]


def test_unknown_paths_are_404(setup: Setup) -> None:
    assert requests.get(f"{setup.gateway.url}/nothing-here", timeout=5).status_code == 404


# --- the feed ----------------------------------------------------------------


def test_pages_cover_the_feed_once_in_order(setup: Setup) -> None:
    with setup.client() as client:
        pages = list(client.pages(None, PAGE_LIMIT))
        assert [page.more for page in pages] == [True] * (len(pages) - 1) + [False]
        pulled = [
            record
            for page in pages
            if page.envelope
            for record in _records(setup.hub, page.envelope)
        ]
        assert pulled == setup.records
        after_end = client.fetch_page(pages[-1].next, PAGE_LIMIT)
    assert after_end.envelope is None
    assert after_end.more is False
    assert after_end.next == pages[-1].next


def test_a_new_client_resumes_from_a_saved_cursor(setup: Setup) -> None:
    with setup.client() as first:
        page = first.fetch_page(None, PAGE_LIMIT)
    with setup.client() as second:
        resumed = second.fetch_page(page.next, PAGE_LIMIT)
    assert resumed.envelope is not None
    assert _records(setup.hub, resumed.envelope) == setup.records[PAGE_LIMIT : 2 * PAGE_LIMIT]


def test_each_page_is_sealed_afresh(setup: Setup) -> None:
    with setup.client() as client:
        one = client.fetch_page(None, PAGE_LIMIT)
        two = client.fetch_page(None, PAGE_LIMIT)
    assert one.next == two.next
    assert one.envelope is not None
    assert two.envelope is not None
    assert (
        json.loads(one.envelope)["header"]["msg_id"] != json.loads(two.envelope)["header"]["msg_id"]
    )


@pytest.mark.parametrize(
    ("since", "limit"), [("not-a-cursor", 5), (None, 0), (None, 10_001), ("djE6OTk5OQ", 5)]
)
def test_bad_cursors_and_limits_are_refused(setup: Setup, since: str | None, limit: int) -> None:
    with setup.client() as client, pytest.raises(PermanentGatewayError, match="HTTP 400"):
        client.fetch_page(since, limit)


def test_an_empty_feed_has_one_empty_page(setup: Setup, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    gateway = start_gateway(
        agency=AGENCY, feed=empty, keys=setup.keys, state=tmp_path / "s", cwd=tmp_path
    )
    try:
        with make_client(gateway.url, setup.hub, AGENCY) as client:
            page = client.fetch_page(None, PAGE_LIMIT)
    finally:
        gateway.stop()
    assert (page.envelope, page.more) == (None, False)


# --- the notices inbox ---------------------------------------------------------


def test_delivery_returns_a_signed_receipt_and_is_idempotent(setup: Setup) -> None:
    envelope = notice_batch(setup.hub, AGENCY, 1)
    before = len(_stored(setup.gateway.url))
    with setup.client() as client:
        receipt = client.deliver(envelope)
        again = client.deliver(envelope)
    assert receipt.msg_id == json.loads(envelope)["header"]["msg_id"]
    assert receipt.digest == wire_digest(envelope)
    assert again.raw == receipt.raw
    stored = _stored(setup.gateway.url)
    assert len(stored) == before + 1
    assert stored[-1]["msg_id"] == receipt.msg_id
    assert stored[-1]["batch"] == {
        "batch": 1,
        "notices": [{"kind": "ownership", "person_id": "P-000001"}],
    }


def test_a_copy_re_encoded_and_delivered_first_leaves_the_genuine_one_its_receipt(
    setup: Setup,
) -> None:
    envelope = notice_batch(setup.hub, AGENCY, 7)
    copy = json.dumps(json.loads(envelope), indent=2).encode()
    before = len(_stored(setup.gateway.url))
    first = requests.post(
        f"{setup.gateway.url}/notices",
        data=copy,
        headers={
            "Authorization": f"Bearer {_token(setup.gateway.url)}",
            "Content-Type": "application/json",
        },
        timeout=5,
    )
    with setup.client() as client:
        receipt = client.deliver(envelope)
    assert first.status_code == 200
    assert receipt.digest == wire_digest(envelope)
    assert len(_stored(setup.gateway.url)) == before + 1


def test_a_re_encoded_copy_gets_the_same_receipt_whose_digest_is_of_the_canonical_encoding(
    setup: Setup,
) -> None:
    """docs/gateway-openapi.yaml, Receipt.digest: SHA-256 of the canonical encoding, not of
    the bytes sent; a copy re-encoded on the way is the same envelope, not a 409."""
    envelope = notice_batch(setup.hub, AGENCY, 9)
    document = json.loads(envelope)
    copy = json.dumps({"sig": document["sig"], "ct": document["ct"], "header": document["header"]})
    copy_bytes = (" " + copy.replace(",", ", ") + "\n").encode()
    before = len(_stored(setup.gateway.url))
    first = _post_raw(setup.gateway.url, envelope)
    again = _post_raw(setup.gateway.url, copy_bytes)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    digest = json.loads(first.json()["receipt"])["digest"]
    assert digest == hashlib.sha256(envelope).hexdigest() == wire_digest(copy_bytes)
    assert digest != hashlib.sha256(copy_bytes.strip()).hexdigest()
    assert len(_stored(setup.gateway.url)) == before + 1


def test_a_reused_msg_id_with_another_envelope_is_409(setup: Setup) -> None:
    first = notice_batch(setup.hub, AGENCY, 2)
    msg_id = json.loads(first)["header"]["msg_id"]
    second = notice_batch(setup.hub, AGENCY, 3, msg_id=msg_id)
    with setup.client() as client:
        client.deliver(first)
        with pytest.raises(PermanentGatewayError, match=r"HTTP 409 \(msg_id_conflict\)"):
            client.deliver(second)
    assert [row["msg_id"] for row in _stored(setup.gateway.url)].count(msg_id) == 1


def _post_raw(url: str, body: bytes) -> requests.Response:
    return requests.post(
        f"{url}/notices",
        data=body,
        headers={"Authorization": f"Bearer {_token(url)}", "Content-Type": "application/json"},
        timeout=5,
    )


def _bad_envelopes(setup: Setup) -> dict[str, bytes]:
    hub = setup.hub
    good = notice_batch(hub, AGENCY, 4)
    document = json.loads(good)
    document["ct"] = document["ct"][:-8] + "AAAAAAA="
    return {
        "not json": b"\x00 not an envelope",
        "plain record": b'{"type": "person"}',
        "to probation": notice_batch(hub, Party.PROBATION, 5),
        "tampered": json.dumps(document).encode(),
        "feed content": seal(
            b"{}",
            sender=Party.HUB,
            recipient=AGENCY,
            keyring=hub,
            content_type=CONTENT_TYPE_FEED,
            now=datetime.now(UTC),
        ),
        "from probation": seal(
            b"{}",
            sender=Party.PROBATION,
            recipient=AGENCY,
            keyring=setup.keyrings[Party.PROBATION],
            content_type="application/json; profile=notice-batch",
            now=datetime.now(UTC),
        ),
    }


def test_bad_envelopes_are_400_with_one_sentence_and_nothing_stored(setup: Setup) -> None:
    """Each refusal is logged with its reason, which the hub does not keep
    (docs/operations.md): the gateway's operator finds it in the gateway's log."""
    url = setup.gateway.url
    before = len(_stored(url))
    reasons = []
    for body in _bad_envelopes(setup).values():
        response = _post_raw(url, body)
        assert response.status_code == 400
        answer = response.json()
        assert answer["error"] == "envelope_rejected"
        assert answer["reason"].endswith(".")
        reasons.append(answer["reason"])
    assert len(_stored(url)) == before
    logged = setup.gateway.log.read_text(encoding="utf-8").splitlines()
    for reason in reasons:
        line = f"Warning: POST /notices refused: 400 envelope_rejected: {reason}"
        assert line in logged


def test_a_stale_envelope_is_refused_as_stale(setup: Setup) -> None:
    stale = notice_batch(setup.hub, AGENCY, 6, now=datetime.now(UTC) - timedelta(hours=1))
    response = _post_raw(setup.gateway.url, stale)
    assert (response.status_code, response.json()["error"]) == (400, STALE_ENVELOPE_CODE)


def test_receipts_survive_a_restart(setup: Setup, tmp_path: Path) -> None:
    state = tmp_path / "state"
    envelope = notice_batch(setup.hub, AGENCY, 7)
    first = start_gateway(
        agency=AGENCY, feed=setup.feed, keys=setup.keys, state=state, cwd=tmp_path
    )
    try:
        with make_client(first.url, setup.hub, AGENCY) as client:
            receipt = client.deliver(envelope)
    finally:
        assert first.stop() == 0
    second = start_gateway(
        agency=AGENCY, feed=setup.feed, keys=setup.keys, state=state, cwd=tmp_path
    )
    try:
        with make_client(second.url, setup.hub, AGENCY) as client:
            again = client.deliver(envelope)
        stored = _stored(second.url)
    finally:
        assert second.stop() == 0
    assert again.raw == receipt.raw
    assert [row["msg_id"] for row in stored] == [receipt.msg_id]


def test_a_batch_delivered_again_after_the_gateway_s_key_rotation_gets_a_receipt_that_verifies(
    setup: Setup, tmp_path: Path
) -> None:
    keys, state = tmp_path / "keys", tmp_path / "state"
    shutil.copytree(setup.keys, keys)
    envelope = notice_batch(setup.hub, AGENCY, 8)
    first = start_gateway(agency=AGENCY, feed=setup.feed, keys=keys, state=state, cwd=tmp_path)
    try:
        with make_client(first.url, setup.hub, AGENCY) as client:
            receipt = client.deliver(envelope)  # the hub lost this answer, say
    finally:
        assert first.stop() == 0
    rotate(keys, AGENCY, timedelta(0))  # the old key is past its grace at once
    hub_now = load_keyring(keys, Party.HUB)
    second = start_gateway(agency=AGENCY, feed=setup.feed, keys=keys, state=state, cwd=tmp_path)
    try:
        with make_client(second.url, hub_now, AGENCY) as client:
            again = client.deliver(envelope)
        stored = _stored(second.url)
    finally:
        assert second.stop() == 0
    assert (again.msg_id, again.digest, again.received_at) == (
        receipt.msg_id,
        receipt.digest,
        receipt.received_at,
    )
    assert json.loads(again.raw)["key_id"] != json.loads(receipt.raw)["key_id"]
    assert [row["msg_id"] for row in stored] == [receipt.msg_id]  # stored once


# --- the command ------------------------------------------------------------


def test_sigterm_stops_the_gateway_cleanly(setup: Setup, tmp_path: Path) -> None:
    gateway = start_gateway(
        agency=AGENCY, feed=setup.feed, keys=setup.keys, state=tmp_path / "s", cwd=tmp_path
    )
    assert requests.get(f"{gateway.url}/health", timeout=5).status_code == 200
    assert gateway.stop() == 0
    assert "gateway stopped" in gateway.log.read_text(encoding="utf-8")


def test_missing_credentials_are_a_usage_error(setup: Setup, tmp_path: Path) -> None:
    with launch(
        "gateway",
        "--agency",
        "police",
        "--feed",
        str(setup.feed),
        "--keys",
        str(setup.keys),
        cwd=tmp_path,
        env={"ARMS_SYNC_GATEWAY_CLIENT_ID": "", "ARMS_SYNC_GATEWAY_CLIENT_SECRET": ""},
    ) as process:
        assert process.wait(timeout=30) == 2
    message = (tmp_path / "gateway-stderr.log").read_text(encoding="utf-8")
    assert "--client-secret" in message
    assert "Traceback" not in message


def test_credentials_may_come_from_the_environment(setup: Setup, tmp_path: Path) -> None:
    process = launch(
        "gateway",
        "--agency",
        "police",
        "--feed",
        str(setup.feed),
        "--keys",
        str(setup.keys),
        "--state",
        str(tmp_path / "s"),
        "--port",
        "0",
        cwd=tmp_path,
        env={
            "ARMS_SYNC_GATEWAY_CLIENT_ID": CLIENT_ID,
            "ARMS_SYNC_GATEWAY_CLIENT_SECRET": CLIENT_SECRET,
        },
    )
    assert process.stdout is not None
    url = process.stdout.readline().removeprefix("listening on ").strip()
    gateway = RunningGateway(process, url, tmp_path / "gateway-stderr.log")
    try:
        with make_client(url, setup.hub, AGENCY) as client:
            assert client.fetch_page(None, 1).more is True
    finally:
        assert gateway.stop() == 0
