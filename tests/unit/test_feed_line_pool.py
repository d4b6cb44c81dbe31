"""A long feed handed to a line pool: the head read in-process, the rest by the pool, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest

from sync.feeds import jsonl
from sync.feeds.jsonl import (
    Accepted,
    FeedItem,
    PlacedLine,
    iter_lines,
    offer_pool,
    validate_placed,
    withdraw_pool,
)
from sync.feeds.models import FeedContext
from tests.feed_records import person

CONTEXT = FeedContext("probation", date(2026, 11, 28))
HEAD = 3


class RecordingPool:
    """Validates in-process what it is given, noting the positions it was handed."""

    def __init__(self) -> None:
        self.handed: list[str] = []

    def validate(self, lines: Iterator[PlacedLine], context: FeedContext) -> Iterator[FeedItem]:
        """The items of `lines`, in order."""
        placed = list(lines)
        self.handed.extend(position for position, _raw in placed)
        return iter(validate_placed(placed, context))


def _lines(count: int) -> list[bytes]:
    return [json.dumps(person("probation", f"X{n:06d}")).encode() for n in range(1, count + 1)]


def _read(count: int, pool: RecordingPool) -> list[str]:
    token = offer_pool(pool)
    try:
        items = list(iter_lines(_lines(count), CONTEXT))
    finally:
        withdraw_pool(token)
    assert all(isinstance(item, Accepted) for item in items)
    return [item.version.rid for item in items if isinstance(item, Accepted)]


@pytest.fixture(autouse=True)
def short_head(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool takes over after a few lines rather than thousands."""
    monkeypatch.setattr(jsonl, "POOL_AFTER_LINES", HEAD)


@pytest.mark.parametrize("count", [HEAD + 1, HEAD + 4])
def test_the_lines_after_the_head_go_to_the_pool_and_come_back_in_order(count: int) -> None:
    pool = RecordingPool()
    assert _read(count, pool) == [f"X{n:06d}" for n in range(1, count + 1)]
    assert pool.handed == [f"line {n}" for n in range(HEAD + 1, count + 1)]


@pytest.mark.parametrize("count", [0, 1, HEAD])
def test_a_feed_no_longer_than_the_head_is_read_in_process(count: int) -> None:
    pool = RecordingPool()
    assert _read(count, pool) == [f"X{n:06d}" for n in range(1, count + 1)]
    assert pool.handed == []


def test_without_a_pool_every_line_is_read_in_process() -> None:
    items = list(iter_lines(_lines(HEAD + 2), CONTEXT))
    assert [item.position for item in items] == [f"line {n}" for n in range(1, HEAD + 3)]
