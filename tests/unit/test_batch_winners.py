"""Within one ingest batch only the winning version of each record meets the ledger."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync.ingest import batch_winners
from sync.ledger.store import RecordVersion


def _version(rid: str, stamp: str, content: str) -> RecordVersion:
    return RecordVersion(
        agency="probation",
        rtype="person",
        rid=rid,
        updated_at=stamp,
        deleted=False,
        person_id=rid,
        payload=content.encode(),
        digest=content,
    )


VERSIONS = st.lists(
    st.builds(
        _version,
        rid=st.sampled_from(["X000001", "X000002", "X000003"]),
        stamp=st.sampled_from(["2026-01-01T00:00:00", "2026-01-02T00:00:00"]),
        content=st.sampled_from(["a", "b", "c"]),
    ),
    max_size=12,
)


def _last_of_the_latest(versions: list[RecordVersion], rid: str) -> RecordVersion:
    """`feed-v1.md` read directly: the latest `updated_at`, and of those the last line."""
    mine = [version for version in versions if version.rid == rid]
    latest = max(version.updated_at for version in mine)
    return [version for version in mine if version.updated_at == latest][-1]


@given(VERSIONS)
def test_each_record_keeps_the_last_of_its_latest_versions(
    versions: list[RecordVersion],
) -> None:
    winners = batch_winners(versions)
    assert len(winners) == len({version.rid for version in versions})
    for winner in winners:
        assert winner == _last_of_the_latest(versions, winner.rid)


def test_a_tie_goes_to_the_later_line() -> None:
    first = _version("X000001", "2026-01-01T00:00:00", "a")
    second = _version("X000001", "2026-01-01T00:00:00", "b")
    older = _version("X000001", "2025-12-31T00:00:00", "c")
    assert batch_winners([first, second, older]) == [second]
