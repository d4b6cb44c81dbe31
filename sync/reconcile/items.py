"""Open items for people to decide, oldest first: link reviews, duplicate person
records, flags, gender or date-of-birth conflicts, and overrides applying to nobody.

Flags come from the `flags` table (resolved ones are hidden unless asked for);
link-review items come from `review_items`, which the matcher fills (an item
arms-sync closed itself, its pair no longer uncertain, is `lapsed`, not
resolved). Items carry record references only, never names or dates of birth.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from sync.core.duplicates import FlagKind
from sync.ledger import schema
from sync.ledger.codec import CipherCodec, field_key
from sync.ledger.flag_states import STATE_OPEN, STATE_RESOLVED, flag_state, latest_acts
from sync.ledger.moments import as_utc
from sync.ledger.override_moves import records_of_overrides, subject_records
from sync.ledger.store import KEYS_PER_QUERY
from sync.ledger.tables_manual import KIND_LINK_REVIEW, LAPSED, review_items, review_row_key
from sync.reconcile.acts import require_subject
from sync.reports.models import area_or_none

KIND_DUPLICATE_PERSON = "duplicate-person-record"
KIND_FLAG = "flag"
KIND_GENDER = "gender-conflict"
KIND_DOB = "dob-conflict"
KIND_STRANDED_OVERRIDE = "override-without-subject"
ITEM_KINDS = (
    KIND_LINK_REVIEW,
    KIND_DUPLICATE_PERSON,
    KIND_FLAG,
    KIND_GENDER,
    KIND_DOB,
    KIND_STRANDED_OVERRIDE,
)
STRANDED_DETAIL = (
    "applies to nobody: none of the records it was made on is current; "
    "revoke it, or it applies again when one comes back"
)
STATE_LAPSED = LAPSED  # a review item arms-sync closed itself: no person decided it
_FLAG_ITEM_KIND = {
    "duplicate_person_record": KIND_DUPLICATE_PERSON,
    "gender_conflict": KIND_GENDER,
    "dob_conflict": KIND_DOB,
}
# The kinds of flag listed as `flag` items: `--kind` takes each of them too, to list those
# flags alone (the assessments in progress by the agency that does not own ARMS, say).
FLAG_KINDS_LISTED_AS_FLAGS = tuple(kind.value for kind in FlagKind if kind not in _FLAG_ITEM_KIND)
LISTING_KINDS = (*ITEM_KINDS, *FLAG_KINDS_LISTED_AS_FLAGS)


@dataclass(frozen=True, slots=True)
class Item:
    """One item awaiting a person's decision."""

    kind: str
    key: str
    opened: datetime
    state: str
    subject_id: str | None
    detail: str
    refs: tuple[str, ...]
    # A flag's area (its own agency's record's); None for items of no one area.
    area: str | None = None

    def as_json(self) -> dict[str, object]:
        """The item as a JSON object."""
        return {
            "kind": self.kind,
            "key": self.key,
            "opened": self.opened.isoformat(),
            "state": self.state,
            "subject_id": self.subject_id,
            "detail": self.detail,
            "refs": list(self.refs),
            "area": self.area,
        }

    def names_a_record_of(self, agency: str) -> bool:
        """Whether any record the item is about is `agency`'s."""
        return any(ref.startswith(f"{agency}/") for ref in self.refs)


def item_kind_of_flag(flag_kind: str) -> str:
    """The list kind a stored flag kind belongs to."""
    return _FLAG_ITEM_KIND.get(flag_kind, KIND_FLAG)


def _flag_items(conn: Connection) -> Iterator[Item]:
    table = schema.flags
    rows = conn.execute(select(table).where(table.c.closed_at.is_(None))).all()
    acts = latest_acts(conn, [row.key for row in rows])
    members = _members_of(conn, {row.subject_id for row in rows if row.agency is None})
    for row in rows:
        mapping = row._mapping
        yield Item(
            kind=item_kind_of_flag(row.kind),
            key=row.key,
            opened=as_utc(row.first_seen),
            state=flag_state(mapping, acts.get(row.key)),
            subject_id=row.subject_id,
            detail=row.kind,
            refs=_flag_refs(row, members.get(row.subject_id, ())),
            area=area_or_none(row.area),
        )


