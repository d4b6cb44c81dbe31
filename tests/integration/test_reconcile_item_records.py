"""A conflict item names its subject's records however many subjects have one.

`reconcile list` looks up the records of the subjects with an open gender or
date-of-birth conflict in blocks of `KEYS_PER_QUERY` subjects; past the first
block, every item must still name both records, or the operator cannot tell
which records to link or unlink. Real ledgers, both databases; the rows are
written directly, as a national ledger would hold them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sync.app import App
from sync.ledger import schema
from sync.ledger.store import KEYS_PER_QUERY
from sync.reconcile.items import KIND_GENDER, list_items
from sync.settings import load_settings

pytestmark = pytest.mark.integration

SEEN = datetime(2026, 11, 28, 6, tzinfo=UTC)
SUBJECTS = 2 * KEYS_PER_QUERY + 1  # two full blocks and one subject over


def _subject(number: int) -> str:
    return f"S{number:05d}"


def _members(number: int) -> list[dict[str, str]]:
    return [
        {"agency": agency, "person_id": f"{prefix}{number:05d}", "subject_id": _subject(number)}
        | {"matched_by": "pnc"}
        for agency, prefix in (("police", "P"), ("probation", "X"))
    ]


def _gender_conflict(number: int) -> dict[str, object]:
    return {
        "key": f"gender_conflict:{_subject(number)}",
        "kind": "gender_conflict",
        "subject_id": _subject(number),
        "person_ids": json.dumps([f"P{number:05d}", f"X{number:05d}"]),
        "first_seen": SEEN,
        "last_seen": SEEN,
    }


def test_every_conflict_item_names_both_records_past_the_first_block_of_subjects(
    ledger_url: str,
) -> None:
    app = App(load_settings(database_url=ledger_url))
    try:
        app.ledger.ensure_schema()
        with app.ledger.engine.begin() as conn:
            conn.execute(
                schema.subject_members.insert(),
                [member for n in range(SUBJECTS) for member in _members(n)],
            )
            conn.execute(schema.flags.insert(), [_gender_conflict(n) for n in range(SUBJECTS)])
        with app.ledger.engine.connect() as conn:
            listed = list_items(conn, app.ledger.codec, KIND_GENDER)
    finally:
        app.close()

    named = {item.subject_id: item.refs for item in listed}
    assert len(named) == SUBJECTS
    unnamed = [subject for subject, refs in named.items() if len(refs) != 2]
    assert unnamed == []
    assert named[_subject(SUBJECTS - 1)] == (
        f"police/P{SUBJECTS - 1:05d}",
        f"probation/X{SUBJECTS - 1:05d}",
    )
