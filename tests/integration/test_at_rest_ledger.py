"""The ledger's at-rest protection on both databases: payloads and reasons encrypted,
a ledger bound to its key, and a ledger written in plaintext before still read."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from sync.app import App, subject_id_minter
from sync.core.decide import Review
from sync.core.records import Agency, RecordRef
from sync.crypto.at_rest import FieldCipher, new_data_key
from sync.crypto.key_file import create_data_key_file
from sync.cycle import run_cycle
from sync.errors import ConfigurationError, CryptoError
from sync.exports import export_links, export_ownership, export_timeline
from sync.feeds.files import PlainFileSource
from sync.feeds.jsonl import Rejected
from sync.ingest import reject_row
from sync.ledger import schema
from sync.ledger.codec import TEXT_PREFIX, CipherCodec
from sync.ledger.reviews import store_reviews
from sync.ledger.store import content_digest
from sync.ledger.tables_manual import flag_acts, manual_links, review_items
from sync.reconcile.acts import Actor
from sync.reconcile.flags import resolve
from sync.reconcile.items import list_items
from sync.reconcile.links import unlink
from sync.reconcile.subject import subject_report
from sync.settings import Settings
from tests.integration.test_audit_log import personal_data_in, write_feeds

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
SECRET_REASON = "JONES Simon born 1972-03-20"
ACTOR = Actor("jsmith", SECRET_REASON)
PUBLIC_NAMESPACE = b"arms-sync/subject-id/v1"  # how ids were minted without a key directory
PROBATION_ONE = RecordRef(Agency.PROBATION, "P100001")
POLICE_ONE = RecordRef(Agency.POLICE, "LAN-1")


def _sources(folder: Path) -> dict[str, PlainFileSource]:
    probation, police = write_feeds(folder)
    return {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}


def _clock() -> datetime:
    return datetime(2026, 11, 28, 9, tzinfo=UTC)


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """An app over a ledger holding one run of the test feeds."""
    application = App(Settings(database_url=ledger_url), clock=_clock)
    run_cycle(application, _sources(tmp_path), AS_OF)
    yield application
    application.close()


def _exports(app: App) -> list[str]:
    ledger = app.ledger
    return [
        *export_links(ledger),
        *export_timeline(ledger),
        *export_ownership(ledger, AS_OF),
    ]


def test_payloads_are_encrypted_and_read_back(app: App) -> None:
    with app.ledger.engine.connect() as conn:
        payloads = [bytes(p) for p in conn.execute(select(schema.records.c.payload)).scalars()]
        rejects = [bytes(r) for r in conn.execute(select(schema.rejects.c.raw)).scalars()]
    assert payloads
    assert all(blob[:1] == b"\x01" for blob in [*payloads, *rejects])
    assert [n for blob in payloads for n in personal_data_in(blob.decode("latin-1"))] == []
    surnames = {r.payload.get("surname") for r in app.ledger.iter_current_records()}
    assert "QUIXLEY" in surnames


@pytest.mark.parametrize(
    "memory_url", ["sqlite://", "sqlite:///file:ledger?mode=memory&cache=shared&uri=true"]
)
def test_a_ledger_in_memory_is_encrypted_under_a_key_of_its_process(
    memory_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARMS_SYNC_AT_REST_KEY_FILE", raising=False)
    application = App(Settings(database_url=memory_url), clock=_clock)
    try:
        run_cycle(application, _sources(tmp_path), AS_OF)
        with application.engine.connect() as conn:
            payloads = [bytes(p) for p in conn.execute(select(schema.records.c.payload)).scalars()]
    finally:
        application.close()
    assert payloads
    assert all(blob[:1] == b"\x01" for blob in payloads)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["police.jsonl", "probation.jsonl"]


def test_subject_ids_are_not_the_public_constant_hash(app: App) -> None:
    public = subject_id_minter(
        lambda message: hmac.new(PUBLIC_NAMESPACE, message.encode(), hashlib.sha256).hexdigest()
    )
    stored = app.ledger.load_membership()
    assert stored
    for (agency, person_id), subject_id in stored.items():
        assert subject_id != public(RecordRef(Agency(agency), person_id), 0)


def test_a_ledger_is_bound_to_its_key(app: App, ledger_url: str, tmp_path: Path) -> None:
    other_key = tmp_path / "other.key"
    create_data_key_file(other_key)
    other = App(Settings(database_url=ledger_url, at_rest_key_file=other_key))
    try:
        with pytest.raises(ConfigurationError, match="another at-rest key"):
            _ = other.ledger
    finally:
        other.close()


def test_a_key_file_that_cannot_be_made_says_why(ledger_url: str, tmp_path: Path) -> None:
    missing_folder = tmp_path / "no-such-folder" / "data.key"
    new = App(Settings(database_url=ledger_url, at_rest_key_file=missing_folder))
    try:
        with pytest.raises(ConfigurationError) as refused:
            _ = new.ledger
    finally:
        new.close()
    assert str(refused.value).startswith(f"The at-rest key file {missing_folder} for the ledger ")
    assert str(refused.value).endswith(" cannot be made: no such file or directory.")


def test_a_ledger_that_never_held_plaintext_refuses_it(app: App) -> None:
    records = schema.records
    with app.ledger.engine.begin() as conn:
        conn.execute(
            update(records)
            .where(records.c.rid == "P100001")
            .values(payload=b'{"surname": "FORGED"}')
        )
    with pytest.raises(CryptoError, match="format"):
        list(app.ledger.iter_current_records())


def _subject_of(app: App, ref: RecordRef) -> str:
    return app.ledger.load_membership()[(str(ref.agency), ref.person_id)]


def _history(app: App, ref: RecordRef) -> dict[str, str]:
    """The reason of each kind of act in the history of a record's subject."""
    report = subject_report(app.ledger, _subject_of(app, ref))
    return {event.act: event.reason for event in report.history}


