"""A preview's two passes decided together equal two separate passes, for any act.

`decide_around_act` links the records once and, for an act that only moves
overrides, decides again only the subjects whose overrides changed. Whatever
the population and whatever the act (overrides assigned, revoked or moved,
records linked or kept apart), the pair it returns must be exactly what
`decide` gives for each input on its own. Populations come from the
synthetic generator, validated and converted as the ledger stores them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.core.consolidate import FeedState
from sync.core.decide import DecisionInputs, LinkAct, decide, decide_around_act
from sync.core.policy import PolicySettings
from sync.core.records import Override, Owner, RecordRef
from sync.feeds.convert import feed_state, to_version
from sync.feeds.jsonl import validate_record
from sync.feeds.models import FeedContext
from sync.ledger.store import StoredRecord
from sync.synth.options import SynthOptions
from sync.synth.stream import iter_feed_records

TODAY = date(2026, 11, 28)
OWNERS = list(Owner)


def mint(ref: RecordRef, attempt: int) -> str:
    return f"S-{ref.agency.value}-{ref.person_id}-{attempt}"


@cache
def population(seed: int) -> FeedState:
    """A small synthetic population, its latest live versions as the ledger reads them back."""
    latest: dict[tuple[str, str, str], StoredRecord | None] = {}
    for agency, record in iter_feed_records(SynthOptions(40, seed=seed, noise=1.0, today=TODAY)):
        context = FeedContext(agency.value, TODAY)
        version = to_version(validate_record(json.dumps(record).encode(), context))
        key = (version.agency, version.rtype, version.rid)
        latest[key] = (
            None
            if version.payload is None
            else StoredRecord(*key, payload=json.loads(version.payload))
        )
    return feed_state(stored for stored in latest.values() if stored is not None)


def base_inputs(state: FeedState) -> DecisionInputs:
    first = decide(state, DecisionInputs(TODAY, 180, PolicySettings()), mint)
    return DecisionInputs(
        as_of=TODAY,
        window_days=180,
        policy=PolicySettings(),
        previous_membership={ref: d.subject_id for d in first.subjects for ref in d.members},
        taken_subject_ids=frozenset(d.subject_id for d in first.subjects),
    )


@st.composite
def overrides(
    draw: st.DrawFn, subject_ids: list[str], refs: list[RecordRef]
) -> dict[str, list[Override]]:
    """A few overrides on some of the subjects, each made on some records (or none)."""
    chosen = draw(st.lists(st.sampled_from(subject_ids), max_size=4))
    result: dict[str, list[Override]] = {}
    for number, subject_id in enumerate(chosen):
        start = draw(st.dates(date(2015, 1, 1), date(2026, 11, 28)))
        end = draw(st.none() | st.dates(start, date(2030, 1, 1)))
        owner = draw(st.sampled_from(OWNERS))
        made_on = tuple(sorted(draw(st.lists(st.sampled_from(refs), max_size=3, unique=True))))
        override = Override(f"O{number}", owner, start, end, number, made_on)
        result.setdefault(subject_id, []).append(override)
    return result


def all_refs(state: FeedState, inputs: DecisionInputs) -> list[RecordRef]:
    """Every person record the pass links, in order."""
    return sorted({ref for d in decide(state, inputs, mint).subjects for ref in d.members})


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.data())
def test_an_override_act_gives_the_passes_two_decides_give(seed: int, data: st.DataObject) -> None:
    state = population(seed)
    inputs = base_inputs(state)
    subject_ids = sorted(inputs.taken_subject_ids)
    refs = all_refs(state, inputs)
    current = replace(inputs, overrides=data.draw(overrides(subject_ids, refs)))
    changed = replace(inputs, overrides=data.draw(overrides(subject_ids, refs)))

    paired = decide_around_act(state, current, changed, mint)

    assert paired == (decide(state, current, mint), decide(state, changed, mint))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.data())
def test_a_link_or_unlink_act_gives_the_passes_two_decides_give(
    seed: int, data: st.DataObject
) -> None:
    state = population(seed)
    base = base_inputs(state)
    refs = all_refs(state, base)
    made = data.draw(overrides(sorted(base.taken_subject_ids), refs))
    current = replace(base, overrides=made)
    a, b = data.draw(st.lists(st.sampled_from(refs), min_size=2, max_size=2, unique=True))
    pair = (a, b) if a <= b else (b, a)
    changed = data.draw(
        st.sampled_from(
            [
                replace(current, link_acts=(LinkAct(*pair, link=True),)),
                replace(current, link_acts=(LinkAct(*pair, link=False),)),
            ]
        )
    )

    paired = decide_around_act(state, current, changed, mint)

    assert paired == (decide(state, current, mint), decide(state, changed, mint))
