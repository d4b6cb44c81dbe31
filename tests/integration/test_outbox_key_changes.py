"""Outbox batches that wait across a key change are still delivered, exactly once.

A batch is sealed when its decision pass is stored, under the hub's signing key
and the agency's encryption key of that moment. If it is still waiting when
either key is revoked (or its grace period ends), a batch never offered to
the gateway is sealed again under the current keys, same message id, before
it goes; one offered before (the gateway may have stored it) is sent as it
was, refused without being stored, then sealed again and delivered. A batch
refused under the current keys is left as it is. The reference gateway serves
on 127.0.0.1 from a thread of the test, its key ring loaded after the change,
as a restarted gateway would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync.app import App
from sync.crypto import KeyRing, Party
from sync.crypto.keyring import list_keys, load_keyring, revoke, rotate
from sync.crypto.keys import KeyStatus
from sync.cycle import NOTICES_HELD_FOR_KEYS, RunSummary, run_cycle
from sync.delivery import SignedReceipt, deliver_pass
from sync.errors import PermanentGatewayError, RetryableGatewayError
from sync.feeds.files import PlainFileSource
from sync.gateway.client import GatewayClient
from sync.gateway.store import NoticeStore
from sync.ledger import schema
from sync.settings import load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.integration.delivering import deliver_outbox
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, make_keys, write_feed
from tests.integration.gateway_thread import base_url, gateway_config, serving
from tests.integration.test_gateway_retry_after import RETRY, TODAY, Clock

pytestmark = pytest.mark.integration

AGENCY = Party.PROBATION
GRACE = timedelta(days=30)
SUBJECTS = 40
SEED = 7


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """Keys for every party; a stored run left notice batches in the hub's outbox."""
    folder = tmp_path / "keys"
    make_keys(folder)
    with _hub(folder, tmp_path) as app:
        feeds = tmp_path / "feeds"
        write_synthetic_feeds(feeds, SynthOptions(subjects=SUBJECTS, seed=SEED, today=TODAY))
        sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
        run_cycle(app, sources, TODAY)
    return folder


@contextmanager
def _hub(keys: Path, tmp_path: Path) -> Iterator[App]:
    """The hub on its SQLite ledger, its key ring read afresh (as a restarted process)."""
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 'hub.db'}", keys_dir=keys)
    app = App(settings, clock=Clock())
    app.ledger.ensure_schema()
    try:
        yield app
    finally:
        app.close()


@contextmanager
def _gateway(keyring: KeyRing, tmp_path: Path) -> Iterator[tuple[GatewayClient, NoticeStore]]:
    """The probation gateway opening with `keyring`, and the hub's client for it.

    Both key rings are read from the `keys` fixture's directory now.
    """
    feed = tmp_path / "feed.jsonl"
    write_feed(feed, AGENCY.value, 5)
    config = gateway_config(AGENCY, keyring, feed, tmp_path / "gateway-state")
    hub_ring = load_keyring(tmp_path / "keys", Party.HUB)
    with serving(config) as server:
        client = GatewayClient(
            base_url(server),
            agency=AGENCY,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            keyring=hub_ring,
            timeout=(2.0, 5.0),
            retry=RETRY,
        )
        with client:
            yield client, config.store


def _probation_column(app: App, column: str) -> list[Any]:
    """One column of every probation batch in the outbox, in delivery order."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        return list(
            conn.execute(
                select(table.c[column])
                .where(table.c.agency == AGENCY.value)
                .order_by(table.c.position)
            ).scalars()
        )


def _envelopes(app: App) -> list[bytes]:
    """Every probation envelope in the outbox, in delivery order."""
    return [bytes(envelope) for envelope in _probation_column(app, "envelope")]


def _key_ids(envelope: bytes) -> set[str]:
    header = json.loads(envelope)["header"]
    return {header["sender_key_id"], header["recipient_key_id"]}


def _queued_notice_ids(app: App) -> list[str]:
    table = schema.notices
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(table.c.notice_id).where(table.c.agency == AGENCY.value))
        return sorted(rows.scalars())


class RecordingClient:
    """The hub's client, keeping every envelope it is asked to deliver, in order."""

    def __init__(self, client: GatewayClient) -> None:
        self.client = client
        self.sent: list[bytes] = []

    def deliver(self, envelope: bytes) -> SignedReceipt:
        """Deliver through the real client, keeping the envelope."""
        self.sent.append(envelope)
        return self.client.deliver(envelope)


