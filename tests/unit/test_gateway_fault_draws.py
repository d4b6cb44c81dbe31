"""The reference gateway's fault injector: settings are checked, a seed replays its faults."""

from __future__ import annotations

import pytest

from sync.gateway.faults import Fault, FaultInjector

DRAWS = 200


def _draws(injector: FaultInjector) -> list[Fault | None]:
    return [injector.draw() for _ in range(DRAWS)]


@pytest.mark.parametrize("rate", [-0.01, 1.01, 2.0])
def test_a_fail_rate_outside_zero_to_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultInjector(rate)


def test_a_negative_retry_after_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        FaultInjector(0.5, retry_after_seconds=-1)


def test_the_same_seed_fails_the_same_calls_the_same_way() -> None:
    first = _draws(FaultInjector(0.3, seed=20261128))
    assert _draws(FaultInjector(0.3, seed=20261128)) == first
    assert _draws(FaultInjector(0.3, seed=20261129)) != first


def test_a_rate_of_zero_never_fails_and_a_rate_of_one_always_does() -> None:
    assert set(_draws(FaultInjector(0.0, seed=1))) == {None}
    always = FaultInjector(1.0, seed=1)
    drawn = _draws(always)
    assert None not in drawn
    assert set(drawn) == set(Fault)
    assert sum(always.counts.values()) == DRAWS
    assert all(always.counts[fault] == drawn.count(fault) for fault in Fault)
