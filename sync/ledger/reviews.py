"""Link-review items: the matcher's uncertain pairs, kept in step with each decision pass.

A pass finds every uncertain pair afresh, so the open items follow it: a pair
new to review is opened; an open item whose pair the pass no longer finds
uncertain (its records now linked by an identifier, one of them deleted or
merged away, their details changed) lapses, closed by arms-sync rather than
erased; a lapsed item whose pair is uncertain again opens again; an open item
whose weight moved gets the pass's weight and reason. Items an operator
resolved are never touched again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from sync.core.decide import Review
from sync.ledger.codec import CipherCodec, field_key
from sync.ledger.tables_manual import KIND_LINK_REVIEW, LAPSED, review_items, review_row_key

LAPSED_BY = "arms-sync"
REASON_MAX_LENGTH = 500

Pair = tuple[str, str, str, str]
PairKey = tuple[tuple[str, str], tuple[str, str]]


def store_reviews(
    conn: Connection, codec: CipherCodec, reviews: Iterable[Review], now: datetime
) -> None:
    """Bring the link-review items in line with the pass's uncertain pairs (see module doc)."""
    table = review_items
    found = {_key(_pair(review)): review for review in reviews}
    rows = conn.execute(
        select(
            table.c.id,
            table.c.a_agency,
            table.c.a_person_id,
            table.c.b_agency,
            table.c.b_person_id,
            table.c.weight,
            table.c.resolved_at,
            table.c.resolution,
        )
    ).all()  # read whole before any item is updated
    stored: set[PairKey] = set()
    for row in rows:
        pair = _row_pair(row)
        key = _key(pair)
        stored.add(key)
        _follow(conn, codec, row, pair, found.get(key), now)
    new = [
        _new_row(codec, _pair(review), review, now)
        for key, review in found.items()
        if key not in stored
    ]
    if new:
        conn.execute(table.insert(), new)


def _follow(
    conn: Connection, codec: CipherCodec, row: Any, pair: Pair, review: Review | None, now: datetime
) -> None:
    """Lapse, refresh or reopen one stored item as the pass's `review` of its pair says."""
    if review is None:
        if row.resolved_at is None:
            _lapse(conn, row.id, now)
    elif row.resolved_at is None and row.weight != review.weight:
        _refresh(conn, codec, row.id, pair, review)
    elif row.resolution == LAPSED:
        _refresh(conn, codec, row.id, pair, review, reopen=True)


def _pair(review: Review) -> Pair:
    return (str(review.a.agency), review.a.person_id, str(review.b.agency), review.b.person_id)


def _key(pair: Pair) -> PairKey:
    """The pair's two records in a fixed order: one item per pair, whichever comes first."""
    first, second = (pair[0], pair[1]), (pair[2], pair[3])
    return (first, second) if first <= second else (second, first)


def _row_pair(row: Any) -> Pair:
    return (row.a_agency, row.a_person_id, row.b_agency, row.b_person_id)


def _encrypted_reason(codec: CipherCodec, pair: Pair, review: Review) -> str:
    """The matcher's reason, encrypted like an operator's and bound to the pair."""
    key = field_key(review_items.name, review_row_key(*pair), "reason")
    return codec.encode_text(key, review.reason[:REASON_MAX_LENGTH])


def _new_row(codec: CipherCodec, pair: Pair, review: Review, now: datetime) -> dict[str, Any]:
    return {
        "kind": KIND_LINK_REVIEW,
        "a_agency": pair[0],
        "a_person_id": pair[1],
        "b_agency": pair[2],
        "b_person_id": pair[3],
        "weight": review.weight,
        "reason": _encrypted_reason(codec, pair, review),
        "created_at": now,
    }


def _lapse(conn: Connection, item_id: int, now: datetime) -> None:
    conn.execute(
        update(review_items)
        .where(review_items.c.id == item_id)
        .values(resolved_at=now, resolved_by=LAPSED_BY, resolution=LAPSED)
    )


def _refresh(
    conn: Connection,
    codec: CipherCodec,
    item_id: int,
    pair: Pair,
    review: Review,
    *,
    reopen: bool = False,
) -> None:
    values: dict[str, Any] = {
        "weight": review.weight,
        "reason": _encrypted_reason(codec, pair, review),
    }
    if reopen:
        values |= {"resolved_at": None, "resolved_by": None, "resolution": None}
    conn.execute(update(review_items).where(review_items.c.id == item_id).values(**values))