class UnansweredClient:
    """A gateway that does not answer (for now): a pass offers its first batch and stops."""

    def deliver(self, envelope: bytes) -> SignedReceipt:
        """Fail as a gateway that timed out does."""
        raise RetryableGatewayError("The probation gateway did not answer.")


def _offers(app: App) -> list[bool]:
    """Whether each probation batch, in delivery order, was offered to its gateway."""
    return [offered is not None for offered in _probation_column(app, "offered_at")]


def _offer_the_first_batch_unanswered(keys: Path, tmp_path: Path) -> None:
    """A delivery pass before the keys changed: the first batch was offered, then the
    gateway did not answer (it may have stored the batch), so the pass stopped."""
    with _hub(keys, tmp_path) as app:
        assert not any(_offers(app))
        failed = deliver_pass(app, AGENCY.value, UnansweredClient())
        assert failed.counts.failed == 1
        offers = _offers(app)
    assert offers == [True] + [False] * (len(offers) - 1)


@pytest.mark.parametrize("offered", [False, True], ids=["never-offered", "offered-before"])
@pytest.mark.parametrize("retired", [AGENCY, Party.HUB])
def test_a_batch_sealed_under_keys_revoked_since_is_sealed_again_and_delivered(
    keys: Path, tmp_path: Path, retired: Party, offered: bool
) -> None:
    if offered:
        _offer_the_first_batch_unanswered(keys, tmp_path)
    first = next(info for info in list_keys(keys) if info.party is retired)
    rotate(keys, retired, GRACE)
    revoke(keys, retired, first.key_id)
    revoked = {info.key_id for info in list_keys(keys) if info.status is KeyStatus.REVOKED}
    with _hub(keys, tmp_path) as app, _gateway(load_keyring(keys, AGENCY), tmp_path) as served:
        client, store = served
        before = _envelopes(app)
        assert all(_key_ids(envelope) & revoked for envelope in before)
        recording = RecordingClient(client)
        counts = deliver_outbox(app, AGENCY.value, recording, ignore_schedule=True)
        assert counts.pending == 0
        assert not any(_key_ids(envelope) & revoked for envelope in _envelopes(app))
        sent_under_revoked = [e for e in recording.sent if _key_ids(e) & revoked]
        # The batch offered before goes once more as it was, then sealed again once refused;
        # a batch never offered never goes under the old keys.
        assert sent_under_revoked == (before[:1] if offered else [])
        assert len(recording.sent) == len(before) + (1 if offered else 0)
        batches = [json.loads(row.batch) for row in store.after(0)]
        delivered = sorted(n["notice_id"] for batch in batches for n in batch["notices"])
        assert delivered == _queued_notice_ids(app)


def test_a_batch_refused_under_the_current_keys_is_left_as_sealed(
    keys: Path, tmp_path: Path
) -> None:
    # The gateway holds another party's key ring: it refuses every batch as misaddressed.
    with (
        _hub(keys, tmp_path) as app,
        _gateway(load_keyring(keys, Party.POLICE), tmp_path) as served,
    ):
        client, store = served
        before = _envelopes(app)
        with pytest.raises(PermanentGatewayError):
            deliver_outbox(app, AGENCY.value, client)
        assert _envelopes(app) == before
        assert store.count() == 0


def _outbox_rows(app: App) -> list[tuple[str, bytes, int]]:
    """Every batch's agency, envelope and attempts, in delivery order."""
    table = schema.outbox
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.agency, table.c.envelope, table.c.attempts).order_by(
                table.c.agency, table.c.position
            )
        ).all()
    return [(str(agency), bytes(envelope), int(tries)) for agency, envelope, tries in rows]


def _keys_with_one_revoked(tmp_path: Path, revoked: Party) -> Path:
    """Keys for every party, `revoked`'s only keys revoked (exposed, new ones not made yet)."""
    folder = tmp_path / "keys"
    make_keys(folder)
    only = next(info for info in list_keys(folder) if info.party is revoked)
    revoke(folder, revoked, only.key_id)
    return folder


