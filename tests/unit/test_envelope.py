"""Sealed envelopes: round trip, every refusal, rotation, replay, and sealed files."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.crypto.envelope import (
    HPKE_SUITE,
    Opened,
    encode_wire,
    inner_signing_input,
    looks_like_envelope,
    open_envelope,
    outer_signing_input,
    pack_inner,
    seal,
    unpack_inner,
    verify_outer,
    wire_digest,
)
from sync.crypto.header import CONTENT_TYPE_FEED, CONTENT_TYPE_NOTICES, Header, parse_header
from sync.crypto.keyring import (
    generate_party,
    import_party,
    list_keys,
    load_keyring,
    revoke,
    rotate,
)
from sync.crypto.keys import KeyRing, KeyUse, Party
from sync.crypto.replay import InMemoryReplayGuard, ReplayVerdict
from sync.crypto.sealed_file import file_of, open_lines, page_of, seal_lines
from sync.errors import (
    STALE_ENVELOPE_CODE,
    CryptoError,
    EnvelopeOutsideSkewWindow,
    EnvelopeRejected,
    InputRefused,
    KeyError_,
)

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
GRACE = timedelta(days=7)
SECRET_MARKER = b"2001/0000123Z"
PLAINTEXT = b'{"type":"person","id":"X123456","pnc":"' + SECRET_MARKER + b'"}\n'
ONE_MB = 1_000_000


@dataclass
class Rings:
    """A key directory and one key ring per party."""

    directory: Path
    probation: KeyRing
    police: KeyRing
    hub: KeyRing

    def reload(self) -> Rings:
        return _load(self.directory)


def _load(directory: Path) -> Rings:
    return Rings(
        directory,
        load_keyring(directory, Party.PROBATION),
        load_keyring(directory, Party.POLICE),
        load_keyring(directory, Party.HUB),
    )


@pytest.fixture(scope="module")
def module_rings(tmp_path_factory: pytest.TempPathFactory) -> Rings:
    directory = tmp_path_factory.mktemp("keys")
    for party in Party:
        generate_party(directory, party, now=T0)
    return _load(directory)


@pytest.fixture
def rings(tmp_path: Path) -> Rings:
    for party in Party:
        generate_party(tmp_path, party, now=T0)
    return _load(tmp_path)


def _seal(rings: Rings, plaintext: bytes = PLAINTEXT, **overrides: object) -> bytes:
    arguments: dict[str, object] = {
        "sender": Party.PROBATION,
        "recipient": Party.HUB,
        "keyring": rings.probation,
        "content_type": CONTENT_TYPE_FEED,
        "now": T0,
    }
    arguments.update(overrides)
    return seal(plaintext, **arguments)  # type: ignore[arg-type]


def _open(wire: bytes, ring: KeyRing, **overrides: object) -> Opened:
    arguments: dict[str, object] = {"now": T0, "max_skew": SKEW, "replay_guard": None}
    arguments.update(overrides)
    return open_envelope(wire, keyring=ring, **arguments)  # type: ignore[arg-type]


def _refusal(wire: bytes, ring: KeyRing, **overrides: object) -> CryptoError:
    with pytest.raises(CryptoError) as caught:
        _open(wire, ring, **overrides)
    message = str(caught.value)
    assert SECRET_MARKER.decode() not in message
    assert message.endswith(".")
    return caught.value


def _edit(wire: bytes, **fields: object) -> bytes:
    document = json.loads(wire)
    for name, value in fields.items():
        if name in {"ct", "sig"}:
            document[name] = value
        else:
            document["header"][name] = value
    return json.dumps(document).encode()


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Round trip


def test_round_trip_returns_header_plaintext_and_digest(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    opened = open_envelope(
        wire, keyring=module_rings.hub, now=T0, max_skew=SKEW, replay_guard=InMemoryReplayGuard()
    )
    assert opened.plaintext == PLAINTEXT
    assert opened.digest == hashlib.sha256(wire).hexdigest()
    assert opened.verdict is ReplayVerdict.NEW
    assert opened.header.sender is Party.PROBATION
    assert opened.header.recipient is Party.HUB
    assert opened.header.sealed_at == "2026-11-28T10:00:00Z"
    assert opened.header.content_type == CONTENT_TYPE_FEED


def test_wire_is_one_line_with_canonical_header(module_rings: Rings) -> None:
    wire = _seal(module_rings, content_type=CONTENT_TYPE_NOTICES)
    assert b"\n" not in wire
    document = json.loads(wire)
    assert set(document) == {"header", "ct", "sig"}
    header = parse_header(document["header"])
    assert header.canonical() in wire
    assert len(header.msg_id) == 32
    assert (
        header.sender_key_id == module_rings.probation.active(Party.PROBATION, KeyUse.SIGN).key_id
    )
    assert header.recipient_key_id == module_rings.hub.active(Party.HUB, KeyUse.ENCRYPT).key_id


def test_plaintext_does_not_appear_on_the_wire(module_rings: Rings) -> None:
    assert SECRET_MARKER not in _seal(module_rings)


def test_each_seal_has_a_fresh_msg_id(module_rings: Rings) -> None:
    ids = {json.loads(_seal(module_rings))["header"]["msg_id"] for _ in range(5)}
    assert len(ids) == 5


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plaintext=st.binary(max_size=4096))
def test_any_plaintext_round_trips(module_rings: Rings, plaintext: bytes) -> None:
    opened = open_envelope(
        _seal(module_rings, plaintext),
        keyring=module_rings.hub,
        now=T0,
        max_skew=None,
        replay_guard=None,
    )
    assert opened.plaintext == plaintext


def test_seal_refuses_a_sender_other_than_the_key_ring_owner(module_rings: Rings) -> None:
    with pytest.raises(KeyError_, match="not police"):
        _seal(module_rings, sender=Party.POLICE)


def test_seal_refuses_a_naive_timestamp_and_a_bad_msg_id(module_rings: Rings) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _seal(module_rings, now=datetime(2026, 11, 28, 10, 0))
    with pytest.raises(ValueError, match="msg_id"):
        _seal(module_rings, msg_id="not-hex")


@pytest.mark.parametrize(
    "overrides",
    [
        {"msg_id": "a" * 32 + "\n"},
        {"content_type": CONTENT_TYPE_FEED + "\n"},
    ],
)
def test_seal_refuses_a_header_field_with_a_trailing_newline(
    module_rings: Rings, overrides: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=r"msg_id|content_type"):
        _seal(module_rings, PLAINTEXT, **overrides)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msg_id", "b" * 32 + "\n"),
        ("content_type", CONTENT_TYPE_FEED + "\n"),
        ("sealed_at", "2026-11-28T10:00:00Z\n"),
        ("sealed_at", "\u0662026-11-28T10:00:00Z"),
    ],
)
def test_a_signed_header_field_off_its_exact_format_is_refused(
    module_rings: Rings, field: str, value: str
) -> None:
    """Signed by the real sender, yet a field is more than its format allows: refused."""
    # The field is chosen per case, so its type is only known at run time.
    changes: dict[str, Any] = {field: value}
    header = replace(parse_header(json.loads(_seal(module_rings))["header"]), **changes)
    _, key = module_rings.probation.own_signing_key()
    wire = _forge(
        module_rings,
        outer=header,
        inner_header=header.canonical(),
        inner_sig=key.sign(inner_signing_input(header.canonical(), PLAINTEXT)),
        plaintext=PLAINTEXT,
        signer=module_rings.probation,
    )
    assert f"field {field} is malformed" in str(_refusal(wire, module_rings.hub))


# Detection and relays

# Deeper than Python's json module parses (it raises RecursionError, not ValueError).
NESTED_TOO_DEEP = b"[" * 100_000 + b"]" * 100_000


def test_looks_like_envelope_tells_sealed_from_plain_lines(module_rings: Rings) -> None:
    assert looks_like_envelope(_seal(module_rings))
    assert not looks_like_envelope(PLAINTEXT)
    assert not looks_like_envelope(b"not json at all")
    assert not looks_like_envelope(b'{"header": 1, "ct": "", "sig": ""}')
    assert not looks_like_envelope(NESTED_TOO_DEEP)


def test_an_envelope_nested_deeper_than_python_parses_is_refused(module_rings: Rings) -> None:
    with pytest.raises(EnvelopeRejected, match="not valid JSON"):
        _open(NESTED_TOO_DEEP, module_rings.hub)


def test_relay_verifies_origin_without_decrypting(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    header = verify_outer(wire, module_rings.police)
    assert header.sender is Party.PROBATION
    assert header.recipient is Party.HUB


def test_relay_refuses_a_tampered_ciphertext(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    ct = base64.b64decode(json.loads(wire)["ct"])
    with pytest.raises(EnvelopeRejected, match="outer signature"):
        verify_outer(_edit(wire, ct=_b64(_flip(ct, 40))), module_rings.police)


# Tampering


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msg_id", "0" * 32),
        ("sealed_at", "2026-11-28T10:00:01Z"),
        ("content_type", CONTENT_TYPE_NOTICES),
        ("v", 2),
        ("sender", "police"),
        ("sender_key_id", "0" * 32),
        ("recipient", "police"),
        ("extra", "field"),
    ],
)
def test_tampered_header_is_refused(module_rings: Rings, field: str, value: object) -> None:
    _refusal(_edit(_seal(module_rings), **{field: value}), module_rings.hub)


def test_tampered_header_fails_the_outer_signature(module_rings: Rings) -> None:
    wire = _edit(_seal(module_rings), content_type=CONTENT_TYPE_NOTICES)
    assert "outer signature" in str(_refusal(wire, module_rings.hub))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0, max_value=10_000))
def test_tampered_ciphertext_is_refused(module_rings: Rings, position: int) -> None:
    wire = _seal(module_rings)
    ct = base64.b64decode(json.loads(wire)["ct"])
    tampered = _edit(wire, ct=_b64(_flip(ct, position % len(ct))))
    assert isinstance(_refusal(tampered, module_rings.hub), EnvelopeRejected)


def test_truncated_ciphertext_is_refused(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    ct = base64.b64decode(json.loads(wire)["ct"])
    refusal = _refusal(_edit(wire, ct=_b64(ct[:-1])), module_rings.hub)
    assert isinstance(refusal, EnvelopeRejected)


def test_tampered_outer_signature_is_refused(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    sig = base64.b64decode(json.loads(wire)["sig"])
    refusal = _refusal(_edit(wire, sig=_b64(_flip(sig, 10))), module_rings.hub)
    assert "outer signature" in str(refusal)


def _forge(
    rings: Rings,
    *,
    outer: Header,
    inner_header: bytes,
    inner_sig: bytes,
    plaintext: bytes,
    signer: KeyRing,
) -> bytes:
    """An envelope built by hand: arbitrary inner content, valid outer signature by `signer`."""
    _, signing_key = signer.own_signing_key()
    _, recipient_key = signer.recipient_key(outer.recipient)
    header_bytes = outer.canonical()
    ct = HPKE_SUITE.encrypt(
        pack_inner(inner_header, inner_sig, plaintext), recipient_key, info=header_bytes
    )
    return encode_wire(header_bytes, ct, signing_key.sign(outer_signing_input(header_bytes, ct)))


def test_tampered_inner_signature_is_refused(module_rings: Rings) -> None:
    header = parse_header(json.loads(_seal(module_rings))["header"])
    _, key = module_rings.probation.own_signing_key()
    good = key.sign(inner_signing_input(header.canonical(), PLAINTEXT))
    wire = _forge(
        module_rings,
        outer=header,
        inner_header=header.canonical(),
        inner_sig=_flip(good, 3),
        plaintext=PLAINTEXT,
        signer=module_rings.probation,
    )
    assert "inner signature" in str(_refusal(wire, module_rings.hub))


def test_inner_header_different_from_outer_is_refused(module_rings: Rings) -> None:
    header = parse_header(json.loads(_seal(module_rings))["header"])
    other = replace(header, content_type=CONTENT_TYPE_NOTICES).canonical()
    _, key = module_rings.probation.own_signing_key()
    wire = _forge(
        module_rings,
        outer=header,
        inner_header=other,
        inner_sig=key.sign(inner_signing_input(other, PLAINTEXT)),
        plaintext=PLAINTEXT,
        signer=module_rings.probation,
    )
    assert "does not match" in str(_refusal(wire, module_rings.hub))


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"not json",
        b"[]",
        b'{"header": {}, "ct": "", "sig": ""}',
        b'{"header": {"v": 1}, "ct": "AA==", "sig": "AA=="}',
    ],
)
def test_malformed_envelope_is_refused(module_rings: Rings, wire: bytes) -> None:
    assert isinstance(_refusal(wire, module_rings.hub), EnvelopeRejected)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(max_size=512))
def test_arbitrary_bytes_only_ever_raise_crypto_errors(module_rings: Rings, garbage: bytes) -> None:
    with pytest.raises(CryptoError):
        _open(garbage, module_rings.hub)


def test_non_base64_ciphertext_is_refused(module_rings: Rings) -> None:
    assert "base64" in str(_refusal(_edit(_seal(module_rings), ct="@@@"), module_rings.hub))


# Addressing and forwarding


def test_wrong_recipient_is_refused(module_rings: Rings) -> None:
    refusal = _refusal(_seal(module_rings), module_rings.police)
    assert "addressed to another party" in str(refusal)


def test_forwarded_envelope_re_encrypted_to_a_third_party_is_refused(module_rings: Rings) -> None:
    to_police = _seal(module_rings, recipient=Party.POLICE)
    outer = parse_header(json.loads(to_police)["header"])
    ct = base64.b64decode(json.loads(to_police)["ct"])
    private = module_rings.police.decryption_key(outer.recipient_key_id, T0)
    inner_header, inner_sig, plaintext = unpack_inner(
        HPKE_SUITE.decrypt(ct, private, info=outer.canonical())
    )
    sender_key_id, _ = module_rings.police.own_signing_key()
    hub_key_id, _ = module_rings.police.recipient_key(Party.HUB)
    forwarded = replace(
        outer,
        sender=Party.POLICE,
        recipient=Party.HUB,
        sender_key_id=sender_key_id,
        recipient_key_id=hub_key_id,
    )
    wire = _forge(
        module_rings,
        outer=forwarded,
        inner_header=inner_header,
        inner_sig=inner_sig,
        plaintext=plaintext,
        signer=module_rings.police,
    )
    assert "does not match" in str(_refusal(wire, module_rings.hub))


def test_forwarded_envelope_claiming_the_original_sender_is_refused(module_rings: Rings) -> None:
    to_police = _seal(module_rings, recipient=Party.POLICE)
    outer = parse_header(json.loads(to_police)["header"])
    hub_key_id, _ = module_rings.police.recipient_key(Party.HUB)
    readdressed = replace(outer, recipient=Party.HUB, recipient_key_id=hub_key_id)
    wire = _edit(to_police, **readdressed.to_json())
    assert "outer signature" in str(_refusal(wire, module_rings.hub))


# Replay and clock skew


def test_the_same_envelope_again_is_same(module_rings: Rings) -> None:
    guard = InMemoryReplayGuard()
    wire = _seal(module_rings)
    first = _open(wire, module_rings.hub, replay_guard=guard)
    again = _open(wire + b"\n", module_rings.hub, replay_guard=guard)
    assert first.verdict is ReplayVerdict.NEW
    assert again.verdict is ReplayVerdict.SAME
    assert len(guard) == 1


def test_a_copy_re_encoded_on_the_way_is_the_same_envelope(module_rings: Rings) -> None:
    """Spacing, key order and escapes change no envelope: a re-encoded copy that
    arrives first cannot get the genuine envelope refused as a replay."""
    guard = InMemoryReplayGuard()
    wire = _seal(module_rings)
    document = json.loads(wire)
    copy = json.dumps(
        {"sig": document["sig"], "ct": document["ct"], "header": document["header"]},
        indent=1,
        ensure_ascii=True,
    ).encode()
    assert copy != wire
    first = _open(copy, module_rings.hub, replay_guard=guard)
    genuine = _open(wire, module_rings.hub, replay_guard=guard)
    assert (first.verdict, genuine.verdict) == (ReplayVerdict.NEW, ReplayVerdict.SAME)
    assert wire_digest(copy) == wire_digest(wire) == hashlib.sha256(wire).hexdigest()


def test_a_reused_msg_id_with_different_content_is_refused(module_rings: Rings) -> None:
    guard = InMemoryReplayGuard()
    msg_id = "ab" * 16
    _open(_seal(module_rings, msg_id=msg_id), module_rings.hub, replay_guard=guard)
    replayed = _seal(module_rings, b"other content\n", msg_id=msg_id)
    assert "replay" in str(_refusal(replayed, module_rings.hub, replay_guard=guard))


def test_a_refused_envelope_does_not_consume_its_msg_id(module_rings: Rings) -> None:
    guard = InMemoryReplayGuard()
    wire = _seal(module_rings)
    sig = base64.b64decode(json.loads(wire)["sig"])
    _refusal(_edit(wire, sig=_b64(_flip(sig, 0))), module_rings.hub, replay_guard=guard)
    assert len(guard) == 0
    assert _open(wire, module_rings.hub, replay_guard=guard).verdict is ReplayVerdict.NEW


@pytest.mark.parametrize("offset", [SKEW + timedelta(seconds=1), -(SKEW + timedelta(seconds=1))])
def test_outside_the_skew_window_is_refused(module_rings: Rings, offset: timedelta) -> None:
    refusal = _refusal(_seal(module_rings), module_rings.hub, now=T0 + offset)
    assert isinstance(refusal, EnvelopeOutsideSkewWindow)
    assert refusal.code == STALE_ENVELOPE_CODE


def test_inside_the_skew_window_or_without_one_is_accepted(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    assert _open(wire, module_rings.hub, now=T0 + SKEW).plaintext == PLAINTEXT
    late = _open(wire, module_rings.hub, now=T0 + timedelta(days=3), max_skew=None)
    assert late.plaintext == PLAINTEXT


# Keys: unknown, revoked, rotated


def test_unknown_sender_key_is_refused(module_rings: Rings, tmp_path: Path) -> None:
    generate_party(tmp_path, Party.PROBATION, now=T0)
    generate_party(tmp_path, Party.HUB, now=T0)
    stranger = load_keyring(tmp_path, Party.PROBATION)
    wire = seal(
        PLAINTEXT,
        sender=Party.PROBATION,
        recipient=Party.HUB,
        keyring=replace(stranger, keys=stranger.keys + module_rings.hub.keys),
        content_type=CONTENT_TYPE_FEED,
        now=T0,
    )
    refusal = _refusal(wire, module_rings.hub)
    assert isinstance(refusal, KeyError_)
    # probation's keys are made in the module's key folder: nothing to import.
    assert re.fullmatch(
        r"probation's signing key [0-9a-f]{32} is not in the key ring\.", str(refusal)
    )


def test_an_unknown_key_of_a_party_whose_keys_are_imported_names_the_import(
    tmp_path: Path,
) -> None:
    """The hub's own folder holds probation's public keys only: the key probation signs
    with now is one it never imported."""
    hub_dir, old_probation, new_probation = (tmp_path / n for n in ("hub", "old", "new"))
    generate_party(hub_dir, Party.HUB, now=T0)
    generate_party(old_probation, Party.PROBATION, now=T0)
    import_party(hub_dir, Party.PROBATION, old_probation / "ring.json")
    generate_party(new_probation, Party.PROBATION, now=T0)
    import_party(new_probation, Party.HUB, hub_dir / "ring.json")
    wire = seal(
        PLAINTEXT,
        sender=Party.PROBATION,
        recipient=Party.HUB,
        keyring=load_keyring(new_probation, Party.PROBATION),
        content_type=CONTENT_TYPE_FEED,
        now=T0,
    )
    refusal = _refusal(wire, load_keyring(hub_dir, Party.HUB))
    assert isinstance(refusal, KeyError_)
    assert str(refusal).endswith(
        "is not in the key ring; import probation's current public keys with "
        "`arms-sync keys import --party probation RING`."
    )


def test_revoked_sender_key_is_refused_everywhere(rings: Rings) -> None:
    wire = _seal(rings)
    sign_id = rings.probation.active(Party.PROBATION, KeyUse.SIGN).key_id
    revoke(rings.directory, Party.PROBATION, sign_id, now=T0)
    after = rings.reload()
    assert "revoked" in str(_refusal(wire, after.hub))
    with pytest.raises(KeyError_, match="revoked"):
        verify_outer(wire, after.police)
    with pytest.raises(KeyError_, match="no active"):
        _seal(after)


def test_recipient_key_rotated_mid_flight_opens_during_grace_only(rings: Rings) -> None:
    wire = _seal(rings)
    rotate(rings.directory, Party.HUB, GRACE, now=T0)
    after = rings.reload()
    opened = _open(wire, after.hub, now=T0 + GRACE, max_skew=None)
    assert opened.plaintext == PLAINTEXT
    refusal = _refusal(wire, after.hub, now=T0 + GRACE + timedelta(seconds=1), max_skew=None)
    assert isinstance(refusal, KeyError_)
    assert "grace" in str(refusal)


def test_sender_key_rotated_mid_flight_verifies_during_grace_only(rings: Rings) -> None:
    wire = _seal(rings)
    rotate(rings.directory, Party.PROBATION, GRACE, now=T0)
    after = rings.reload()
    _open(wire, after.hub, now=T0 + timedelta(days=1), max_skew=None)
    refusal = _refusal(wire, after.hub, now=T0 + GRACE + timedelta(days=1), max_skew=None)
    assert isinstance(refusal, KeyError_)


def test_after_rotation_new_envelopes_use_the_new_keys(rings: Rings) -> None:
    rotate(rings.directory, Party.HUB, GRACE, now=T0)
    rotate(rings.directory, Party.PROBATION, GRACE, now=T0)
    after = rings.reload()
    header = parse_header(json.loads(_seal(after))["header"])
    current = {i.key_id for i in list_keys(rings.directory) if i.generation == 2}
    assert {header.sender_key_id, header.recipient_key_id} <= current


# Sealed files


def _records(count: int) -> list[bytes]:
    return [
        json.dumps({"type": "person", "id": f"X{n:06d}"}).encode() + b"\n" for n in range(count)
    ]


def test_seal_lines_makes_one_envelope_per_page(module_rings: Rings) -> None:
    wires = _paged(module_rings, [*_records(25), b"\n"])
    assert len(wires) == 3
    opened = list(open_lines(wires, keyring=module_rings.hub, now=T0))
    assert b"".join(o.plaintext for o in opened) == b"".join(_records(25))


def test_open_lines_skips_a_repeated_page(module_rings: Rings) -> None:
    wire = _seal(module_rings)
    opened = list(open_lines([wire, b"\n", wire], keyring=module_rings.hub, now=T0))
    assert len(opened) == 1


def test_open_lines_refuses_a_change_of_content_type(module_rings: Rings) -> None:
    lines = [_seal(module_rings), _seal(module_rings, content_type=CONTENT_TYPE_NOTICES)]
    with pytest.raises(InputRefused, match="line 2"):
        list(open_lines(lines, keyring=module_rings.hub, now=T0))


def _paged(rings: Rings, records: list[bytes] | None = None) -> list[bytes]:
    """A sealed file of `records` (25 by default) in pages of ten, as wire lines."""
    wires = seal_lines(
        _records(25) if records is None else records,
        sender=Party.PROBATION,
        recipient=Party.HUB,
        keyring=rings.probation,
        content_type=CONTENT_TYPE_FEED,
        now=T0,
        page_lines=10,
    )
    return [wire + b"\n" for wire in wires]


def test_pages_are_numbered_and_the_last_is_marked(module_rings: Rings) -> None:
    opened = list(open_lines(_paged(module_rings), keyring=module_rings.hub, now=T0))
    assert [page_of(o.header.content_type) for o in opened] == [
        (CONTENT_TYPE_FEED, 1, False),
        (CONTENT_TYPE_FEED, 2, False),
        (CONTENT_TYPE_FEED, 3, True),
    ]


@pytest.mark.parametrize(
    ("keep", "refusal"),
    [
        ([0, 2], "has page 3 where page 2 should be: a page is missing or out of order"),
        ([1, 0, 2], "has page 2 where page 1 should be"),
        ([0, 1], "ends after page 2, which is not its last: the file was cut short"),
        ([0, 1, 2, 0], None),  # the very same first page again is read once
    ],
    ids=["a-page-missing", "out-of-order", "cut-short", "a-page-repeated"],
)
def test_a_sealed_file_missing_a_page_is_refused(
    module_rings: Rings, keep: list[int], refusal: str | None
) -> None:
    wires = _paged(module_rings)
    lines = [wires[index] for index in keep]
    if refusal is None:
        assert len(list(open_lines(lines, keyring=module_rings.hub, now=T0))) == 3
        return
    with pytest.raises(InputRefused, match=re.escape(f"The sealed file f.jsonl {refusal}")):
        list(open_lines(lines, keyring=module_rings.hub, now=T0, source="f.jsonl"))


def test_a_page_spliced_in_from_another_file_is_refused(module_rings: Rings) -> None:
    """An old file's last page, already applied, cannot end a new file early."""
    guard = InMemoryReplayGuard()
    old = _paged(module_rings, _records(15))  # two pages, the second its last
    assert len(list(open_lines(old, keyring=module_rings.hub, now=T0, replay_guard=guard))) == 2
    new = _paged(module_rings)  # three pages

    spliced = [new[0], old[1]]

    with pytest.raises(InputRefused, match="holds a page of another sealed file"):
        list(open_lines(spliced, keyring=module_rings.hub, now=T0, replay_guard=guard))


