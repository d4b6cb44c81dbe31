"""The transactional outbox: notices that changed, sealed per batch, stored with the decisions.

Inside the decision pass's transaction, the notices each agency should hold
are compared with what was last sent (`notice_state`); only new or changed
ones are sent, each naming the notice it replaces, and a notice whose subject
no longer concerns the agency is withdrawn. Changed notices are sealed to the
agency in batches and stored in `outbox` until a signed receipt comes back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, bindparam, delete, func, select, update

from sync.core.notices import NOTICE_WITHDRAWN, Notice
from sync.core.records import Agency
from sync.crypto.envelope import seal
from sync.crypto.header import CONTENT_TYPE_NOTICES, Header, parse_header
from sync.crypto.keys import KeyRing, KeyUse, Party
from sync.errors import EnvelopeRejected, KeyError_
from sync.ledger import schema
from sync.ledger.codec import Cipher
from sync.ledger.store import bulk_execute

UUID_BYTES = 16
# The envelope of a batch kept until its agency has an active encryption key.
UNSEALED = b""

NOTICE_BATCH = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxKeys:
    """What the outbox needs: the hub's key ring to seal, the data key to keep batches."""

    keyring: KeyRing
    cipher: Cipher


def seal_batch(
    plaintext: bytes, agency: str, batch_id: str, keyring: KeyRing, now: datetime
) -> bytes:
    """A notice batch sealed from the hub to one agency, its id as the message id."""
    return seal(
        plaintext,
        sender=Party.HUB,
        recipient=Party(Agency(agency).value),
        keyring=keyring,
        content_type=CONTENT_TYPE_NOTICES,
        now=now,
        msg_id=batch_id,
    )


def can_seal_to(agency: str, keyring: KeyRing) -> bool:
    """Whether the ring holds the keys to seal `agency`'s batches now: the hub's active
    signing key and the agency's active encryption key.

    Without them, while the ring holds the agency's keys (a key revoked, its
    new one not yet made or imported), the agency's batches are kept
    `UNSEALED` in the outbox, their content encrypted at rest like every batch,
    and sealed when a delivery finds the keys: a missing key holds back
    notices, never the decision pass. A ring that never held the agency's keys
    is a configuration to mend: `KeyError_` says to import them.
    """
    party = Party(Agency(agency).value)
    if not keyring.holds_keys_of(party):
        keyring.active(party, KeyUse.ENCRYPT)  # raises: import the agency's keys
    return why_unsealable(agency, keyring) is None


def why_unsealable(agency: str, keyring: KeyRing) -> KeyError_ | None:
    """Why `agency`'s batches cannot be sealed (or sent) now: the hub has no active signing
    key, or the agency no active encryption key; None when both are there."""
    hub = keyring.lacks_active_key(Party.HUB, KeyUse.SIGN)
    return hub or keyring.lacks_active_key(Party(Agency(agency).value), KeyUse.ENCRYPT)


def reseal_batch(conn: Connection, batch_id: str, keys: OutboxKeys, now: datetime) -> bytes:
    """Seal a waiting batch (again: same message id, new time): one the gateway found stale
    or sealed under keys retired since, or one kept unsealed until the keys were there.

    Safe for exactly-once: a gateway that already stored the batch answers the
    original envelope with its receipt before any clock check, so it only
    refuses as stale a batch it never stored.
    """
    table = schema.outbox
    agency, stored = conn.execute(
        select(table.c.agency, table.c.sealed_batch).where(table.c.batch_id == batch_id)
    ).one()
    plaintext = keys.cipher.decrypt(f"outbox/{batch_id}", bytes(stored))
    envelope = seal_batch(plaintext, agency, batch_id, keys.keyring, now)
    conn.execute(update(table).where(table.c.batch_id == batch_id).values(envelope=envelope))
    return envelope


def sealed_under_retired_keys(envelope: bytes, keyring: KeyRing) -> bool:
    """Whether a waiting batch was sealed under keys that are no longer the current ones.

    True when its signing key is not the hub's active one or its encryption key
    not the agency's active one (rotated, or revoked since): sealed again, it
    would be accepted. False when there is no current key to seal it with.
    """
    header = _header_of(envelope)
    if header is None:
        return False
    try:
        signing = keyring.active(Party.HUB, KeyUse.SIGN).key_id
        encryption = keyring.active(header.recipient, KeyUse.ENCRYPT).key_id
    except KeyError_:
        return False
    return (header.sender_key_id, header.recipient_key_id) != (signing, encryption)


