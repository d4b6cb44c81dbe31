"""The audit chain and signed receipts held to their documents, check by check.

The documented chain hash, verify's link, numbering, head and anchor checks,
the writer's refusals, the pipeline hooks' entries, and the refusal of
malformed, forged or mismatched receipts."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Connection, create_engine

from sync.audit.chain import (
    GENESIS_HASH,
    AuditKind,
    Draft,
    Entry,
    Head,
    UnsafeEntry,
    check_draft,
    format_timestamp,
    seal_all,
    verify_chain,
)
from sync.audit.log import AuditLog
from sync.audit.pipeline_hooks import (
    audit_collection,
    audit_consultation,
    audit_disclosure,
    audit_erasures,
    audit_report_written,
    cli_actor,
    override_move_drafts,
)
from sync.audit.tables import audit_log
from sync.crypto import Party, generate_party, load_keyring
from sync.crypto.header import canonical_json
from sync.crypto.keyring import rotate
from sync.crypto.keys import KeyRing
from sync.errors import PermanentGatewayError
from sync.gateway.receipt import sign_receipt, verify_receipt
from sync.ledger.override_moves import OverrideMove

AT = "2026-11-28T10:00:00.000000Z"
NOW = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
MSG_ID = "0123456789abcdef0123456789abcdef"
DIGEST = "ab" * 32
DOCUMENTED_TAG = b"arms-sync/receipt/v1\x00"
NO_CONN = cast(Connection, None)


def _chain(count: int) -> list[Entry]:
    drafts = [Draft(AuditKind.COLLECTION, "service:ingest", f"feed {n}") for n in range(count)]
    return seal_all(drafts, Head(0, GENESIS_HASH), AT)


def _head(entries: list[Entry]) -> Head:
    return Head(entries[-1].seq, entries[-1].hash)


# -- the chain as docs/audit.md ("The chain") defines it ---------------------


def _documented_hash(seq: int, draft: Draft, refs: list[str], prev_hash: str) -> str:
    fields = [1, seq, AT, str(draft.kind), draft.actor, draft.purpose, draft.recipient]
    refs_text = json.dumps(refs, separators=(",", ":"))
    array = [*fields, refs_text, draft.detail, prev_hash]
    text = json.dumps(array, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def test_each_hash_is_sha256_of_the_documented_array_after_the_previous_hash() -> None:
    """docs/audit.md: SHA-256 over [1, seq, at, kind, actor, purpose, recipient, refs,
    detail, prev_hash], compact ASCII JSON, refs canonical, 64 zeros before the first."""
    first = Draft(
        AuditKind.DISCLOSURE,
        "operator:jsmith",
        "notices for Zoë's review",
        recipient="police",
        refs=("subject:S2", "record:police/assessment/PA-1", "subject:S2"),
        detail="batch 1 of 1",
    )
    second = Draft(AuditKind.CONSULTATION, "cli:root", "export ownership")
    one, two = seal_all([first, second], Head(0, GENESIS_HASH), AT)
    refs = ["record:police/assessment/PA-1", "subject:S2"]
    assert (one.seq, one.prev_hash, one.refs) == (1, "0" * 64, json.dumps(refs).replace(" ", ""))
    assert one.hash == _documented_hash(1, first, refs, "0" * 64)
    assert (two.seq, two.prev_hash) == (2, one.hash)
    assert two.hash == _documented_hash(2, second, [], one.hash)


def test_a_moment_in_another_zone_is_stamped_in_utc() -> None:
    """docs/audit.md: `at` is UTC ("...Z"), whatever the zone of the clock's moment."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(moment) == "2026-01-02T01:04:05.000000Z"


# -- verify (docs/audit.md, "How `arms-sync audit verify` works") -------------


def test_a_middle_entry_replaced_by_a_validly_hashed_forgery_is_detected() -> None:
    """The prev_hash link is checked: a sealed forgery whose prev_hash is not its
    predecessor's hash fails at that entry."""
    entries = _chain(3)
    (forged,) = seal_all([Draft(AuditKind.ERASURE, "operator:x", "forged")], Head(1, "f" * 64), AT)
    result = verify_chain([entries[0], forged, entries[2]], _head(entries))
    assert (result.ok, result.first_bad) == (False, 2)
    assert result.problem == "it does not follow from the entry before it"


