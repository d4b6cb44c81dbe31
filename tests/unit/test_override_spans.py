"""Where overlapping overrides are each in force (`override_spans`, pure core): the spans
agree day by day with the timeline's choice, and are maximal."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from sync.core.policy import PolicySettings, build_timeline, override_spans
from sync.core.records import Agency, Gender, Override, Owner, Person, SubjectFacts

BASE = date(2026, 6, 1)
PERSON = Person(Agency.POLICE, "P1", "SMITH", "JOHN", Gender.MALE, "GMP", date(1970, 1, 1))


def day(n: int) -> date:
    return BASE + timedelta(days=n)


def test_a_later_start_holds_its_days_inside_an_earlier_override() -> None:
    wide = Override("OVR-A", Owner.POLICE, day(0), day(29), made=0)
    narrow = Override("OVR-B", Owner.PROBATION, day(9), day(19), made=1)
    spans = override_spans([narrow, wide])
    assert spans == (
        (wide, (day(0), day(8))),
        (narrow, (day(9), day(19))),
        (wide, (day(20), day(29))),
    )


def test_an_open_override_holds_to_the_end_and_a_gap_holds_none() -> None:
    first = Override("OVR-A", Owner.POLICE, day(0), day(4), made=0)
    open_ended = Override("OVR-B", Owner.NONE, day(10), None, made=1)
    assert override_spans([first, open_ended]) == (
        (first, (day(0), day(4))),
        (open_ended, (day(10), None)),
    )


def test_of_two_starting_the_same_day_the_one_made_later_holds() -> None:
    earlier = Override("OVR-Z", Owner.POLICE, day(0), day(29), made=0)
    later = Override("OVR-A", Owner.NONE, day(0), day(9), made=1)
    assert override_spans([earlier, later]) == (
        (later, (day(0), day(9))),
        (earlier, (day(10), day(29))),
    )


_OVERRIDES = st.lists(
    st.builds(
        lambda n, owner, start, length: Override(
            f"OVR-{n}", owner, day(start), None if length is None else day(start + length), n
        ),
        st.integers(0, 99),
        st.sampled_from(list(Owner)),
        st.integers(0, 30),
        st.none() | st.integers(-1, 30),
    ),
    max_size=5,
    unique_by=lambda o: o.id,
)


@given(_OVERRIDES)
def test_spans_say_day_by_day_which_override_the_timeline_applies(
    overrides: list[Override],
) -> None:
    spans = override_spans(overrides)
    facts = SubjectFacts("S1", (PERSON,), overrides=tuple(overrides))
    timeline = build_timeline(facts, PolicySettings())
    for n in range(-1, 65):
        holding = [
            o for o, (start, end) in spans if start <= day(n) and (end is None or day(n) <= end)
        ]
        assert len(holding) <= 1
        segment = next(s for s in timeline if s.covers(day(n)))
        if holding:
            assert (segment.rule, segment.owner) == ("MANUAL", holding[0].owner)
        else:
            assert segment.rule != "MANUAL"
    for (before, (_, end)), (after, (start, _)) in pairwise(spans):
        assert end is not None
        assert end < start
        assert before != after or end + timedelta(days=1) < start  # maximal
