"""Tables of the acts people make: manual links and unlinks, flag resolutions, review items.

Nothing here is ever deleted. A manual link or unlink of a pair of person
records is an input to every later decision pass (the latest act on a pair
wins); a flag resolution holds while the flag's content stays as it was when
resolved; review items are the matcher's uncertain pairs awaiting a person.
Every `reason` (and `overrides.revoke_reason`) is stored encrypted
(`sync/ledger/codec.py`), bound to its table, its row's key and its column.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, String, Table, Text

from sync.ledger.schema import AGENCY, DIGEST, REF, metadata

KIND_LINK_REVIEW = "link-review"  # the review item a linker's uncertain pair opens

ACT_ID = 40
OPERATOR = 100
ACTION = 16
FLAG_KEY = 400
REVIEW_KIND = 32

manual_links = Table(
    "manual_links",
    metadata,
    Column("id", String(ACT_ID), primary_key=True),
    Column("action", String(ACTION), nullable=False),
    Column("a_agency", String(AGENCY), nullable=False),
    Column("a_person_id", String(REF), nullable=False),
    Column("b_agency", String(AGENCY), nullable=False),
    Column("b_person_id", String(REF), nullable=False),
    Column("operator", String(OPERATOR), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

flag_acts = Table(
    "flag_acts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flag_key", String(FLAG_KEY), nullable=False, index=True),
    Column("action", String(ACTION), nullable=False),
    Column("content_digest", String(DIGEST), nullable=False),
    Column("operator", String(OPERATOR), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

LAPSED = "lapsed"  # the resolution of a review item arms-sync closed itself

review_items = Table(
    "review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(REVIEW_KIND), nullable=False),
    Column("a_agency", String(AGENCY), nullable=False),
    Column("a_person_id", String(REF), nullable=False),
    Column("b_agency", String(AGENCY), nullable=False),
    Column("b_person_id", String(REF), nullable=False),
    Column("weight", Float),
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(OPERATOR)),
    Column("resolution", String(ACTION)),
)


def review_row_key(a_agency: str, a_person_id: str, b_agency: str, b_person_id: str) -> str:
    """The key a review item's reason is bound to: its pair of records (one item per pair)."""
    return f"{a_agency}:{a_person_id},{b_agency}:{b_person_id}"
