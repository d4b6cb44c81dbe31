"""Notice ids: random UUID4s, drawn from the OS many at a time."""

from __future__ import annotations

import uuid

import pytest

from sync.ledger.outbox import random_ids


@pytest.mark.parametrize("count", [0, 1, 3, 1_000])
def test_random_ids_are_as_many_distinct_uuid4s_as_asked(count: int) -> None:
    ids = random_ids(count)
    assert len(set(ids)) == len(ids) == count
    for notice_id in ids:
        parsed = uuid.UUID(hex=notice_id)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert parsed.hex == notice_id


def test_two_draws_share_no_id() -> None:
    assert not set(random_ids(500)) & set(random_ids(500))
