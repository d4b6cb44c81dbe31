"""What every manual act shares: its operator and reason, ids, refusals and references.

Refusals are `UsageError`s (exit 2) with one sentence that names the missing
or unknown thing but never echoes personal data; a subject id that no longer
exists is refused with the ids of the subjects now holding its records.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, select

from sync.audit.chain import AuditKind
from sync.audit.pipeline_hooks import OPERATOR_ACTOR_PREFIX, checked_operator
from sync.core.identifiers import InvalidIdentifier
from sync.core.records import Agency, RecordRef
from sync.errors import UsageError
from sync.feeds.jsonl import looks_like_an_id
from sync.feeds.models import canonical_person_ref
from sync.ledger import schema
from sync.ledger.former_members import current_holders

MAX_REASON_CHARS = 2_000
ACT_ID_BYTES = 8
REF_SEPARATOR = ":"
LISTED_REF_SEPARATOR = "/"


@dataclass(frozen=True, slots=True)
class Actor:
    """The person making an act, and why."""

    operator: str
    reason: str

    @property
    def audit_actor(self) -> str:
        """The actor as the audit log names it."""
        return OPERATOR_ACTOR_PREFIX + self.operator


@dataclass(frozen=True, slots=True)
class AuditNote:
    """How an applied act is logged: its kind, purpose and record references."""

    kind: AuditKind
    purpose: str
    refs: tuple[str, ...]
    detail: str | None = None


def require_operator(operator: str | None) -> str:
    """The operator's name (checked as every command checks it), or a one-sentence refusal."""
    name = checked_operator(operator)
    if name is None:
        raise UsageError(
            "An operator is required: give --operator, set ARMS_SYNC_OPERATOR, "
            "or name operator in the settings file."
        )
    return name


def require_actor(operator: str | None, reason: str | None) -> Actor:
    """The act's operator and reason, or a one-sentence refusal."""
    name = require_operator(operator)
    why = (reason or "").strip()
    if not why:
        raise UsageError("A reason is required: give --reason.")
    if len(why) > MAX_REASON_CHARS:
        raise UsageError(f"The reason must be at most {MAX_REASON_CHARS} characters.")
    return Actor(name, why)


def new_act_id(prefix: str) -> str:
    """A fresh, unguessable act id such as `OVR-1A2B3C4D5E6F7A8B`."""
    return f"{prefix}-{secrets.token_hex(ACT_ID_BYTES).upper()}"


def parse_record_ref(text: str) -> RecordRef:
    """`agency:person_id` as a record reference, or a refusal.

    `agency/person_id`, the form `reconcile list` shows an item's records in, is
    taken too: no person reference holds either separator. The id is read as
    the agency's feed reads its person ids, so `probation:k000001` is K000001.
    """
    agency, sep, person_id = text.replace(LISTED_REF_SEPARATOR, REF_SEPARATOR, 1).partition(
        REF_SEPARATOR
    )
    if not sep or not person_id or agency not in {a.value for a in Agency}:
        raise UsageError("A person record must be given as probation:ID or police:ID.")
    return RecordRef(Agency(agency), canonical_reference(agency, person_id))


def canonical_reference(agency: str, person_id: str) -> str:
    """A person reference typed by an operator, in the form the feed reader keeps that
    agency's person ids in (trimmed; a CRN upper-cased), or a refusal naming the rule
    it breaks (the reference is not repeated)."""
    try:
        return canonical_person_ref(agency, person_id)
    except InvalidIdentifier as error:
        rule = str(error).partition(": ")[2]
        raise UsageError(
            f"The {agency} person record given is not a valid reference: it {rule}."
        ) from None


def as_given(noun: str, given: str) -> str:
    """`Subject S1A2…` for a reference shaped like an id, else `The subject given`: text
    typed by mistake (a name, a date of birth, a PNC) is never repeated."""
    return f"{noun} {given}" if looks_like_an_id(given) else f"The {noun.lower()} given"


def require_subject(conn: Connection, subject_id: str) -> None:
    """Refuse a subject id the ledger does not hold as a current subject.

    An id that no longer exists is refused with the current subjects now
    holding its records (subject ids are pseudonyms, not personal data), so
    an act never lands on another subject unasked.
    """
    table = schema.subjects
    active = conn.execute(
        select(table.c.active).where(table.c.subject_id == subject_id)
    ).scalar_one_or_none()
    if active is None:
        raise UsageError(
            f"{as_given('Subject', subject_id)} is not a current subject in the ledger."
        )
    if not active:
        raise UsageError(vanished_subject_message(subject_id, current_holders(conn, subject_id)))


def vanished_subject_message(subject_id: str, holders: Sequence[str] | None) -> str:
    """One sentence saying where a vanished subject id's records are now.

    `holders` are the current subjects holding them, most records first
    (empty: all deleted; None: the ledger did not keep them).
    """
    gone = f"Subject {subject_id} no longer exists"
    if holders is None:
        return (
            f"{gone}: it was re-linked before the ledger kept where a subject's records go, "
            "so `arms-sync export links` is the way to find them."
        )
    if not holders:
        return f"{gone}: its records were all deleted by their agencies."
    if len(holders) == 1:
        return f"{gone}: its records are now in subject {holders[0]}; use that id."
    named = f"{', '.join(holders[:-1])} and {holders[-1]}"
    return f"{gone}: its records are now in subjects {named}; use those ids."


def require_person(conn: Connection, ref: RecordRef, place: str = "") -> None:
    """Refuse a person record that is not current in the ledger (the id is not echoed).

    `place` ("first", "second") tells apart two records of one agency given
    together, which the agency alone cannot.
    """
    table = schema.records
    found = conn.execute(
        select(table.c.rid).where(
            table.c.agency == str(ref.agency),
            table.c.rtype == "person",
            table.c.rid == ref.person_id,
            table.c.deleted.is_(False),
        )
    ).first()
    if found is None:
        given = f"{place} person record given ({ref.agency})" if place else ""
        named = given or f"{ref.agency} person record given"
        raise UsageError(f"The {named} is not in the ledger.")


def require_date_range(start: date, end: date | None) -> None:
    """Refuse a range whose end comes before its start."""
    if end is not None and end < start:
        raise UsageError(f"The period's start (--from {start}) is after its end (--to {end}).")