def _run_over_synthetic_feeds(app: App, tmp_path: Path) -> RunSummary:
    """One run over a synthetic pair of feeds written into `tmp_path`."""
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=SUBJECTS, seed=SEED, today=TODAY))
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    return run_cycle(app, sources, TODAY)


def _deliver_all_once(keys: Path, tmp_path: Path) -> None:
    """Deliver the agency's whole outbox; every queued notice arrives, once."""
    with _hub(keys, tmp_path) as app, _gateway(load_keyring(keys, AGENCY), tmp_path) as served:
        client, store = served
        counts = deliver_outbox(app, AGENCY.value, client)
        batches = [json.loads(row.batch) for row in store.after(0)]
        assert counts.pending == 0
        delivered = sorted(n["notice_id"] for batch in batches for n in batch["notices"])
        assert delivered == _queued_notice_ids(app)


def test_an_agency_without_an_active_key_holds_back_its_own_notices_and_nothing_else(
    tmp_path: Path,
) -> None:
    folder = _keys_with_one_revoked(tmp_path, AGENCY)
    with _hub(folder, tmp_path) as app:
        summary = _run_over_synthetic_feeds(app, tmp_path)
        rows = _outbox_rows(app)
        with _gateway(load_keyring(folder, AGENCY), tmp_path) as served:
            client, store = served
            held = deliver_pass(app, AGENCY.value, client)
            assert store.count() == 0
    assert summary.subjects > 0
    assert list(summary.delivery_notes) == [AGENCY.value]
    assert summary.delivery_notes[AGENCY.value].startswith(NOTICES_HELD_FOR_KEYS)
    assert f"`arms-sync keys rotate --party {AGENCY.value}`" in summary.delivery_notes[AGENCY.value]
    kept = [envelope for agency, envelope, _ in rows if agency == AGENCY.value]
    sealed = [envelope for agency, envelope, _ in rows if agency != AGENCY.value]
    assert kept
    assert all(envelope == b"" for envelope in kept)
    assert sealed
    assert all(json.loads(envelope)["header"] for envelope in sealed)
    assert held.held is not None
    assert f"`arms-sync keys rotate --party {AGENCY.value}`" in held.held
    assert (held.failure, held.counts.delivered) == (None, 0)

    rotate(folder, AGENCY, GRACE)  # the agency's new keys, taken into the ring
    with _hub(folder, tmp_path) as app:
        tries = [tries for agency, _, tries in _outbox_rows(app) if agency == AGENCY.value]
    assert tries == [0] * len(kept)  # waiting for a key spent no attempt
    _deliver_all_once(folder, tmp_path)


@pytest.mark.parametrize("revoked", [AGENCY, Party.HUB])
def test_batches_sealed_before_a_key_was_revoked_wait_for_the_new_key_unsent(
    keys: Path, tmp_path: Path, revoked: Party
) -> None:
    only = next(info for info in list_keys(keys) if info.party is revoked)
    revoke(keys, revoked, only.key_id)  # no new keys yet: nothing may go out under the old
    with _hub(keys, tmp_path) as app, _gateway(load_keyring(keys, AGENCY), tmp_path) as served:
        client, store = served
        before = _envelopes(app)
        held = deliver_pass(app, AGENCY.value, client)
        assert store.count() == 0
        assert _envelopes(app) == before
    assert held.held is not None
    assert f"{revoked.value} has no active" in held.held
    assert (held.failure, held.counts.delivered, held.counts.failed) == (None, 0, 0)

    rotate(keys, revoked, GRACE)
    _deliver_all_once(keys, tmp_path)


def test_a_hub_without_an_active_signing_key_keeps_every_notice_and_still_decides(
    tmp_path: Path,
) -> None:
    folder = _keys_with_one_revoked(tmp_path, Party.HUB)
    with _hub(folder, tmp_path) as app:
        summary = _run_over_synthetic_feeds(app, tmp_path)
        rows = _outbox_rows(app)
    assert summary.subjects > 0
    assert sorted(summary.delivery_notes) == ["police", "probation"]
    assert all("rotate to make one" in note for note in summary.delivery_notes.values())
    assert rows
    assert all(envelope == b"" for _agency, envelope, _tries in rows)

    rotate(folder, Party.HUB, GRACE)
    _deliver_all_once(folder, tmp_path)
