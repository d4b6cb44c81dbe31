"""A notice batch's JSON: built from each notice's canonical body bytes, as one object would be."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import to_json

from sync.ledger.outbox import OutgoingNotice, batch_plaintext, canonical_body

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
BODIES = st.fixed_dictionaries(
    {"kind": st.sampled_from(["ownership", "handover", "flag", "withdrawn"])},
    optional={"subject_id": st.text(), "segments": JSON_VALUES, "note": st.text()},
)


def outgoing(notice_id: str, replaces: str | None, body: dict[str, Any]) -> OutgoingNotice:
    body_json = canonical_body(body)
    return OutgoingNotice(notice_id, "police", "k", body["kind"], "S-1", replaces, body_json, "")


@given(
    st.text(),
    st.lists(st.tuples(st.text(), st.none() | st.text(), BODIES), max_size=4),
)
def test_a_batch_is_the_json_of_its_id_and_notices_each_id_replaces_then_body(
    batch_id: str, notices: list[tuple[str, str | None, dict[str, Any]]]
) -> None:
    chunk = [outgoing(*notice) for notice in notices]
    expected = {
        "batch_id": batch_id,
        "notices": [
            {"notice_id": notice_id, "replaces": replaces, **body}
            for notice_id, replaces, body in notices
        ],
    }

    plaintext = batch_plaintext(batch_id, chunk)

    assert plaintext == to_json(expected)
    assert json.loads(plaintext) == expected
