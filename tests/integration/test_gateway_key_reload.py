"""A running reference gateway takes up key changes at its next request, without a restart.

A key revoked while `arms-sync gateway` runs is refused from the next request
on: with no usable signing key of its own it answers notices with 503
`no_signing_key` and feed pages with 503 `no_sealing_key` (each with
`Retry-After`), and an envelope signed by a revoked hub key, or sealed to its
own revoked encryption key, is refused. After a rotation it serves again, still
without a restart; a gateway started while its keys are revoked starts, warns,
and answers the same way. A real gateway process on loopback, real keys made
by the test.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from sync.crypto import Party
from sync.crypto.keyring import generate_party, list_keys, load_keyring, revoke, rotate
from sync.crypto.keys import KeyStatus, KeyUse
from sync.errors import KeyError_
from sync.gateway.keys import LiveKeyRing
from sync.gateway.receipt import verify_receipt
from sync.gateway.retry import utc_now
from sync.gateway.service import (
    MISSING_KEY_RETRY_AFTER_SECONDS,
    NO_SEALING_KEY_CODE,
    NO_SIGNING_KEY_CODE,
)
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    make_keys,
    notice_batch,
    start_gateway,
    write_feed,
)

pytestmark = pytest.mark.integration

AGENCY = Party.POLICE
TIMEOUT = 5


def _token(url: str) -> str:
    response = requests.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _post(url: str, envelope: bytes) -> requests.Response:
    return requests.post(
        f"{url}/notices",
        data=envelope,
        headers={"Authorization": f"Bearer {_token(url)}", "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )


def _page(url: str) -> requests.Response:
    return requests.get(
        f"{url}/feed", headers={"Authorization": f"Bearer {_token(url)}"}, timeout=TIMEOUT
    )


def _active_key(keys: Path, party: Party) -> str:
    return next(
        info.key_id
        for info in list_keys(keys)
        if info.party is party and info.use is KeyUse.SIGN and info.status is KeyStatus.ACTIVE
    )


def _assert_unavailable(response: requests.Response, code: str) -> None:
    assert response.status_code == 503
    assert response.json()["error"] == code
    assert response.headers["Retry-After"] == str(MISSING_KEY_RETRY_AFTER_SECONDS)


def _assert_receipt(response: requests.Response, keys: Path) -> None:
    """A 200 whose receipt the hub, with the ring as it is now, verifies."""
    assert response.status_code == 200, response.text
    verify_receipt(
        response.json(), keyring=load_keyring(keys, Party.HUB), agency=AGENCY, now=utc_now()
    )


def _gateway(tmp_path: Path, keys: Path) -> RunningGateway:
    feed = tmp_path / "police.jsonl"
    if not feed.exists():
        write_feed(feed, AGENCY.value, 5)
    return start_gateway(
        agency=AGENCY, feed=feed, keys=keys, state=tmp_path / "state", cwd=tmp_path
    )


def _stored_count(url: str) -> int:
    return int(requests.get(f"{url}/health", timeout=TIMEOUT).json()["notices"])


def test_its_own_key_revoked_while_it_runs_gives_503_until_a_rotation(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    gateway = _gateway(tmp_path, keys)
    try:
        url = gateway.url
        _assert_receipt(_post(url, notice_batch(load_keyring(keys, Party.HUB), AGENCY, 1)), keys)
        assert _page(url).status_code == 200

        hub_before = load_keyring(keys, Party.HUB)  # the hub has not heard of the revocation
        revoke(keys, AGENCY, _active_key(keys, AGENCY))
        _assert_unavailable(_post(url, notice_batch(hub_before, AGENCY, 2)), NO_SIGNING_KEY_CODE)
        _assert_unavailable(_page(url), NO_SEALING_KEY_CODE)
        assert _stored_count(url) == 1

        rotate(keys, AGENCY, timedelta(days=1))
        _assert_receipt(_post(url, notice_batch(load_keyring(keys, Party.HUB), AGENCY, 3)), keys)
        assert _page(url).status_code == 200
        assert _stored_count(url) == 2
    finally:
        assert gateway.stop() == 0


def test_an_envelope_sealed_to_its_revoked_encryption_key_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    rings = make_keys(keys)
    gateway = _gateway(tmp_path, keys)
    try:
        sealed_before = notice_batch(rings[Party.HUB], AGENCY, 1)  # to the key about to go
        revoke(keys, AGENCY, _active_key(keys, AGENCY))
        rotate(keys, AGENCY, timedelta(days=1))
        refused = _post(gateway.url, sealed_before)
        assert refused.status_code == 400
        assert refused.json()["error"] == "envelope_rejected"
        assert "revoked" in refused.json()["reason"]
        fresh = notice_batch(load_keyring(keys, Party.HUB), AGENCY, 1)
        _assert_receipt(_post(gateway.url, fresh), keys)
    finally:
        assert gateway.stop() == 0


def test_an_envelope_signed_by_a_hub_key_revoked_while_it_runs_is_refused(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    rings = make_keys(keys)
    gateway = _gateway(tmp_path, keys)
    try:
        _assert_receipt(_post(gateway.url, notice_batch(rings[Party.HUB], AGENCY, 1)), keys)
        revoke(keys, Party.HUB, _active_key(keys, Party.HUB))
        refused = _post(gateway.url, notice_batch(rings[Party.HUB], AGENCY, 2))
        assert refused.status_code == 400
        assert refused.json()["error"] == "envelope_rejected"
        assert "revoked" in refused.json()["reason"]
        # Nor can it seal a page to the hub, whose encryption key went with it.
        _assert_unavailable(_page(gateway.url), NO_SEALING_KEY_CODE)
        rotate(keys, Party.HUB, timedelta(days=1))
        _assert_receipt(
            _post(gateway.url, notice_batch(load_keyring(keys, Party.HUB), AGENCY, 3)), keys
        )
        assert _page(gateway.url).status_code == 200
    finally:
        assert gateway.stop() == 0


def test_a_gateway_started_without_its_signing_key_warns_and_answers_503(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    rings = make_keys(keys)
    revoke(keys, AGENCY, _active_key(keys, AGENCY))
    gateway = _gateway(tmp_path, keys)
    try:
        _assert_unavailable(
            _post(gateway.url, notice_batch(rings[Party.HUB], AGENCY, 1)), NO_SIGNING_KEY_CODE
        )
        _assert_unavailable(_page(gateway.url), NO_SEALING_KEY_CODE)
        rotate(keys, AGENCY, timedelta(days=1))
        _assert_receipt(
            _post(gateway.url, notice_batch(load_keyring(keys, Party.HUB), AGENCY, 2)), keys
        )
    finally:
        assert gateway.stop() == 0
    said = gateway.log.read_text(encoding="utf-8")
    assert (
        "Warning: Police has no active signing key; rotate to make one with "
        "`arms-sync keys rotate --party police`; until then" in said
    )
    assert "Error:" not in said


def test_a_ring_that_cannot_be_read_again_is_not_replaced_by_the_one_read_before(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    ring_file = keys / "ring.json"
    good = ring_file.read_bytes()
    live = LiveKeyRing(keys, AGENCY)
    assert live.current().me is AGENCY
    ring_file.write_bytes(b"{ not a ring")
    with pytest.raises(KeyError_, match="cannot be read"):
        live.current()
    ring_file.write_bytes(good + b"\n")
    assert live.current().own_signing_key()[0] == _active_key(keys, AGENCY)


def test_its_signing_key_file_taken_away_and_put_back_is_seen_without_a_restart(
    tmp_path: Path,
) -> None:
    """Only the private key folder changes (the ring file does not): the ring is still
    read again, so the gateway stops signing when the file goes and signs once it is back."""
    keys = tmp_path / "keys"
    make_keys(keys)
    key_id = _active_key(keys, AGENCY)
    (private,) = (keys / "private" / AGENCY.value).glob(f"sign-{key_id}.pem")
    pem = private.read_bytes()
    live = LiveKeyRing(keys, AGENCY)
    assert live.current().own_signing_key()[0] == key_id
    private.unlink()
    with pytest.raises(KeyError_):
        live.current().own_signing_key()
    time.sleep(0.05)  # past the file system's timestamp granularity
    private.write_bytes(pem)
    assert live.current().own_signing_key()[0] == key_id


def test_a_gateway_started_while_the_hub_s_keys_are_revoked_warns_and_waits_for_them(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    revoke(keys, Party.HUB, _active_key(keys, Party.HUB))
    gateway = _gateway(tmp_path, keys)
    try:
        _assert_unavailable(_page(gateway.url), NO_SEALING_KEY_CODE)
        rotate(keys, Party.HUB, timedelta(days=1))
        assert _page(gateway.url).status_code == 200
    finally:
        assert gateway.stop() == 0
    said = gateway.log.read_text(encoding="utf-8")
    assert (
        "Warning: Hub has no active encryption key; rotate to make one with "
        "`arms-sync keys rotate --party hub`; until then this gateway answers "
        "feed pages with 503."
    ) in said
    assert "this gateway refuses the hub's new notice batches." in said


def test_a_gateway_whose_ring_holds_no_key_of_the_hub_does_not_start(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate_party(keys, AGENCY)
    with pytest.raises(RuntimeError, match="did not start"):
        _gateway(tmp_path, keys).stop()  # stopped should it start after all
    said = (tmp_path / "gateway-stderr.log").read_text(encoding="utf-8")
    assert "holds no keys of the hub; import them with `arms-sync keys import" in said
    assert "Traceback" not in said


def test_a_gateway_whose_active_signing_key_file_is_missing_does_not_start(
    tmp_path: Path,
) -> None:
    """Unlike a revoked key, a missing private file of the active key is refused at start."""
    keys = tmp_path / "keys"
    make_keys(keys)
    key_id = _active_key(keys, AGENCY)
    (keys / "private" / AGENCY.value / f"sign-{key_id}.pem").unlink()
    with pytest.raises(RuntimeError, match="did not start"):
        _gateway(tmp_path, keys).stop()  # stopped should it start after all
    said = (tmp_path / "gateway-stderr.log").read_text(encoding="utf-8")
    assert f"the private key for {key_id} is not in the key directory" in said.lower()
    assert "Traceback" not in said