def sealing_keys_named(envelope: bytes) -> str | None:
    """The keys a batch was sealed under, as a clause for an error: "signed with hub key
    … and sealed to police key …"; None if its header cannot be read."""
    header = _header_of(envelope)
    if header is None:
        return None
    signed = f"signed with {header.sender} key {header.sender_key_id}"
    return f"{signed} and sealed to {header.recipient} key {header.recipient_key_id}"


def _header_of(envelope: bytes) -> Header | None:
    """The envelope's header, or None if it is not one the hub could have sealed."""
    try:
        return parse_header(json.loads(envelope)["header"])
    except (ValueError, TypeError, KeyError, EnvelopeRejected):
        return None


@dataclass(frozen=True, slots=True)
class OutgoingNotice:
    """A notice to send: its id, what it replaces, and its body as canonical JSON.

    The body is kept as its JSON bytes, not as a dict: a first national run
    holds half a million changed notices at once, and the bytes take a
    fraction of the dict's memory.
    """

    notice_id: str
    agency: str
    key: str
    kind: str
    subject_id: str
    replaces: str | None
    body: bytes
    digest: str

    def wire(self) -> bytes:
        """The notice as it goes in a batch: its id and what it replaces, then its body.

        The same bytes as `to_json` of one object holding the three, in that order.
        """
        head = to_json({"notice_id": self.notice_id, "replaces": self.replaces})
        return head[:-1] + b"," + self.body[1:]


def random_ids(count: int) -> list[str]:
    """`count` random UUID4s in hex, from one call to the OS's random source.

    A first national run gives half a million notices an id each; a call to
    the OS per id cost seconds.
    """
    entropy = os.urandom(UUID_BYTES * count)
    return [
        uuid.UUID(bytes=entropy[start : start + UUID_BYTES], version=4).hex
        for start in range(0, len(entropy), UUID_BYTES)
    ]


def canonical_body(body: dict[str, Any]) -> bytes:
    """A notice body's canonical JSON.

    The bodies are built by one function per kind, so their key order is fixed
    and pydantic-core's JSON (several times faster than json.dumps) is canonical.
    """
    return to_json(body)


def changed_notices(conn: Connection, desired: Iterable[Notice]) -> Iterator[OutgoingNotice]:
    """The notices that differ from what each agency last received, withdrawals last.

    Lazy, so a national pass never holds all its notices at once: what was
    sent is read when the first notice is asked for, and the ids are drawn a
    batch at a time. A pass gives each agency's notice key once, so what was
    sent under a key is let go as soon as that key's notice is compared; the
    keys left over are those the pass no longer gives: withdrawn.
    """
    sent = _sent_state(conn)
    waiting: list[_Unnumbered] = []
    for notice in desired:
        slot = (str(notice.agency), notice.key)
        body = canonical_body(notice.body)
        digest = hashlib.sha256(body).hexdigest()
        previous = sent.pop(slot, None)
        if previous is not None and previous[0] == digest:
            continue
        replaces = None if previous is None else previous[1]
        waiting.append((*slot, notice.kind, notice.subject_id, replaces, body, digest))
        if len(waiting) == NOTICE_BATCH:
            yield from _numbered(waiting)
            waiting = []
    for slot in sorted(sent):
        agency, key = slot
        _, replaced_id, subject_id = sent[slot]
        withdrawal = {"kind": NOTICE_WITHDRAWN, "withdrawn_key": key, "subject_id": subject_id}
        body = canonical_body(withdrawal)
        waiting.append((agency, key, NOTICE_WITHDRAWN, subject_id, replaced_id, body, ""))
    yield from _numbered(waiting)


# A changed notice's fields but its id: agency, key, kind, subject, replaces, body, digest.
_Unnumbered = tuple[str, str, str, str, str | None, bytes, str]


def _sent_state(conn: Connection) -> dict[tuple[str, str], tuple[str, str, str]]:
    """What each agency last received, by (agency, notice key): digest, notice id, subject."""
    state, notices = schema.notice_state, schema.notices
    return {
        (agency, key): (digest, notice_id, subject_id)
        for agency, key, digest, notice_id, subject_id in conn.execute(
            select(
                state.c.agency,
                state.c.notice_key,
                state.c.digest,
                state.c.notice_id,
                notices.c.subject_id,
            ).join_from(state, notices, notices.c.notice_id == state.c.notice_id)
        )
    }


