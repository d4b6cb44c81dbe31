"""Envelopes, sealed files and the key ring held to `docs/crypto.md`, check by check.

Each test pins one property stated in `docs/crypto.md` (cited in its
docstring): the documented wire construction, the well-formedness and key
checks of `open_envelope` and of a relay, the page checks of sealed files,
and the status rules of `rotate`, `revoke`, `generate --if-missing` and
`keys import`. Every key is generated here, into the test's own folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, replace
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from sync.crypto.envelope import (
    HPKE_SUITE,
    encode_wire,
    inner_signing_input,
    looks_like_envelope,
    outer_signing_input,
    pack_inner,
    unpack_inner,
    verify_outer,
)
from sync.crypto.header import (
    CONTENT_TYPE_FEED,
    Header,
    check_content_type,
    parse_header,
)
from sync.crypto.keyring import (
    generate_party,
    import_party,
    list_keys,
    load_public_ring,
    revoke,
    rotate,
)
from sync.crypto.keys import KeyInfo, KeyRing, KeyStatus, KeyUse, Party
from sync.crypto.replay import InMemoryReplayGuard
from sync.crypto.sealed_file import open_lines, paged_content_type
from sync.errors import (
    ConfigurationError,
    EnvelopeOutsideSkewWindow,
    EnvelopeRejected,
    InputRefused,
    KeyError_,
)
from tests.unit.test_envelope import GRACE, PLAINTEXT, T0, Rings, _load, _open, _paged, _seal

WIRE_RE = re.compile(
    rb'\{"header":(\{[^{}]*\}),"ct":"([A-Za-z0-9+/=]*)","sig":"([A-Za-z0-9+/=]*)"\}'
)


def _rings(directory: Path) -> Rings:
    for party in Party:
        generate_party(directory, party, now=T0)
    return _load(directory)


@pytest.fixture(scope="module")
def rings(tmp_path_factory: pytest.TempPathFactory) -> Rings:
    return _rings(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def own_rings(tmp_path: Path) -> Rings:
    return _rings(tmp_path / "keys")


def _edit(wire: bytes, **fields: object) -> bytes:
    document = json.loads(wire)
    document.update(fields)
    return json.dumps(document).encode()


def _parts(wire: bytes) -> tuple[bytes, bytes, bytes]:
    """The header bytes, ciphertext and outer signature of a wire line as sealed."""
    found = WIRE_RE.fullmatch(wire)
    assert found is not None
    return found.group(1), base64.b64decode(found.group(2)), base64.b64decode(found.group(3))


def _header(rings: Rings, **changes: Any) -> Header:
    return replace(parse_header(json.loads(_seal(rings))["header"]), **changes)


def _forge(rings: Rings, header: Header, signer: Ed25519PrivateKey) -> bytes:
    """An envelope for `header`, built as `seal` builds one, signed by `signer`."""
    header_bytes = header.canonical()
    inner_sig = signer.sign(inner_signing_input(header_bytes, PLAINTEXT))
    _, recipient_key = rings.probation.recipient_key(header.recipient)
    payload = pack_inner(header_bytes, inner_sig, PLAINTEXT)
    ct = HPKE_SUITE.encrypt(payload, recipient_key, info=header_bytes)
    return encode_wire(header_bytes, ct, signer.sign(outer_signing_input(header_bytes, ct)))


def _public_sign_key(ring: KeyRing, key_id: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(ring.find(key_id).public_key)


def _length(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big")


# The documented construction


def test_the_header_on_the_wire_is_canonical_json(rings: Rings) -> None:
    """docs/crypto.md, "The envelope": H is canonical JSON (sorted keys, no spaces, ASCII)."""
    header_bytes, _, _ = _parts(_seal(rings))
    canonical = json.dumps(json.loads(header_bytes), sort_keys=True, separators=(",", ":"))
    assert header_bytes == canonical.encode("ascii")


def test_the_outer_signature_covers_the_documented_bytes(rings: Rings) -> None:
    """docs/crypto.md step 4: S_out = Ed25519(OUTER_TAG ‖ len(H) ‖ H ‖ SHA-256(ct))."""
    header_bytes, ct, sig = _parts(_seal(rings))
    signed = b"arms-sync/envelope/outer/v1\x00" + _length(header_bytes) + header_bytes
    key_id = json.loads(header_bytes)["sender_key_id"]
    _public_sign_key(rings.hub, key_id).verify(sig, signed + hashlib.sha256(ct).digest())


def test_the_sealed_payload_follows_the_documented_layout(rings: Rings) -> None:
    """docs/crypto.md steps 1-3: P = "ASI1" ‖ len(H) ‖ H ‖ S_in ‖ plaintext, HPKE-sealed
    with info = H, and S_in = Ed25519(INNER_TAG ‖ len(H) ‖ H ‖ SHA-256(plaintext))."""
    header_bytes, ct, _ = _parts(_seal(rings))
    header = json.loads(header_bytes)
    private = rings.hub.encryption_keys[header["recipient_key_id"]]
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    payload = suite.decrypt(ct, private, info=header_bytes)
    start = 8 + len(header_bytes)
    assert payload[:start] == b"ASI1" + _length(header_bytes) + header_bytes
    assert payload[start + 64 :] == PLAINTEXT
    signed = b"arms-sync/envelope/inner/v1\x00" + _length(header_bytes) + header_bytes
    key = _public_sign_key(rings.hub, header["sender_key_id"])
    key.verify(payload[start : start + 64], signed + hashlib.sha256(PLAINTEXT).digest())


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"ASI2" + _length(b"{}") + b"{}" + bytes(64) + PLAINTEXT, "not in the expected format"),
        (b"ASI1" + _length(b"{}") + b"{}" + bytes(63), "truncated"),
    ],
    ids=["another-magic", "short-signature"],
)
def test_a_sealed_payload_off_its_layout_is_refused(payload: bytes, reason: str) -> None:
    """docs/crypto.md step 2: the inner payload starts "ASI1" and holds a whole S_in."""
    with pytest.raises(EnvelopeRejected, match=reason):
        unpack_inner(payload)


# Well-formed


def test_an_envelope_with_a_field_besides_header_ct_and_sig_is_refused(rings: Rings) -> None:
    """docs/crypto.md, checks on opening: well-formed means exactly `header`/`ct`/`sig`."""
    wire = _edit(_seal(rings), note="EXAMPLE")
    with pytest.raises(EnvelopeRejected, match="exactly header, ct and sig"):
        _open(wire, rings.hub)


def test_a_line_with_a_field_besides_the_three_is_no_envelope(rings: Rings) -> None:
    """docs/crypto.md: `looks_like_envelope` wants exactly `header`, `ct`, `sig`."""
    assert not looks_like_envelope(_edit(_seal(rings), id="X000001"))


@pytest.mark.parametrize("field", ["ct", "sig"])
def test_a_ciphertext_or_signature_that_is_not_text_is_refused(rings: Rings, field: str) -> None:
    """docs/crypto.md: the first failed check raises `EnvelopeRejected`, nothing else."""
    with pytest.raises(EnvelopeRejected, match="not text"):
        _open(_edit(_seal(rings), **{field: 12345}), rings.hub)


@pytest.mark.parametrize("field", ["ct", "sig"])
def test_base64_with_a_stray_character_is_refused(rings: Rings, field: str) -> None:
    """docs/crypto.md: ct and sig are standard base64; a well-formed envelope has no junk."""
    wire = _seal(rings)
    text: str = json.loads(wire)[field]
    with pytest.raises(EnvelopeRejected, match="base64"):
        _open(_edit(wire, **{field: text[:8] + "!" + text[8:]}), rings.hub)


def test_a_header_field_that_is_not_text_is_refused(rings: Rings) -> None:
    """docs/crypto.md: exactly the header fields, in their formats, else `EnvelopeRejected`."""
    document = _header(rings).to_json()
    document["msg_id"] = 12345
    with pytest.raises(EnvelopeRejected, match="not text"):
        parse_header(document)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msg_id", "AB" * 16),
        ("msg_id", "ab" * 16 + "0"),
        ("sender_key_id", "AB" * 16),
        ("recipient_key_id", "ab" * 17),
        ("content_type", CONTENT_TYPE_FEED + "\x7f"),
        ("content_type", ""),
        ("content_type", "x" * 201),
        ("v", True),
    ],
)
def test_a_header_field_off_its_format_is_refused(rings: Rings, field: str, value: object) -> None:
    """docs/crypto.md, header table: ids are 32 lower-case hex digits, `v` is 1, and
    the content type is short printable ASCII."""
    document = _header(rings).to_json()
    document[field] = value
    with pytest.raises(EnvelopeRejected):
        parse_header(document)


def test_a_content_type_of_200_characters_is_the_longest_sealed() -> None:
    """docs/crypto.md, header table: `content_type` is a short printable text."""
    assert check_content_type("x" * 200) == "x" * 200
    with pytest.raises(ValueError, match="content_type"):
        check_content_type("x" * 201)


def test_a_signed_header_with_an_impossible_date_is_refused(rings: Rings) -> None:
    """docs/crypto.md, header table: `sealed_at` is an RFC 3339 UTC time (a real date)."""
    header = _header(rings, sealed_at="2026-02-30T10:00:00Z")
    wire = _forge(rings, header, rings.probation.own_signing_key()[1])
    with pytest.raises(EnvelopeRejected, match="date"):
        _open(wire, rings.hub, max_skew=None)


def test_sealed_at_is_utc_whatever_the_zone_of_now(rings: Rings) -> None:
    """docs/crypto.md, header table: `sealed_at` is UTC to the second."""
    now = T0.astimezone(timezone(timedelta(hours=2)))
    header = parse_header(json.loads(_seal(rings, now=now))["header"])
    assert header.sealed_at == "2026-11-28T10:00:00Z"


# Keys and the order of the checks


def test_a_sender_key_of_another_party_is_refused(rings: Rings) -> None:
    """docs/crypto.md, checks on opening: the sender key must belong to `sender`
    (police cannot seal as probation under its own key)."""
    key_id, police_key = rings.police.own_signing_key()
    wire = _forge(rings, _header(rings, sender_key_id=key_id), police_key)
    with pytest.raises(KeyError_, match="not a sign key of probation"):
        _open(wire, rings.hub)


def test_a_sender_key_that_is_not_a_signing_key_is_refused(rings: Rings) -> None:
    """docs/crypto.md, checks on opening: the sender key must be a signing key."""
    encrypt_id = rings.probation.active(Party.PROBATION, KeyUse.ENCRYPT).key_id
    header = _header(rings, sender_key_id=encrypt_id)
    wire = _forge(rings, header, rings.probation.own_signing_key()[1])
    with pytest.raises(KeyError_, match="not a sign key"):
        _open(wire, rings.hub)


def test_a_relay_refuses_a_sender_key_past_its_grace(own_rings: Rings) -> None:
    """docs/crypto.md: `envelope verify` wants a sender key neither revoked nor past
    its grace (`verify_outer` with `now`)."""
    wire = _seal(own_rings)
    rotate(own_rings.directory, Party.PROBATION, GRACE, now=T0)
    relay = load_public_ring(own_rings.directory)
    assert verify_outer(wire, relay, now=T0 + GRACE).sender is Party.PROBATION
    with pytest.raises(KeyError_, match="grace"):
        verify_outer(wire, relay, now=T0 + GRACE + timedelta(seconds=1))


def test_a_decrypt_only_key_without_a_deadline_is_never_usable() -> None:
    """docs/crypto.md, statuses: decrypt-only opens until `grace_until`, then never."""
    info = KeyInfo(Party.POLICE, KeyUse.SIGN, "ab" * 16, 1, KeyStatus.DECRYPT_ONLY, T0, bytes(32))
    assert not info.usable_at(T0)


def test_a_forged_signature_is_reported_before_the_clock_skew(rings: Rings) -> None:
    """docs/crypto.md: checks run in order, outer signature before clock skew."""
    wire = _seal(rings, now=T0 - timedelta(days=1))
    sig = bytearray(base64.b64decode(json.loads(wire)["sig"]))
    sig[0] ^= 1
    forged = _edit(wire, sig=base64.b64encode(bytes(sig)).decode())
    with pytest.raises(EnvelopeRejected, match="outer signature") as caught:
        _open(forged, rings.hub)
    assert not isinstance(caught.value, EnvelopeOutsideSkewWindow)


# Sealed files


def _old_page(rings: Rings, number: int, last: bool = False) -> bytes:
    """A page numbered without a file id, as sealed before files had ids."""
    return _seal(rings, content_type=paged_content_type(CONTENT_TYPE_FEED, number, last))


def _read(lines: list[bytes], rings: Rings, **options: Any) -> int:
    return len(list(open_lines(lines, keyring=rings.hub, now=T0, source="f.jsonl", **options)))


def test_page_content_types_have_the_documented_form(rings: Rings) -> None:
    """docs/crypto.md: `…; file=<16 hex>; page=1`, …, `…; page=N; last=true`."""
    types = [json.loads(wire)["header"]["content_type"] for wire in _paged(rings)]
    file_id = re.escape(CONTENT_TYPE_FEED) + "; file=[0-9a-f]{16}; "
    assert re.fullmatch(file_id + "page=1", types[0])
    assert re.fullmatch(file_id + "page=3; last=true", types[2])


def test_a_file_read_twice_with_one_guard_is_read_once(rings: Rings) -> None:
    """docs/crypto.md: the very same page twice is read once (the caller's guard counts)."""
    wires, guard = _paged(rings), InMemoryReplayGuard()
    assert _read(wires, rings, replay_guard=guard) == 3
    assert _read(wires, rings, replay_guard=guard) == 0


def test_a_file_sealed_a_month_ago_opens(rings: Rings) -> None:
    """docs/crypto.md: files are not live; they are opened with `max_skew=None`."""
    wires = _paged(rings)
    opened = open_lines(wires, keyring=rings.hub, now=T0 + timedelta(days=30))
    assert len(list(opened)) == 3


def test_a_file_whose_sender_changes_is_refused(rings: Rings) -> None:
    """docs/crypto.md: `open_lines` refuses a file whose sender changes part-way."""
    by_police = _seal(rings, sender=Party.POLICE, keyring=rings.police)
    with pytest.raises(InputRefused, match="changes sender"):
        _read([_seal(rings), by_police], rings)


@pytest.mark.parametrize("unnumbered_at", [0, 1])
def test_numbered_and_unnumbered_pages_in_one_file_are_refused(
    rings: Rings, unnumbered_at: int
) -> None:
    """docs/crypto.md: numbered pages are checked; an unnumbered page cannot slip in."""
    lines = [_old_page(rings, 1), _old_page(rings, 2, last=True)]
    lines.insert(unnumbered_at, _seal(rings))
    with pytest.raises(InputRefused, match="mixes numbered and unnumbered"):
        _read(lines, rings)


def test_pages_without_a_file_id_are_refused_out_of_order(rings: Rings) -> None:
    """docs/crypto.md: pages numbered without a file id are checked for their numbers."""
    first, second, third = _old_page(rings, 1), _old_page(rings, 2), _old_page(rings, 3, True)
    other_first = _old_page(rings, 1)
    with pytest.raises(InputRefused, match="has page 1 where page 3 should be"):
        _read([first, second, other_first, third], rings)


def test_a_page_after_the_last_page_is_refused(rings: Rings) -> None:
    """docs/crypto.md: numbers are checked; a page after the one marked last is extra."""
    lines = [_old_page(rings, 1), _old_page(rings, 2, last=True), _old_page(rings, 3)]
    with pytest.raises(InputRefused, match="has page 3 where page 3 should be"):
        _read(lines, rings)


# Key status transitions


def _keys_of(directory: Path, party: Party, generation: int) -> list[KeyInfo]:
    return [i for i in list_keys(directory) if i.party is party and i.generation == generation]


def test_rotation_never_brings_a_revoked_key_back(own_rings: Rings) -> None:
    """docs/crypto.md: revoked keys are never accepted again, whatever the date."""
    directory = own_rings.directory
    revoke(directory, Party.PROBATION, _keys_of(directory, Party.PROBATION, 1)[0].key_id, now=T0)
    rotate(directory, Party.PROBATION, GRACE, now=T0)
    assert {i.status for i in _keys_of(directory, Party.PROBATION, 1)} == {KeyStatus.REVOKED}


def test_revoking_a_partys_key_leaves_the_other_parties_alone(own_rings: Rings) -> None:
    """docs/crypto.md: revoke takes the named key and its sibling of the same generation."""
    directory = own_rings.directory
    revoke(directory, Party.POLICE, _keys_of(directory, Party.POLICE, 1)[0].key_id, now=T0)
    others = [i for i in list_keys(directory) if i.party is not Party.POLICE]
    assert {i.status for i in others} == {KeyStatus.ACTIVE}


def _rewrite_ring(directory: Path, top: dict[str, object], first_key: dict[str, object]) -> None:
    path = directory / "ring.json"
    document = json.loads(path.read_text())
    document.update(top)
    document["keys"][0].update(first_key)
    path.write_text(json.dumps(document))


def test_a_ring_entry_whose_key_id_does_not_match_its_key_is_refused(own_rings: Rings) -> None:
    """docs/crypto.md: the key id is computed again on every load and must match."""
    _rewrite_ring(own_rings.directory, {}, {"key_id": "0" * 32})
    with pytest.raises(ConfigurationError):
        list_keys(own_rings.directory)


def test_a_ring_in_another_format_is_refused(own_rings: Rings) -> None:
    """docs/crypto.md: `ring.json` is `{"format": 1, "keys": [...]}`."""
    _rewrite_ring(own_rings.directory, {"format": 2}, {})
    with pytest.raises(ConfigurationError, match="format"):
        list_keys(own_rings.directory)


def test_generate_if_missing_refuses_a_party_whose_private_key_is_gone(
    own_rings: Rings,
) -> None:
    """README, Deploying: `--if-missing` still refuses a party whose private key files
    have gone (restore them, never make new ones by accident)."""
    directory = own_rings.directory
    next((directory / "private" / "police").glob("sign-*.pem")).unlink()
    with pytest.raises(KeyError_, match="private key files"):
        generate_party(directory, Party.POLICE, now=T0, if_missing=True)


def test_generate_if_missing_refuses_a_hub_whose_data_key_is_gone(own_rings: Rings) -> None:
    """README, Deploying: `--if-missing` still refuses a hub whose data key has gone."""
    (own_rings.directory / "private" / "hub" / "data.key").unlink()
    with pytest.raises(KeyError_, match="data key is missing"):
        generate_party(own_rings.directory, Party.HUB, now=T0, if_missing=True)


# keys import


@dataclass(frozen=True)
class Directories:
    """The hub's key directory and the police's, whose `ring.json` it publishes."""

    hub: Path
    police: Path

    @property
    def published(self) -> Path:
        return self.police / "ring.json"


@pytest.fixture
def dirs(tmp_path: Path) -> Directories:
    hub, police = tmp_path / "hub", tmp_path / "police"
    generate_party(hub, Party.HUB, now=T0)
    generate_party(police, Party.POLICE, now=T0)
    generate_party(police, Party.PROBATION, now=T0)  # keys "for probation" in police's ring
    return Directories(hub, police)


def _statuses(directory: Path, party: Party) -> set[tuple[int, KeyStatus]]:
    return {(i.generation, i.status) for i in list_keys(directory) if i.party is party}


def test_import_takes_only_the_named_partys_keys(dirs: Directories) -> None:
    """docs/crypto.md: `keys import` takes only the named party's entries and adds them."""
    changed = import_party(dirs.hub, Party.POLICE, dirs.published)
    assert {(i.party, i.use) for i in changed} == {(Party.POLICE, u) for u in KeyUse}
    assert {i.party for i in list_keys(dirs.hub)} == {Party.HUB, Party.POLICE}


def test_import_refuses_a_party_whose_private_keys_are_here(
    dirs: Directories, tmp_path: Path
) -> None:
    """docs/crypto.md: `keys import` refuses a party whose private keys are in the directory."""
    copy = shutil.copy(dirs.published, tmp_path / "copy.json")
    with pytest.raises(KeyError_, match="made in this key directory"):
        import_party(dirs.police, Party.POLICE, Path(copy))


def test_import_of_a_ring_without_the_party_is_refused(dirs: Directories) -> None:
    """docs/crypto.md: `keys import` takes the named party's entries; none is an error."""
    with pytest.raises(KeyError_, match="holds no keys of police"):
        import_party(dirs.police / "elsewhere", Party.POLICE, dirs.hub / "ring.json")


def test_import_moves_a_status_forward_and_never_back(dirs: Directories, tmp_path: Path) -> None:
    """docs/crypto.md: a held key's status only moves forward, so an older copy never
    brings a rotated or revoked key back."""
    old_copy = Path(shutil.copy(dirs.published, tmp_path / "old.json"))
    import_party(dirs.hub, Party.POLICE, dirs.published)
    rotate(dirs.police, Party.POLICE, GRACE, now=T0)
    revoke(dirs.police, Party.POLICE, _keys_of(dirs.police, Party.POLICE, 1)[0].key_id, now=T0)
    import_party(dirs.hub, Party.POLICE, dirs.published)
    expected = {(1, KeyStatus.REVOKED), (2, KeyStatus.ACTIVE)}
    assert _statuses(dirs.hub, Party.POLICE) == expected
    assert import_party(dirs.hub, Party.POLICE, old_copy) == []
    assert _statuses(dirs.hub, Party.POLICE) == expected


def test_importing_the_same_ring_again_changes_nothing(dirs: Directories) -> None:
    """docs/crypto.md: `keys import` adds new keys and moves statuses forward, nothing else."""
    import_party(dirs.hub, Party.POLICE, dirs.published)
    assert import_party(dirs.hub, Party.POLICE, dirs.published) == []


def test_a_published_ring_cannot_touch_a_key_held_for_another_party(
    dirs: Directories, tmp_path: Path
) -> None:
    """docs/crypto.md: a published ring cannot change what this ring holds of any other
    party; a held key id under another party is refused."""
    document = json.loads((dirs.hub / "ring.json").read_text())
    entry = document["keys"][0]
    entry.update(party="police", status="revoked", revoked_at=T0.isoformat())
    crafted = tmp_path / "crafted.json"
    crafted.write_text(json.dumps({"format": 1, "keys": [entry]}))
    with pytest.raises(KeyError_, match="not the key this ring holds"):
        import_party(dirs.hub, Party.POLICE, crafted)
    assert _statuses(dirs.hub, Party.HUB) == {(1, KeyStatus.ACTIVE)}


# Each field once, each in its exact form


@pytest.mark.parametrize("field", ["ct", "sig", "header"])
def test_an_envelope_naming_a_field_twice_is_refused(rings: Rings, field: str) -> None:
    """docs/crypto.md, checks on opening: well-formed, each field named once, so no two
    parsers can read different values of one envelope."""
    wire = _seal(rings)
    document = json.loads(wire)
    twice = f'"{field}":{json.dumps(document[field], separators=(",", ":"))},'
    doubled = wire.replace(b"{", b"{" + twice.encode(), 1)
    with pytest.raises(EnvelopeRejected, match="names a field twice"):
        _open(doubled, rings.hub)


def test_a_header_naming_a_field_twice_is_refused(rings: Rings) -> None:
    """docs/crypto.md, checks on opening: the header's fields too, each named once."""
    wire = _seal(rings)
    doubled = wire.replace(b'"header":{', b'"header":{"v":1,', 1)
    with pytest.raises(EnvelopeRejected, match="names a field twice"):
        _open(doubled, rings.hub)


@pytest.mark.parametrize("version", [1.0, True, "1", 2])
def test_the_version_is_the_integer_one(rings: Rings, version: object) -> None:
    """docs/crypto.md, checks on opening: the version is the integer 1, exactly."""
    document = _header(rings).to_json()
    document["v"] = version
    with pytest.raises(EnvelopeRejected, match="version"):
        parse_header(document)