def test_a_renumbered_last_entry_is_detected_even_with_its_head_moved() -> None:
    """Each number must be one more than the previous one (a gap is a deletion)."""
    entries = _chain(3)
    (renumbered,) = seal_all(
        [Draft(AuditKind.COLLECTION, "service:ingest", "feed 2")], Head(4, entries[1].hash), AT
    )
    result = verify_chain([*entries[:2], renumbered], Head(5, renumbered.hash))
    assert (result.ok, result.first_bad) == (False, 3)


def test_a_duplicated_number_is_named_as_the_bad_entry() -> None:
    """A duplicate number is an insertion; verify names the first bad entry (2)."""
    entries = _chain(3)
    result = verify_chain([entries[0], entries[1], entries[1], entries[2]], _head(entries))
    assert (result.ok, result.first_bad) == (False, 2)


def test_a_last_entry_resealed_behind_an_unmoved_head_is_detected() -> None:
    """The last entry must match the head (its hash, not only its number)."""
    entries = _chain(3)
    (forged,) = seal_all(
        [Draft(AuditKind.ERASURE, "operator:x", "forged")], Head(2, entries[1].hash), AT
    )
    result = verify_chain([*entries[:2], forged], _head(entries))
    assert (result.ok, result.first_bad) == (False, 3)
    assert result.problem == "it does not match the chain head"


def test_entries_appended_beyond_the_head_fail_at_the_first_of_them() -> None:
    """Entries appended without the writer break the head check; the first bad entry is
    the first one beyond the head."""
    entries = _chain(5)
    result = verify_chain(entries, _head(entries[:3]))
    assert (result.ok, result.first_bad) == (False, 4)


def test_every_anchor_is_checked_not_only_the_first() -> None:
    """`--anchor` is repeatable and each anchored entry must still have that hash."""
    entries = _chain(4)
    rewritten = [
        *entries[:2],
        *seal_all([Draft(AuditKind.ERASURE, "operator:x", "forged")] * 2, _head(entries[:2]), AT),
    ]
    anchors = [Head(1, entries[0].hash), Head(3, entries[2].hash)]
    result = verify_chain(rewritten, _head(rewritten), anchors)
    assert (result.ok, result.first_bad) == (False, 3)
    assert result.problem is not None
    assert "anchored" in result.problem


def test_the_intact_sentence_gives_the_count() -> None:
    """It prints one sentence with the count: "The audit log is intact: N entries verified."."""
    entries = _chain(3)
    sentence = verify_chain(entries, _head(entries)).sentence()
    assert sentence == "The audit log is intact: 3 entries verified."


# -- the writer's refusals (docs/audit.md, "What an entry holds") ------------


def _column_width(name: str) -> int:
    length = getattr(audit_log.c[name].type, "length", None)
    assert isinstance(length, int)
    return length


@pytest.mark.parametrize("field", ["actor", "purpose", "recipient"])
def test_a_field_fits_its_column_or_is_refused(field: str) -> None:
    """Fields too long are refused by the writer, so none can overflow its column."""
    width = _column_width(field)
    base = Draft(AuditKind.CONSULTATION, "operator:x", "show", recipient="police")
    fits: dict[str, Any] = {field: "a" * width}
    too_long: dict[str, Any] = {field: "a" * (width + 1)}
    check_draft(dataclasses.replace(base, **fits))
    with pytest.raises(UnsafeEntry):
        check_draft(dataclasses.replace(base, **too_long))


@pytest.mark.parametrize("recipient", ["police\nprobation", "court 01/123456A"])
def test_a_recipient_that_is_not_plain_or_holds_a_pnc_is_refused(recipient: str) -> None:
    """The writer refuses fields not plain text or holding anything shaped like a PNC."""
    with pytest.raises(UnsafeEntry):
        check_draft(Draft(AuditKind.DISCLOSURE, "service:exchange", "notices", recipient))


