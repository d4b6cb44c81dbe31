"""A reference gateway that cannot sign answers 503, stores nothing, and recovers.

A gateway whose own signing key was revoked (and not yet replaced), or whose
private signing key is missing, can give no receipt. It tells the hub so in a
503 with `Retry-After`, rather than failing with a 500; the hub keeps the batch
and tries again. Once the gateway's keys are rotated, a batch it stored before
gets its receipt. Feed pages it cannot seal are refused the same way. Real
keys in a temporary folder; the gateway's methods are called in-process.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path

import pytest

from sync.crypto import KeyRing, Party
from sync.crypto.keyring import list_keys, load_keyring, revoke, rotate
from sync.crypto.keys import KeyStatus, KeyUse
from sync.gateway.feed import FeedFile
from sync.gateway.oauth import TokenIssuer
from sync.gateway.receipt import verify_receipt
from sync.gateway.service import (
    MISSING_KEY_RETRY_AFTER_SECONDS,
    NO_SEALING_KEY_CODE,
    NO_SIGNING_KEY_CODE,
    Gateway,
    GatewayConfig,
    Reply,
    Request,
)
from sync.gateway.store import NoticeStore
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    make_keys,
    notice_batch,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE


def _gateway(keyring: KeyRing, tmp_path: Path) -> Gateway:
    """The police gateway keeping its notices in `tmp_path`, opening with `keyring`."""
    feed = tmp_path / "feed.jsonl"
    if not feed.exists():
        write_feed(feed, AGENCY.value, 3)
    return Gateway(
        GatewayConfig(
            agency=AGENCY,
            keyring=keyring,
            feed=FeedFile(feed),
            store=NoticeStore(tmp_path / "state"),
            tokens=TokenIssuer(CLIENT_ID, CLIENT_SECRET),
        )
    )


def _deliver(gateway: Gateway, envelope: bytes) -> Reply:
    return gateway.receive_notices(Request("POST", "/notices", body=envelope))


def _assert_cannot_sign(reply: Reply, code: str = NO_SIGNING_KEY_CODE) -> None:
    assert reply.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert json.loads(reply.body)["error"] == code
    assert ("Retry-After", str(MISSING_KEY_RETRY_AFTER_SECONDS)) in reply.headers


def _own_signing_key_id(keys: Path) -> str:
    return next(
        info.key_id
        for info in list_keys(keys)
        if info.party is AGENCY and info.use is KeyUse.SIGN and info.status is KeyStatus.ACTIVE
    )


def test_a_batch_delivered_again_after_the_gateway_s_key_was_revoked_waits_for_a_new_key(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    rings = make_keys(keys)
    envelope = notice_batch(rings[Party.HUB], AGENCY, 1)
    first = _deliver(_gateway(rings[AGENCY], tmp_path), envelope)
    assert first.status == HTTPStatus.OK  # the hub lost this answer, say

    revoke(keys, AGENCY, _own_signing_key_id(keys))
    revoked = _gateway(load_keyring(keys, AGENCY), tmp_path)
    _assert_cannot_sign(_deliver(revoked, envelope))
    assert revoked.config.store.count() == 1

    rotate(keys, AGENCY, timedelta(0))
    rotated = _gateway(load_keyring(keys, AGENCY), tmp_path)
    again = _deliver(rotated, envelope)
    assert again.status == HTTPStatus.OK
    receipt = verify_receipt(
        json.loads(again.body),
        keyring=load_keyring(keys, Party.HUB),
        agency=AGENCY,
        now=datetime.now(UTC),
    )
    assert receipt.raw == again.body
    assert json.loads(receipt.raw)["receipt"] == json.loads(first.body)["receipt"]
    assert rotated.config.store.count() == 1


def test_a_new_batch_is_not_stored_by_a_gateway_without_its_private_signing_key(
    tmp_path: Path,
) -> None:
    rings = make_keys(tmp_path / "keys")
    without_signing_key = replace(rings[AGENCY], signing_keys={})
    gateway = _gateway(without_signing_key, tmp_path)
    _assert_cannot_sign(_deliver(gateway, notice_batch(rings[Party.HUB], AGENCY, 1)))
    assert gateway.config.store.count() == 0


def test_a_gateway_without_its_private_signing_key_cannot_serve_feed_pages(
    tmp_path: Path,
) -> None:
    rings = make_keys(tmp_path / "keys")
    gateway = _gateway(replace(rings[AGENCY], signing_keys={}), tmp_path)
    _assert_cannot_sign(gateway.feed_page(Request("GET", "/feed")), NO_SEALING_KEY_CODE)
    working = _gateway(rings[AGENCY], tmp_path).feed_page(Request("GET", "/feed"))
    assert working.status == HTTPStatus.OK
