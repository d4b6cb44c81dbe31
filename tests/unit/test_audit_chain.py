"""The audit chain in isolation: sealing, verification, and every kind of tampering."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.audit.chain import (
    GENESIS_HASH,
    AuditKind,
    Draft,
    Entry,
    Head,
    UnsafeEntry,
    canonical_refs,
    check_draft,
    format_timestamp,
    parse_anchor,
    recomputed_hash,
    seal_all,
    verify_chain,
)

AT = "2026-11-28T10:00:00.000000Z"
EDITABLE = ("at", "kind", "actor", "purpose", "recipient", "refs", "detail")

drafts = st.builds(
    Draft,
    kind=st.sampled_from(list(AuditKind)),
    actor=st.sampled_from(["service:ingest", "operator:jsmith", "cli:root"]),
    purpose=st.sampled_from(["feed applied", "manual override", "export ownership"]),
    recipient=st.sampled_from([None, "police", "probation"]),
    refs=st.lists(st.sampled_from(["run:1", "subject:S1", "person:police/P-1"]), max_size=3).map(
        tuple
    ),
    detail=st.sampled_from([None, "read 3, accepted 3"]),
)
chains = st.lists(drafts, min_size=1, max_size=12).map(
    lambda ds: seal_all(ds, Head(0, GENESIS_HASH), AT)
)


def _head(entries: list[Entry]) -> Head:
    return Head(entries[-1].seq, entries[-1].hash) if entries else Head(0, GENESIS_HASH)


@given(chains)
def test_a_sealed_chain_verifies(entries: list[Entry]) -> None:
    result = verify_chain(entries, _head(entries))
    assert result.ok
    assert result.count == len(entries)
    assert result.first_bad is None


@given(chains, st.data())
def test_editing_any_field_of_any_entry_is_detected_at_that_entry(
    entries: list[Entry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1))
    field = data.draw(st.sampled_from(EDITABLE))
    original = entries[index]
    value = "tampered" if field != "refs" else json.dumps(["subject:S999"])
    # The field is drawn at run time, so its type is only known then.
    changes: dict[str, Any] = {field: value}
    entries[index] = dataclasses.replace(original, **changes)
    result = verify_chain(entries, _head(entries))
    assert not result.ok
    assert result.first_bad == original.seq


@given(chains, st.data())
def test_deleting_any_entry_is_detected(entries: list[Entry], data: st.DataObject) -> None:
    head = _head(entries)
    index = data.draw(st.integers(0, len(entries) - 1))
    removed = entries.pop(index)
    result = verify_chain(entries, head)
    assert not result.ok
    assert result.first_bad == removed.seq


@given(st.lists(drafts, min_size=2, max_size=8), st.data())
def test_swapping_two_entries_is_detected(ds: list[Draft], data: st.DataObject) -> None:
    entries = seal_all(ds, Head(0, GENESIS_HASH), AT)
    i = data.draw(st.integers(0, len(entries) - 2))
    j = data.draw(st.integers(i + 1, len(entries) - 1))
    first, second = entries[i], entries[j]
    # Reordering keeps the sequence numbers in place but moves the content.
    entries[i] = dataclasses.replace(second, seq=first.seq)
    entries[j] = dataclasses.replace(first, seq=second.seq)
    result = verify_chain(entries, _head(entries))
    assert not result.ok
    assert result.first_bad == first.seq


def test_an_inserted_entry_with_a_valid_hash_is_detected_by_the_head() -> None:
    entries = seal_all(
        [Draft(AuditKind.COLLECTION, "service:ingest", "feed")] * 3, Head(0, GENESIS_HASH), AT
    )
    head = _head(entries)
    forged = seal_all([Draft(AuditKind.ERASURE, "operator:x", "forged")], head, AT)
    result = verify_chain([*entries, *forged], head)
    assert not result.ok
    assert result.first_bad == 4


def test_an_entry_inserted_in_the_middle_is_detected() -> None:
    entries = seal_all(
        [Draft(AuditKind.COLLECTION, "service:ingest", "feed")] * 3, Head(0, GENESIS_HASH), AT
    )
    inserted = seal_all(
        [Draft(AuditKind.ERASURE, "operator:x", "forged")], Head(1, entries[0].hash), AT
    )
    shifted = [dataclasses.replace(e, seq=e.seq + 1) for e in entries[1:]]
    result = verify_chain([entries[0], *inserted, *shifted], Head(4, shifted[-1].hash))
    assert not result.ok
    assert result.first_bad == 3


def test_an_empty_log_verifies_and_a_head_without_entries_does_not() -> None:
    assert verify_chain([], None).ok
    result = verify_chain([], Head(2, "f" * 64))
    assert not result.ok
    assert result.first_bad == 1


def test_the_hash_covers_the_previous_hash() -> None:
    (entry,) = seal_all(
        [Draft(AuditKind.ALTERATION, "operator:x", "override")], Head(0, GENESIS_HASH), AT
    )
    assert recomputed_hash(dataclasses.replace(entry, prev_hash="1" * 64)) != entry.hash


def test_refs_are_canonical_sorted_and_unique() -> None:
    assert canonical_refs(["subject:S2", "run:1", "subject:S2"]) == '["run:1","subject:S2"]'


def test_timestamps_are_fixed_width_utc() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-01-02T03:04:05.000000Z"


@pytest.mark.parametrize(
    "draft",
    [
        Draft(AuditKind.CONSULTATION, "", "show"),
        Draft(AuditKind.CONSULTATION, "operator:x", ""),
        Draft(AuditKind.CONSULTATION, "operator:x", "show", refs=("just text",)),
        Draft(AuditKind.CONSULTATION, "operator:x", "show", refs=("name:SMITH",)),
        Draft(AuditKind.CONSULTATION, "operator:x", "show", refs=("person:2001/0000123Z",)),
        Draft(AuditKind.CONSULTATION, "operator:x", "show", detail="pnc 01/123456A"),
        Draft(AuditKind.CONSULTATION, "operator:x", "show", detail="cro 012345/99Z"),
        Draft(AuditKind.CONSULTATION, "operator:x", "x" * 201),
        Draft(AuditKind.CONSULTATION, "operator:x", "line\nbreak"),
        Draft(AuditKind.CONSULTATION, "operator:x", "show", refs=("subject:S1\n",)),
    ],
)
def test_unsafe_drafts_are_refused(draft: Draft) -> None:
    with pytest.raises(UnsafeEntry):
        check_draft(draft)


def test_a_refusal_never_echoes_the_value() -> None:
    with pytest.raises(UnsafeEntry) as raised:
        check_draft(Draft(AuditKind.CONSULTATION, "operator:x", "show", detail="01/123456A"))
    assert "123456" not in str(raised.value)


def test_record_references_pass() -> None:
    check_draft(
        Draft(
            AuditKind.COMBINATION,
            "service:decide",
            "linked",
            refs=(
                "subject:S0123ABCD",
                "person:police/LAN-88123",
                "person:probation/X123456",
                "flag:duplicate|S1|police|PA-9",
                "run:12",
            ),
        )
    )


def _anchors(entries: list[Entry], seqs: set[int]) -> list[Head]:
    return [Head(entry.seq, entry.hash) for entry in entries if entry.seq in seqs]


@given(chains, st.data())
def test_anchors_taken_from_the_chain_verify(entries: list[Entry], data: st.DataObject) -> None:
    seqs = data.draw(st.sets(st.sampled_from([entry.seq for entry in entries])))
    assert verify_chain(entries, _head(entries), _anchors(entries, seqs)).ok


@given(chains, st.data())
def test_a_chain_cut_short_with_its_head_moved_back_fails_only_against_a_later_anchor(
    entries: list[Entry], data: st.DataObject
) -> None:
    kept = data.draw(st.integers(0, len(entries) - 1))
    anchored = data.draw(st.integers(kept + 1, len(entries)))
    anchors = _anchors(entries, {anchored})
    cut = entries[:kept]
    assert verify_chain(cut, _head(cut)).ok  # consistent without an anchor
    result = verify_chain(cut, _head(cut), anchors)
    assert not result.ok
    assert result.first_bad == kept + 1
    assert f"an anchor names entry {anchored}" in result.sentence()


@given(chains, st.data())
def test_a_chain_rewritten_from_any_entry_fails_at_the_first_anchor_it_reaches(
    entries: list[Entry], data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(entries) - 1))
    seqs = data.draw(st.sets(st.integers(start + 1, len(entries)), min_size=1))
    anchors = _anchors(entries, seqs)
    forged_drafts = [Draft(AuditKind.ERASURE, "operator:x", "forged")] * (len(entries) - start)
    forged = entries[:start] + seal_all(forged_drafts, _head(entries[:start]), AT)
    assert verify_chain(forged, _head(forged)).ok  # consistent without an anchor
    result = verify_chain(forged, _head(forged), anchors)
    assert not result.ok
    assert result.first_bad == min(seqs)


@given(chains)
def test_an_anchor_reads_back_as_printed(entries: list[Entry]) -> None:
    head = _head(entries)
    assert parse_anchor(f"  {head.anchor.upper()} ") == head


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12",
        "12:",
        ":" + "a" * 64,
        "0:" + "a" * 64,
        "-1:" + "a" * 64,
        "3:" + "a" * 63,
        "3:" + "g" * 64,
        "3:" + "a" * 65,
        "3 " + "a" * 64,
    ],
)
def test_a_malformed_anchor_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="SEQ:HASH"):
        parse_anchor(text)


@pytest.mark.parametrize("stored", ['["subject:S1"', '{"subject": "S1"}', "[1, 2]", ""])
def test_refs_altered_into_anything_but_a_list_of_strings_export_as_stored(stored: str) -> None:
    entry = seal_all([Draft(AuditKind.ALTERATION, "service:decide", "timelines")], _head([]), AT)[0]
    altered = dataclasses.replace(entry, refs=stored)
    assert altered.as_json()["refs"] == stored
    assert not verify_chain([altered], _head([entry])).ok


def test_refs_stored_as_a_list_export_as_that_list() -> None:
    draft = Draft(AuditKind.ALTERATION, "service:decide", "timelines", refs=("run:4",))
    entry = seal_all([draft], _head([]), AT)[0]
    assert entry.as_json()["refs"] == ["run:4"]