def test_a_very_long_reference_is_refused() -> None:
    """A reference too long is refused like any field too long."""
    with pytest.raises(UnsafeEntry):
        check_draft(Draft(AuditKind.CONSULTATION, "operator:x", "show", refs=("run:" + "1" * 999,)))


def test_a_scottish_style_cro_number_is_refused() -> None:
    """Anything shaped like a CRO number (the SF form too) is refused."""
    with pytest.raises(UnsafeEntry):
        check_draft(Draft(AuditKind.CONSULTATION, "operator:x", "show", detail="cro SF05/12345X"))


# -- the pipeline hooks' entries (docs/audit.md, "What is logged") ----------


class CapturingLog(AuditLog):
    """An `AuditLog` that keeps the drafts it is given instead of writing them."""

    def __init__(self) -> None:
        super().__init__(create_engine("sqlite://"))
        self.drafts: list[Draft] = []

    def record_many(self, conn: Connection, drafts: Sequence[Draft]) -> int:
        self.drafts.extend(drafts)
        return len(self.drafts)

    def record_now(self, **fields: Any) -> int:
        return self.record(NO_CONN, **fields)


@pytest.mark.parametrize("count", [1, 499, 500, 501, 1001])
def test_erasures_name_every_record_once_with_the_run(count: int) -> None:
    """An erasure entry by service:ingest names the erased records; none is lost in chunks."""
    log = CapturingLog()
    refs = [f"record:police/assessment/PA-{n}" for n in range(count)]
    audit_erasures(log, NO_CONN, 7, refs)
    named = [ref for draft in log.drafts for ref in draft.refs if ref != "run:7"]
    assert sorted(named) == sorted(refs)
    for draft in log.drafts:
        assert (draft.kind, draft.actor, "run:7" in draft.refs) == (
            AuditKind.ERASURE,
            "service:ingest",
            True,
        )


def test_a_disclosure_without_references_still_writes_one_entry_with_its_recipient() -> None:
    """A disclosure is logged with its recipient, one entry per file or batch."""
    log = CapturingLog()
    audit_disclosure(log, NO_CONN, "probation", "notice batch delivered", [])
    (draft,) = log.drafts
    assert (draft.kind, draft.recipient) == (AuditKind.DISCLOSURE, "probation")


def test_a_plain_collection_says_it_is_unsigned() -> None:
    """docs/crypto.md: a plain file's collection entry says "plain file, unsigned"."""
    log = CapturingLog()
    audit_collection(
        log, NO_CONN, 3, agency="police", source_name="f.jsonl", counts={}, sealed=False
    )
    (draft,) = log.drafts
    assert (draft.kind, draft.actor) == (AuditKind.COLLECTION, "service:ingest")
    assert draft.detail is not None
    assert "plain file, unsigned" in draft.detail


def test_a_consultation_is_logged_as_one() -> None:
    """Consultations are logged with kind `consultation` and their actor."""
    log = CapturingLog()
    audit_consultation(log, "operator:jsmith", "reconcile show", ["subject:S1"])
    (draft,) = log.drafts
    assert (draft.kind, draft.actor, draft.refs) == (
        AuditKind.CONSULTATION,
        "operator:jsmith",
        ("subject:S1",),
    )


def test_the_nightly_report_is_a_disclosure_by_service_report_to_its_file(tmp_path: Path) -> None:
    """A report written by the nightly report: disclosure, actor service:report, the
    file recorded as recipient and as a `file:NAME` reference, its SHA-256 and size as
    the detail."""
    log = CapturingLog()
    written = tmp_path / "duplicates-2026-11-28.html"
    written.write_bytes(b"<p>report</p>\n")
    audit_report_written(log, written)
    (draft,) = log.drafts
    assert (draft.kind, draft.actor) == (AuditKind.DISCLOSURE, "service:report")
    assert draft.recipient is not None
    assert "duplicates-2026-11-28.html" in draft.recipient
    assert draft.refs == ("file:duplicates-2026-11-28.html",)
    digest = hashlib.sha256(b"<p>report</p>\n").hexdigest()
    assert draft.detail == f"sha256 {digest}, 14 bytes"