def test_reasons_are_encrypted_and_shown(app: App) -> None:
    table = schema.flags
    with app.ledger.engine.connect() as conn:
        flag = conn.execute(
            select(table.c.key).where(table.c.subject_id == _subject_of(app, PROBATION_ONE))
        ).scalar()
    assert flag is not None
    resolve(app, flag, ACTOR)
    assert _history(app, PROBATION_ONE) == {"resolve": SECRET_REASON}
    unlink(app, PROBATION_ONE, POLICE_ONE, ACTOR, apply=True)
    assert _history(app, PROBATION_ONE)["unlink"] == SECRET_REASON
    with app.ledger.engine.connect() as conn:
        stored = [
            *conn.execute(select(manual_links.c.reason)).scalars(),
            *conn.execute(select(flag_acts.c.reason)).scalars(),
        ]
    assert len(stored) == 2
    assert all(reason.startswith(TEXT_PREFIX) and "JONES" not in reason for reason in stored)


def test_review_reasons_are_encrypted_and_listed(app: App) -> None:
    review = Review(PROBATION_ONE, POLICE_ONE, 3.5, "names agree: surname=exact")
    with app.ledger.engine.begin() as conn:
        store_reviews(conn, app.ledger.codec, [review], _clock())
    with app.ledger.engine.connect() as conn:
        stored = conn.execute(select(review_items.c.reason)).scalar_one()
        items = list_items(conn, app.ledger.codec, "link-review")
    assert stored.startswith(TEXT_PREFIX)
    assert "surname" not in stored
    assert [item.detail for item in items] == ["names agree: surname=exact weight 3.50"]


class _PlaintextCodec(CipherCodec):
    """How the ledger stored payloads and reasons before encryption at rest was always on."""

    def encode(self, record_key: str, payload: bytes) -> bytes:
        return payload

    def encode_text(self, key: str, text: str) -> str:
        return text


def _legacy_app(ledger_url: str) -> App:
    """An app writing as arms-sync did without a key directory: plaintext, public ids."""
    application = App(Settings(database_url=ledger_url), clock=_clock)
    plaintext = _PlaintextCodec(FieldCipher(new_data_key()), legacy_plaintext=True)
    application.__dict__["codec"] = plaintext
    application.__dict__["mint_subject_id"] = subject_id_minter(
        lambda message: hmac.new(PUBLIC_NAMESPACE, message.encode(), hashlib.sha256).hexdigest()
    )
    return application


def _forget_binding(application: App) -> None:
    """Leave the ledger as a version without key checks left it: no marks, plain digests."""
    records, rejects = schema.records, schema.rejects
    with application.engine.begin() as conn:
        conn.execute(delete(schema.settings_kv))
        stored = conn.execute(
            select(records.c.agency, records.c.rtype, records.c.rid, records.c.payload).where(
                records.c.payload.is_not(None)
            )
        ).all()
        for agency, rtype, rid, payload in stored:
            conn.execute(
                update(records)
                .where(records.c.agency == agency, records.c.rtype == rtype, records.c.rid == rid)
                .values(digest=content_digest(bytes(payload)))
            )
        for fingerprint, agency, raw in conn.execute(
            select(rejects.c.fingerprint, rejects.c.agency, rejects.c.raw)
        ).all():
            plain = reject_row(agency, "", Rejected("", "", bytes(raw), None, None))["fingerprint"]
            conn.execute(
                update(rejects)
                .where(rejects.c.fingerprint == fingerprint)
                .values(fingerprint=plain)
            )


@pytest.mark.parametrize("with_reason", [True, False], ids=["with-a-reason", "records-only"])
def test_a_plaintext_ledger_from_before_still_reads(
    ledger_url: str, tmp_path: Path, with_reason: bool
) -> None:
    """Plaintext records are found and read, whether or not an operator's reason is stored too."""
    legacy = _legacy_app(ledger_url)
    try:
        run_cycle(legacy, _sources(tmp_path), AS_OF)
        if with_reason:
            unlink(legacy, PROBATION_ONE, POLICE_ONE, ACTOR, apply=True)
        before = _exports(legacy)
        _forget_binding(legacy)
    finally:
        legacy.close()

    upgraded = App(Settings(database_url=ledger_url), clock=_clock)
    try:
        assert _exports(upgraded) == before
        subject = upgraded.ledger.load_membership()[("probation", "P100001")]
        reasons = [e.reason for e in subject_report(upgraded.ledger, subject).history]
        assert reasons == ([SECRET_REASON] if with_reason else [])
        probation, police = write_feeds(tmp_path)
        newer = probation.read_text().replace("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z")
        probation.write_text(newer)
        sources = {"probation": PlainFileSource(probation), "police": PlainFileSource(police)}
        run_cycle(upgraded, sources, AS_OF)
        assert _exports(upgraded) == before
        with upgraded.engine.connect() as conn:
            rows = conn.execute(select(schema.records.c.agency, schema.records.c.payload)).all()
    finally:
        upgraded.close()
    firsts = {(agency, bytes(payload)[:1]) for agency, payload in rows}
    assert firsts == {("probation", b"\x01"), ("police", b"{")}