def test_each_sealed_file_names_itself_in_every_page(module_rings: Rings) -> None:
    first, second = _paged(module_rings), _paged(module_rings)
    ids = {
        file_of(opened.header.content_type)
        for opened in open_lines(first, keyring=module_rings.hub, now=T0)
    }
    assert len(ids) == 1
    assert ids != {
        file_of(opened.header.content_type)
        for opened in open_lines(second, keyring=module_rings.hub, now=T0)
    }


def test_pages_without_numbers_are_read_as_they_are(module_rings: Rings) -> None:
    unnumbered = [_seal(module_rings), _seal(module_rings)]
    assert len(list(open_lines(unnumbered, keyring=module_rings.hub, now=T0))) == 2


@pytest.mark.parametrize(
    ("content_type", "parts"),
    [
        (CONTENT_TYPE_FEED, (CONTENT_TYPE_FEED, None, False)),
        (f"{CONTENT_TYPE_FEED}; page=12", (CONTENT_TYPE_FEED, 12, False)),
        (f"{CONTENT_TYPE_FEED}; page=3; last=true", (CONTENT_TYPE_FEED, 3, True)),
        (f"{CONTENT_TYPE_FEED}; file={'ab' * 8}; page=3; last=true", (CONTENT_TYPE_FEED, 3, True)),
        (f"{CONTENT_TYPE_FEED}; page=0", (f"{CONTENT_TYPE_FEED}; page=0", None, False)),
        (f"{CONTENT_TYPE_FEED}; page=٣", (f"{CONTENT_TYPE_FEED}; page=٣", None, False)),
    ],
)
def test_a_page_number_is_read_only_in_its_exact_form(
    content_type: str, parts: tuple[str, int | None, bool]
) -> None:
    assert page_of(content_type) == parts
