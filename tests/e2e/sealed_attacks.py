"""Sealed feed files gone wrong: tampered, misaddressed, replayed or forwarded.

Each builder takes the sealed files of a `SealedWorld` and writes a file that
`arms-sync run` must refuse whole; `ATTACKS` names them with the feed they
are presented as and a fragment of the one-sentence refusal.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.crypto import Party, load_keyring, seal
from sync.crypto.envelope import (
    HPKE_SUITE,
    encode_wire,
    outer_signing_input,
    pack_inner,
    unpack_inner,
)
from sync.crypto.header import parse_header

PAGE_LINES = 100


@dataclass
class SealedWorld:
    """A ledger that applied sealed file A; file B (A's records and more) sealed alike."""

    root: Path
    keys: Path
    base_db: Path
    police_feed: Path
    part_a: Path
    plain_a: Path
    full_b: Path
    to_police: Path


def envelopes(path: Path) -> list[dict[str, Any]]:
    """The envelopes of a sealed file, parsed."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_envelopes(path: Path, documents: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents))
    return path


def flip_base64(text: str, index: int) -> str:
    """Base64 text with one bit of the decoded byte at `index` flipped."""
    raw = bytearray(base64.b64decode(text))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode("ascii")


def tampered_header(world: SealedWorld, out: Path) -> Path:
    """B with a header field of its last page changed."""
    documents = envelopes(world.full_b)
    documents[-1]["header"]["sealed_at"] = "2026-01-01T00:00:00Z"
    return write_envelopes(out, documents)


def tampered_body(world: SealedWorld, out: Path) -> Path:
    """B with one ciphertext bit of its last page flipped."""
    documents = envelopes(world.full_b)
    documents[-1]["ct"] = flip_base64(documents[-1]["ct"], -20)
    return write_envelopes(out, documents)


def tampered_signature(world: SealedWorld, out: Path) -> Path:
    """B with one bit of its last page's outer signature flipped."""
    documents = envelopes(world.full_b)
    documents[-1]["sig"] = flip_base64(documents[-1]["sig"], 7)
    return write_envelopes(out, documents)


def wrong_recipient(world: SealedWorld, out: Path) -> Path:
    """B sealed to the police instead of the hub."""
    return world.to_police


def reused_msg_id(world: SealedWorld, out: Path) -> Path:
    """B's pages, the first sealed again under the msg_id of A's first page."""
    probation = load_keyring(world.keys, Party.PROBATION)
    taken = envelopes(world.part_a)[0]["header"]["msg_id"]
    lines = [line for line in world.plain_a.read_bytes().splitlines(keepends=True) if line.strip()]
    page = b"".join(lines[PAGE_LINES : 2 * PAGE_LINES])
    wire = seal(
        page,
        sender=Party.PROBATION,
        recipient=Party.HUB,
        keyring=probation,
        content_type=envelopes(world.part_a)[0]["header"]["content_type"],
        now=datetime.now(UTC),
        msg_id=taken,
    )
    return write_envelopes(out, [json.loads(wire), *envelopes(world.full_b)])


def forwarded(world: SealedWorld, out: Path) -> Path:
    """Police opens what probation sealed to it and re-encrypts the sealed payload to the hub."""
    police = load_keyring(world.keys, Party.POLICE)
    forged = []
    now = datetime.now(UTC)
    for document in envelopes(world.to_police):
        outer = parse_header(document["header"])
        private = police.decryption_key(outer.recipient_key_id, now)
        inner_header, inner_sig, plaintext = unpack_inner(
            HPKE_SUITE.decrypt(base64.b64decode(document["ct"]), private, info=outer.canonical())
        )
        sender_key_id, signing_key = police.own_signing_key()
        hub_key_id, hub_key = police.recipient_key(Party.HUB)
        header = parse_header(
            {
                **outer.to_json(),
                "sender": "police",
                "recipient": "hub",
                "sender_key_id": sender_key_id,
                "recipient_key_id": hub_key_id,
            }
        )
        header_bytes = header.canonical()
        ct = HPKE_SUITE.encrypt(
            pack_inner(inner_header, inner_sig, plaintext), hub_key, info=header_bytes
        )
        sig = signing_key.sign(outer_signing_input(header_bytes, ct))
        forged.append(json.loads(encode_wire(header_bytes, ct, sig)))
    return write_envelopes(out, forged)


ATTACKS: dict[str, tuple[Callable[[SealedWorld, Path], Path], str, str]] = {
    "tampered header": (tampered_header, "probation", "outer signature"),
    "tampered body": (tampered_body, "probation", "outer signature"),
    "tampered signature": (tampered_signature, "probation", "outer signature"),
    "sealed to another recipient": (wrong_recipient, "probation", "addressed to another"),
    "msg_id reused with other content": (reused_msg_id, "probation", "replay"),
    "forwarded to a third party": (forwarded, "police", "does not match"),
}
