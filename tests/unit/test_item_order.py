"""`reconcile list`'s order: oldest first, then kind, then key (numbered keys by number)."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.reconcile.items import Item, listing_order

EARLIER = datetime(2026, 11, 1, tzinfo=UTC)
LATER = datetime(2026, 11, 2, tzinfo=UTC)


def item(kind: str, key: str, opened: datetime = EARLIER) -> Item:
    return Item(kind, key, opened, "open", None, "", ())


def test_link_reviews_opened_together_are_listed_by_their_number() -> None:
    items = [item("link-review", key) for key in ("10", "7", "12", "9", "11", "8")]
    listed = sorted(items, key=listing_order)
    assert [i.key for i in listed] == ["7", "8", "9", "10", "11", "12"]


def test_the_oldest_comes_first_whatever_its_kind_or_key() -> None:
    newer, older = item("flag", "a|S1", LATER), item("link-review", "99")
    items = [newer, item("flag", "b|S2"), older]
    listed = sorted(items, key=listing_order)
    assert listed == [items[1], older, newer]
