"""The synthetic generator's seeded random source: each documented value reachable, none other."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sync.synth.randomness import SynthRandom

DRAWS = 4_000


def _drawn(draw: Callable[[SynthRandom], object], seed: int = 3) -> set[object]:
    rng = SynthRandom(seed)
    return {draw(rng) for _ in range(DRAWS)}


@pytest.mark.parametrize(("low", "high"), [(0, 1), (1, 3), (-2, 2), (7, 7), (14, 20)])
def test_randint_gives_every_whole_number_between_both_ends(low: int, high: int) -> None:
    """`randint(a, b)` covers `[a, b]` inclusive at both ends, and nothing outside it."""
    assert _drawn(lambda rng: rng.randint(low, high)) == set(range(low, high + 1))


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [((5,), range(5)), ((2, 6), range(2, 6)), ((2, 11, 3), range(2, 11, 3)), ((1,), range(1))],
)
def test_randrange_gives_every_member_of_the_range(
    arguments: tuple[int, ...], expected: range
) -> None:
    """`randrange` covers `range(start, stop, step)` exactly, its last member included."""
    assert _drawn(lambda rng: rng.randrange(*arguments)) == set(expected)


@pytest.mark.parametrize("items", [("only",), ("a", "b"), ("a", "b", "c", "d", "e")])
def test_choice_can_pick_every_element(items: tuple[str, ...]) -> None:
    """`choice` reaches every element of the sequence, the last one included."""
    assert _drawn(lambda rng: rng.choice(items)) == set(items)


def test_weighted_follows_the_cumulative_weights() -> None:
    """Every element with a weight is drawn, one with none never is, in proportion."""
    items = ("first", "never", "middle", "last")
    cumulative = (10, 10, 40, 100)
    rng = SynthRandom(5)
    counts = dict.fromkeys(items, 0)
    for _ in range(DRAWS):
        counts[rng.weighted(items, cumulative)] += 1
    assert counts["never"] == 0
    assert 0.05 < counts["first"] / DRAWS < 0.15
    assert 0.25 < counts["middle"] / DRAWS < 0.35
    assert 0.55 < counts["last"] / DRAWS < 0.65


def test_a_seed_always_gives_the_same_draws() -> None:
    """Two generators from one seed draw the same; another seed draws differently."""

    def draws(seed: str) -> list[object]:
        rng = SynthRandom(seed)
        return [
            (rng.randint(0, 99), rng.randrange(50), rng.choice("abcdef"), rng.random())
            for _ in range(50)
        ]

    assert draws("feed-order:1") == draws("feed-order:1")
    assert draws("feed-order:1") != draws("feed-order:2")
