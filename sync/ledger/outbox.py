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
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Connection, bindparam, delete, func, select, update

from sync.core.notices import NOTICE_WITHDRAWN, Notice
from sync.core.records import Agency
from sync.crypto.envelope import seal
from sync.crypto.header import CONTENT_TYPE_NOTICES, parse_header
from sync.crypto.keys import KeyRing, KeyUse, Party
from sync.errors import EnvelopeRejected, KeyError_
from sync.ledger import schema
from sync.ledger.codec import Cipher
from sync.ledger.store import bulk_execute

UUID_BYTES = 16

NOTICE_BATCH = 500


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


def reseal_batch(conn: Connection, batch_id: str, keys: OutboxKeys, now: datetime) -> bytes:
    """Seal a waiting batch again (same message id, new time) after the gateway found it stale.

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
    try:
        header = parse_header(json.loads(envelope)["header"])
        signing = keyring.active(Party.HUB, KeyUse.SIGN).key_id
        encryption = keyring.active(header.recipient, KeyUse.ENCRYPT).key_id
    except (ValueError, TypeError, KeyError, EnvelopeRejected, KeyError_):
        return False
    return (header.sender_key_id, header.recipient_key_id) != (signing, encryption)


@dataclass(frozen=True, slots=True)
class OutgoingNotice:
    """A notice to send: its id, what it replaces, and its body."""

    notice_id: str
    agency: str
    key: str
    kind: str
    subject_id: str
    replaces: str | None
    body: dict[str, Any]
    digest: str


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


def _digest(body: dict[str, Any]) -> str:
    # The bodies are built by one function per kind, so their key order is fixed
    # and pydantic-core's JSON (several times faster than json.dumps) is canonical.
    return hashlib.sha256(to_json(body)).hexdigest()


def changed_notices(conn: Connection, desired: Iterable[Notice]) -> list[OutgoingNotice]:
    """The notices that differ from what each agency last received (withdrawals included)."""
    state, notices = schema.notice_state, schema.notices
    sent = {
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
    # Each notice's fields but its id; the ids are drawn together at the end.
    changed: list[tuple[str, str, str, str, str | None, dict[str, Any], str]] = []
    seen: set[tuple[str, str]] = set()
    for notice in desired:
        slot = (str(notice.agency), notice.key)
        seen.add(slot)
        digest = _digest(notice.body)
        previous = sent.get(slot)
        if previous is not None and previous[0] == digest:
            continue
        changed.append(
            (
                slot[0],
                notice.key,
                notice.kind,
                notice.subject_id,
                None if previous is None else previous[1],
                notice.body,
                digest,
            )
        )
    for slot in sorted(set(sent) - seen):
        agency, key = slot
        _, replaced_id, subject_id = sent[slot]
        body = {"kind": NOTICE_WITHDRAWN, "withdrawn_key": key, "subject_id": subject_id}
        changed.append((agency, key, NOTICE_WITHDRAWN, subject_id, replaced_id, body, ""))
    outgoing = [
        OutgoingNotice(notice_id, *fields)
        for notice_id, fields in zip(random_ids(len(changed)), changed, strict=True)
    ]
    outgoing.sort(key=lambda n: (n.agency, n.key))
    return outgoing


def store_outgoing(
    conn: Connection,
    outgoing: list[OutgoingNotice],
    keys: OutboxKeys,
    run_id: int,
    now: datetime,
) -> int:
    """Seal changed notices per agency in batches, write the outbox and the sent state."""
    by_agency: dict[str, list[OutgoingNotice]] = defaultdict(list)
    for notice in outgoing:
        by_agency[notice.agency].append(notice)
    batches = 0
    for agency, notices in sorted(by_agency.items()):
        position = _next_position(conn, agency)
        for start in range(0, len(notices), NOTICE_BATCH):
            chunk = notices[start : start + NOTICE_BATCH]
            _store_batch(conn, agency, chunk, keys, position, run_id, now)
            position += 1
            batches += 1
    _update_state(conn, outgoing, run_id)
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
) -> None:
    batch_id = uuid.uuid4().hex
    plaintext = to_json(
        {
            "batch_id": batch_id,
            "notices": [
                {"notice_id": n.notice_id, "replaces": n.replaces, **n.body} for n in chunk
            ],
        }
    )
    envelope = seal_batch(plaintext, agency, batch_id, keys.keyring, now)
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


def _update_state(conn: Connection, outgoing: list[OutgoingNotice], run_id: int) -> None:
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
