"""The consumer rules of `feed-v1.md` over files read one after another, in any batch size.

"For a given (agency, type, id) the record with the later `updated_at` wins;
on a tie the one later in the stream wins. Re-reading a feed changes
nothing." Files read one after the other are one longer stream. Whatever
the lines, and however a file's lines fall into ingest batches, the ledger
must end as that rule read directly says, and reading the last file again
must change no record.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import sync.ingest
from sync.app import App
from sync.feeds.files import PlainFileSource
from sync.ingest import ingest
from sync.ledger import schema
from sync.ledger.store import record_key
from sync.settings import load_settings

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
STAMPS = ("2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z")
DELETED = "(deleted)"

# A line: (which record, which stamp, what it says), the surname or DELETED.
LINES = st.tuples(
    st.sampled_from("12"), st.sampled_from(STAMPS), st.sampled_from("AB") | st.just(DELETED)
)
FILES = st.lists(st.lists(LINES, max_size=6), min_size=1, max_size=3)


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(load_settings(database_url=ledger_url), clock=lambda: NOW)
    yield application
    application.close()


def _line(prefix: str, line: tuple[str, str, str]) -> dict[str, object]:
    which, stamp, says = line
    rid = f"{prefix}{which}"
    if says == DELETED:
        return {
            "type": "person",
            "agency": "police",
            "id": rid,
            "deleted": True,
            "updated_at": stamp,
        }
    return {
        "type": "person",
        "agency": "police",
        "id": rid,
        "surname": says,
        "forenames": "A",
        "gender": "M",
        "area": "LANC",
        "updated_at": stamp,
    }


def _expected(prefix: str, files: list[list[tuple[str, str, str]]]) -> dict[str, str]:
    """Each record as `feed-v1.md` reads the files as one stream: latest stamp, then last line."""
    stream = [line for lines in files for line in lines]
    result = {}
    for which in {line[0] for line in stream}:
        mine = [line for line in stream if line[0] == which]
        latest = max(stamp for _, stamp, _ in mine)
        result[f"{prefix}{which}"] = [says for _, stamp, says in mine if stamp == latest][-1]
    return result


def _stored(app: App, prefix: str) -> dict[str, tuple[str, int]]:
    """Each stored record of this example: what it says and the run that last changed it."""
    table = schema.records
    query = select(table).where(table.c.rid.like(f"{prefix}%"))
    with app.ledger.engine.connect() as conn:
        rows = list(conn.execute(query).mappings())
    result = {}
    for row in rows:
        says = DELETED
        if not row["deleted"]:
            key = record_key(row["agency"], row["rtype"], row["rid"])
            says = json.loads(app.ledger.codec.decode(key, bytes(row["payload"])))["surname"]
        result[row["rid"]] = (says, row["applied_run"])
    return result


_EXAMPLES = itertools.count(1)


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgresql"], indirect=True)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(files=FILES, batch=st.integers(1, 4))
def test_files_read_in_turn_end_as_the_rule_says_and_a_reread_changes_nothing(
    app: App, tmp_path: Path, files: list[list[tuple[str, str, str]]], batch: int
) -> None:
    prefix = f"E{next(_EXAMPLES)}-"  # each example's records apart in the one ledger
    paths = []
    for number, lines in enumerate(files):
        path = tmp_path / f"{prefix}{number}.jsonl"
        path.write_text("".join(json.dumps(_line(prefix, line)) + "\n" for line in lines))
        paths.append(path)
    saved, sync.ingest.INGEST_BATCH = sync.ingest.INGEST_BATCH, batch
    try:
        for run_id, path in enumerate(paths, start=1):
            ingest(app.ledger, PlainFileSource(path), "police", run_id, TODAY, NOW)
        stored = _stored(app, prefix)
        assert {rid: says for rid, (says, _) in stored.items()} == _expected(prefix, files)

        ingest(app.ledger, PlainFileSource(paths[-1]), "police", len(paths) + 1, TODAY, NOW)
        assert _stored(app, prefix) == stored
    finally:
        sync.ingest.INGEST_BATCH = saved
