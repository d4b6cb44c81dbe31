"""A delivery the gateway refuses says why, naming the keys concerned.

The hub rotated its keys and ran before the agency imported them: the
gateway refuses the new batches, and the pass's failure (a run's
`delivery_errors` entry, a deliver task's `failure`) names the keys the
envelope was sealed under (never the gateway's own sentence). An agency that
rotated its keys before the hub imported them signs its receipt with a key
the hub does not hold: the failure names that key and the command that
imports it. A real run on an SQLite ledger, real keys, the reference gateway
on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from sync.crypto import Party
from sync.crypto.keyring import list_keys, load_keyring, rotate
from sync.crypto.keys import KeyStatus, KeyUse
from sync.cycle import run_cycle
from sync.delivery import deliver_when_free
from sync.feeds.files import PlainFileSource
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.integration.gateway_process import make_keys
from tests.integration.test_gateway_retry_after import TODAY
from tests.integration.test_outbox_key_changes import AGENCY, GRACE, SEED, SUBJECTS, _gateway, _hub

pytestmark = pytest.mark.integration


def _active_key(keys: Path, party: Party, use: KeyUse) -> str:
    return next(
        info.key_id
        for info in list_keys(keys)
        if info.party is party and info.use is use and info.status is KeyStatus.ACTIVE
    )


def _active_sign_key(keys: Path, party: Party) -> str:
    return _active_key(keys, party, KeyUse.SIGN)


def _run(keys: Path, tmp_path: Path) -> None:
    """One run over synthetic feeds, leaving notice batches for both agencies in the outbox."""
    with _hub(keys, tmp_path) as app:
        feeds = tmp_path / "feeds"
        write_synthetic_feeds(feeds, SynthOptions(subjects=SUBJECTS, seed=SEED, today=TODAY))
        sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
        run_cycle(app, sources, TODAY)


def test_a_gateway_without_the_hub_s_new_keys_is_told_the_keys_the_envelope_names(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The pass's outcome and a worker's log line name the keys the hub sealed under (the
    gateway's own sentence is passed on nowhere)."""
    keys = tmp_path / "keys"
    make_keys(keys)
    agency_ring = load_keyring(keys, AGENCY)  # the agency has not imported the hub's new keys
    rotate(keys, Party.HUB, GRACE)
    _run(keys, tmp_path)
    with _hub(keys, tmp_path) as app, _gateway(agency_ring, tmp_path) as (client, store):
        delivery = deliver_when_free(app, AGENCY.value, client, ignore_schedule=True)
        assert delivery is not None
        assert store.count() == 0
    new_key = _active_sign_key(keys, Party.HUB)
    agency_key = _active_key(keys, AGENCY, KeyUse.ENCRYPT)
    refused = (
        f"the {AGENCY} gateway refused the envelope with HTTP 400 (envelope_rejected); the "
        f"envelope was signed with hub key {new_key} and sealed to {AGENCY} key {agency_key}"
    )
    assert delivery.why_waiting == f"{refused}."
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "sync.delivery"]
    assert logged == (
        f"delivery to {AGENCY.value} failed (EnvelopeRefusedError): {refused}; batch kept for retry"
    )


def test_a_receipt_signed_with_a_key_the_hub_lacks_names_the_key_and_the_import(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Said in the pass's outcome and in the log a background worker writes alike."""
    keys = tmp_path / "keys"
    make_keys(keys)
    _run(keys, tmp_path)
    agency_keys = tmp_path / "agency-keys"
    shutil.copytree(keys, agency_keys)
    rotate(agency_keys, AGENCY, timedelta(days=1))  # not yet imported by the hub
    with (
        _hub(keys, tmp_path) as app,
        _gateway(load_keyring(agency_keys, AGENCY), tmp_path) as (client, _),
    ):
        delivery = deliver_when_free(app, AGENCY.value, client, ignore_schedule=True)
        assert delivery is not None
    new_key = _active_sign_key(agency_keys, AGENCY)
    assert delivery.why_waiting == (
        f"the {AGENCY} gateway's receipt does not verify: it is signed with key {new_key}, "
        f"which this key ring does not hold; import {AGENCY}'s current public keys with "
        f"`arms-sync keys import --party {AGENCY.value} RING`."
    )
    (logged,) = [r.getMessage() for r in caplog.records if r.name == "sync.delivery"]
    assert logged == (
        f"delivery to {AGENCY.value} failed (PermanentGatewayError): "
        f"{delivery.why_waiting.removesuffix('.')}; batch kept for retry"
    )