def test_an_operator_acts_as_operator_and_otherwise_the_account_does() -> None:
    """The actor is `operator:NAME` when one is given, else `cli:ACCOUNT`."""
    assert cli_actor("jsmith") == "operator:jsmith"
    assert cli_actor(None).startswith("cli:")


def test_an_override_move_says_which_subject_is_old_and_which_new() -> None:
    """The move's entry: run, override and both subjects; the detail says which is which."""
    (draft,) = override_move_drafts([OverrideMove("OVR-1", "S-OLD", "S-NEW")], 9)
    assert (draft.kind, draft.actor) == (AuditKind.ALTERATION, "service:decide")
    assert set(draft.refs) == {"run:9", "override:OVR-1", "subject:S-OLD", "subject:S-NEW"}
    assert draft.detail == "from subject S-OLD to subject S-NEW"


# -- receipts (docs/gateway-openapi.yaml, SignedReceipt and Receipt) --------


def _signed(keyring: KeyRing, body: dict[str, Any], tag: bytes = DOCUMENTED_TAG) -> dict[str, Any]:
    key_id, key = keyring.own_signing_key()
    text = canonical_json(body)
    sig = base64.b64encode(key.sign(tag + text)).decode("ascii")
    return {"key_id": key_id, "receipt": text.decode("ascii"), "sig": sig}


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency": "police",
        "digest": DIGEST,
        "msg_id": MSG_ID,
        "received_at": "2026-11-28T10:00:00Z",
    }
    return {**body, **changes}


def _verify(keyrings: dict[Party, KeyRing], document: dict[str, Any]) -> None:
    verify_receipt(document, keyring=keyrings[Party.HUB], agency=Party.POLICE, now=NOW)


def test_a_receipt_signed_over_the_documented_tag_verifies_and_says_what_it_signed(
    keyrings: dict[Party, KeyRing],
) -> None:
    """The signature is over "arms-sync/receipt/v1\\0" followed by the receipt text."""
    document = _signed(keyrings[Party.POLICE], _body())
    receipt = verify_receipt(document, keyring=keyrings[Party.HUB], agency=Party.POLICE, now=NOW)
    assert (receipt.msg_id, receipt.digest, receipt.received_at) == (
        MSG_ID,
        DIGEST,
        "2026-11-28T10:00:00Z",
    )


def test_sign_receipt_signs_over_the_documented_tag(keyrings: dict[Party, KeyRing]) -> None:
    """What a gateway signs verifies under its public key with the documented tag."""
    ring = keyrings[Party.PROBATION]
    document = json.loads(sign_receipt(ring, msg_id=MSG_ID, digest=DIGEST, received_at="t"))
    key_id, key = ring.own_signing_key()
    assert document["key_id"] == key_id
    body = document["receipt"].encode("ascii")
    key.public_key().verify(base64.b64decode(document["sig"]), DOCUMENTED_TAG + body)
    assert json.loads(body)["agency"] == "probation"


def test_a_receipt_signed_without_the_tag_is_refused(keyrings: dict[Party, KeyRing]) -> None:
    """A signature over the bare text (as for another purpose) is not a receipt's."""
    with pytest.raises(PermanentGatewayError) as refused:
        _verify(keyrings, _signed(keyrings[Party.POLICE], _body(), tag=b""))
    assert str(refused.value) == (
        "the police gateway's receipt does not verify: its signature does not match its "
        "body under the key it names."
    )


def test_a_receipt_naming_another_agency_is_refused(keyrings: dict[Party, KeyRing]) -> None:
    """The receipt must be the delivering agency's own, even under that agency's key."""
    document = _signed(keyrings[Party.POLICE], _body(agency="probation"))
    with pytest.raises(PermanentGatewayError, match="names another agency"):
        _verify(keyrings, document)