def _flag_refs(row: Any, members: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The person records a flag is about, as `agency/id`, ready for `link` or `unlink`.

    An assessment's flag names the person records of its assessment (the
    assessment itself is in the flag's key). A conflict flag names its person
    ids without their agency (it spans both), so they are found among its
    subject's records.
    """
    person_ids = json.loads(row.person_ids)
    if row.agency:
        return tuple(f"{row.agency}/{pid}" for pid in person_ids)
    named = set(person_ids)
    return tuple(f"{agency}/{pid}" for agency, pid in sorted(members) if pid in named)


def _members_of(conn: Connection, subject_ids: set[str]) -> dict[str, list[tuple[str, str]]]:
    """The (agency, person id) records of each of `subject_ids`."""
    table = schema.subject_members
    found: dict[str, list[tuple[str, str]]] = {}
    wanted = sorted(subject_ids)
    for start in range(0, len(wanted), KEYS_PER_QUERY):
        chunk = wanted[start : start + KEYS_PER_QUERY]
        query = select(table.c.subject_id, table.c.agency, table.c.person_id).where(
            table.c.subject_id.in_(chunk)
        )
        for subject_id, agency, person_id in conn.execute(query):
            found.setdefault(subject_id, []).append((agency, person_id))
    return found


def _review_reason(codec: CipherCodec, row: Any) -> str | None:
    """A review item's reason, decrypted (it is bound to the item's pair of records)."""
    pair = review_row_key(row.a_agency, row.a_person_id, row.b_agency, row.b_person_id)
    return codec.decode_optional_text(field_key(review_items.name, pair, "reason"), row.reason)


def _review_items(conn: Connection, codec: CipherCodec) -> Iterator[Item]:
    table = review_items
    for row in conn.execute(select(table)):
        weight = "" if row.weight is None else f" weight {row.weight:.2f}"
        yield Item(
            kind=KIND_LINK_REVIEW,
            key=str(row.id),
            opened=as_utc(row.created_at),
            state=_review_state(row),
            subject_id=None,
            detail=f"{_review_reason(codec, row) or 'possible match'}{weight}",
            refs=(f"{row.a_agency}/{row.a_person_id}", f"{row.b_agency}/{row.b_person_id}"),
        )


def _stranded_override_items(conn: Connection) -> Iterator[Item]:
    """Active overrides on no current subject: each pass only logs them, so they are listed
    here for an operator to revoke (refs: the records they were made on)."""
    overrides, subjects = schema.overrides, schema.subjects
    current = select(subjects.c.subject_id).where(subjects.c.active.is_(True))
    rows = conn.execute(
        select(overrides.c.id, overrides.c.subject_id, overrides.c.created_at).where(
            overrides.c.revoked_at.is_(None), overrides.c.subject_id.not_in(current)
        )
    ).all()
    made_on = records_of_overrides(conn) if rows else {}
    for override_id, subject_id, created_at in rows:
        yield Item(
            kind=KIND_STRANDED_OVERRIDE,
            key=override_id,
            opened=as_utc(created_at),
            state=STATE_OPEN,
            subject_id=subject_id,
            detail=STRANDED_DETAIL,
            refs=tuple(f"{ref.agency}/{ref.person_id}" for ref in made_on.get(override_id, ())),
        )


def _review_state(row: Any) -> str:
    """Open, resolved by an operator, or lapsed (closed by arms-sync as no longer uncertain)."""
    if row.resolved_at is None:
        return STATE_OPEN
    return STATE_LAPSED if row.resolution == LAPSED else STATE_RESOLVED


def list_items(
    conn: Connection, codec: CipherCodec, kind: str | None = None, *, resolved: bool = False
) -> list[Item]:
    """Items of one kind (default all), oldest first; resolved and lapsed ones only when asked."""
    items = [*_flag_items(conn), *_review_items(conn, codec), *_stranded_override_items(conn)]
    wanted = [
        item
        for item in items
        if (kind is None or _is_of_kind(item, kind)) and (resolved or item.state == STATE_OPEN)
    ]
    return sorted(wanted, key=listing_order)


def _is_of_kind(item: Item, kind: str) -> bool:
    """Whether the item is of a listing kind: an item kind, or a flag item's own flag kind."""
    return item.kind == kind or (item.kind == KIND_FLAG and item.detail == kind)


def about_subject(conn: Connection, items: Iterable[Item], subject_id: str) -> list[Item]:
    """The items about a current subject: its own, and those naming one of its records (a
    link review spans two subjects); a subject the ledger does not hold is refused."""
    require_subject(conn, subject_id)
    records = {f"{ref.agency}/{ref.person_id}" for ref in subject_records(conn, subject_id)}
    return [
        item
        for item in items
        if item.subject_id == subject_id or (item.subject_id is None and records & set(item.refs))
    ]


def in_area(items: Iterable[Item], area: str) -> tuple[list[Item], int]:
    """The items filed under `area` (compared as the reports compare areas), and how many
    items have no area at all (link reviews, overrides, flags stored without one)."""
    wanted = area_or_none(area)
    listed = list(items)
    return [item for item in listed if item.area == wanted], sum(
        item.area is None for item in listed
    )


def listing_order(item: Item) -> tuple[datetime, str, int, str]:
    """Oldest first; then by kind, and by key (numbered keys by number: 7 before 10)."""
    number = int(item.key) if item.key.isdecimal() else -1
    return (item.opened, item.kind, number, item.key)