def _numbered(waiting: list[_Unnumbered]) -> Iterator[OutgoingNotice]:
    """The waiting notices, each with a random id of its own (drawn together)."""
    for notice_id, fields in zip(random_ids(len(waiting)), waiting, strict=True):
        yield OutgoingNotice(notice_id, *fields)


def store_outgoing(
    conn: Connection,
    outgoing: Iterable[OutgoingNotice],
    keys: OutboxKeys,
    run_id: int,
    now: datetime,
) -> int:
    """Seal changed notices per agency in batches, write the outbox and the sent state.

    A batch is stored as soon as it is full, so at most one batch per agency
    waits in memory. Returns the number of batches stored.
    """
    positions: dict[str, int] = {}
    sealable: dict[str, bool] = {}
    waiting: dict[str, list[OutgoingNotice]] = defaultdict(list)

    def store(agency: str, chunk: list[OutgoingNotice]) -> None:
        if agency not in positions:
            positions[agency] = _next_position(conn, agency)
            sealable[agency] = can_seal_to(agency, keys.keyring)
            if not sealable[agency]:
                log.warning(
                    "notices to %s kept unsealed: the keys to seal them are missing", agency
                )
        position = positions[agency]
        seal_now = sealable[agency]
        _store_batch(conn, agency, chunk, keys, position, run_id, now, seal_now=seal_now)
        _update_state(conn, chunk, run_id)
        positions[agency] = position + 1

    batches = 0
    for notice in outgoing:
        chunk = waiting[notice.agency]
        chunk.append(notice)
        if len(chunk) == NOTICE_BATCH:
            store(notice.agency, chunk)
            waiting[notice.agency] = []
            batches += 1
    for agency, chunk in sorted(waiting.items()):
        if chunk:
            store(agency, chunk)
            batches += 1
    return batches


def _next_position(conn: Connection, agency: str) -> int:
    table = schema.outbox
    current = conn.execute(
        select(func.max(table.c.position)).where(table.c.agency == agency)
    ).scalar_one_or_none()
    return 0 if current is None else int(current) + 1


def _store_batch(
    conn: Connection,
    agency: str,
    chunk: list[OutgoingNotice],
    keys: OutboxKeys,
    position: int,
    run_id: int,
    now: datetime,
    *,
    seal_now: bool,
) -> None:
    batch_id = uuid.uuid4().hex
    plaintext = batch_plaintext(batch_id, chunk)
    envelope = seal_batch(plaintext, agency, batch_id, keys.keyring, now) if seal_now else UNSEALED
    conn.execute(
        schema.outbox.insert().values(
            batch_id=batch_id,
            agency=agency,
            position=position,
            envelope=envelope,
            sealed_batch=keys.cipher.encrypt(f"outbox/{batch_id}", plaintext),
            notice_count=len(chunk),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    bulk_execute(
        conn,
        schema.notices.insert(),
        [
            {
                "notice_id": n.notice_id,
                "agency": agency,
                "kind": n.kind,
                "subject_id": n.subject_id,
                "replaces": n.replaces,
                "batch_id": batch_id,
                "created_run": run_id,
            }
            for n in chunk
        ],
        "notices-insert",
    )


def batch_plaintext(batch_id: str, chunk: list[OutgoingNotice]) -> bytes:
    """A batch's JSON: its id and its notices, each as `OutgoingNotice.wire`."""
    notices = b",".join(notice.wire() for notice in chunk)
    return b'{"batch_id":' + to_json(batch_id) + b',"notices":[' + notices + b"]}"


def _update_state(conn: Connection, outgoing: list[OutgoingNotice], run_id: int) -> None:
    """Point each of the notices' slots at the notice just sent."""
    table = schema.notice_state
    replaced = [{"a": n.agency, "k": n.key} for n in outgoing if n.replaces is not None]
    bulk_execute(
        conn,
        delete(table).where(table.c.agency == bindparam("a"), table.c.notice_key == bindparam("k")),
        replaced,
        "notice-state-delete",
    )
    current = [
        {
            "agency": n.agency,
            "notice_key": n.key,
            "digest": n.digest,
            "notice_id": n.notice_id,
            "updated_run": run_id,
        }
        for n in outgoing
        if n.kind != NOTICE_WITHDRAWN
    ]
    bulk_execute(conn, table.insert(), current, "notice-state-insert")