def _with_extra_signed_field(keyrings: dict[Party, KeyRing]) -> dict[str, Any]:
    return {**_signed(keyrings[Party.POLICE], _body()), "note": "x"}


def _with_unknown_key(keyrings: dict[Party, KeyRing]) -> dict[str, Any]:
    return {**_signed(keyrings[Party.POLICE], _body()), "key_id": "f" * 32}


def _with_numeric_sig(keyrings: dict[Party, KeyRing]) -> dict[str, Any]:
    return {**_signed(keyrings[Party.POLICE], _body()), "sig": 7}


def _with_sig_off_base64(keyrings: dict[Party, KeyRing]) -> dict[str, Any]:
    document = _signed(keyrings[Party.POLICE], _body())
    return {**document, "sig": document["sig"] + "!"}


def _with_numeric_receipt(keyrings: dict[Party, KeyRing]) -> dict[str, Any]:
    return {**_signed(keyrings[Party.POLICE], _body()), "receipt": 7}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_with_extra_signed_field, "a signed receipt has exactly key_id, receipt and sig."),
        (_with_unknown_key, "which this key ring does not hold"),
        (_with_numeric_sig, "a signed receipt's fields are text."),
        (_with_sig_off_base64, "its signature is not base64."),
        (_with_numeric_receipt, "a signed receipt's fields are text."),
        (
            lambda keys: _signed(keys[Party.POLICE], _body(note="x")),
            "a receipt has exactly agency, digest, msg_id and received_at.",
        ),
        (
            lambda keys: _signed(keys[Party.POLICE], _body(received_at=5)),
            "a receipt's fields are text.",
        ),
        (
            lambda keys: _signed(keys[Party.POLICE], _body(digest=DIGEST + "\n")),
            "a receipt's msg_id or digest is malformed.",
        ),
    ],
    ids=[
        "extra-signed-field",
        "unknown-key",
        "sig-not-text",
        "sig-not-base64",
        "receipt-not-text",
        "extra-receipt-field",
        "received-at-not-text",
        "digest-off-format",
    ],
)
def test_a_malformed_receipt_does_not_verify_and_says_why(
    keyrings: dict[Party, KeyRing], document: Any, reason: str
) -> None:
    """SignedReceipt and Receipt have exactly their text fields (additionalProperties:
    false, digest ^[0-9a-f]{64}$); anything else is a receipt that does not verify,
    and the refusal says which rule it broke."""
    with pytest.raises(PermanentGatewayError, match="does not verify") as refused:
        _verify(keyrings, document(keyrings))
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "received_at",
    ["whenever", "2026-11-28T10:00:00", "2026-11-28T10:00:00+01:00", "2026-02-30T10:00:00Z", ""],
)
def test_a_receipt_received_at_no_utc_time_does_not_verify(
    keyrings: dict[Party, KeyRing], received_at: str
) -> None:
    """docs/gateway-openapi.yaml, Receipt: `received_at` is RFC 3339 UTC, to the second."""
    document = _signed(keyrings[Party.POLICE], _body(received_at=received_at))
    with pytest.raises(PermanentGatewayError, match="does not verify"):
        _verify(keyrings, document)


def test_a_receipt_under_a_key_past_its_grace_is_refused_at_that_time(tmp_path: Path) -> None:
    """docs/crypto.md: key checks use the time `now`; a rotated key is accepted until
    its `grace_until` and not after."""
    for party in (Party.HUB, Party.POLICE):
        generate_party(tmp_path, party, now=NOW - timedelta(days=10))
    document = _signed(load_keyring(tmp_path, Party.POLICE), _body())
    rotate(tmp_path, Party.POLICE, timedelta(days=1), now=NOW - timedelta(days=5))
    hub = load_keyring(tmp_path, Party.HUB)
    verify_receipt(document, keyring=hub, agency=Party.POLICE, now=NOW - timedelta(days=5))
    with pytest.raises(PermanentGatewayError, match="does not verify"):
        verify_receipt(document, keyring=hub, agency=Party.POLICE, now=NOW)
