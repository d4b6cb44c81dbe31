"""The counted nouns every summary, table footer and error prints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.wording import counted, noun


@pytest.mark.parametrize(
    ("number", "thing", "said"),
    [
        (1, "batch", "1 batch"),
        (2, "batch", "2 batches"),
        (0, "notice", "0 notices"),
        (1, "rejected record", "1 rejected record"),
        (3, "rejected record", "3 rejected records"),
        (1, "attempt", "1 attempt"),
        (5, "attempt", "5 attempts"),
        (0, "item", "0 items"),
        (2, "address", "2 addresses"),
        (2, "crash", "2 crashes"),
        (2, "box", "2 boxes"),
    ],
)
def test_counted_says_the_number_and_its_noun(number: int, thing: str, said: str) -> None:
    assert counted(number, thing) == said


def test_noun_without_its_number() -> None:
    assert noun(1, "gateway") == "gateway"
    assert noun(2, "gateway") == "gateways"


@given(st.integers(min_value=-5, max_value=10_000).filter(lambda n: n != 1))
def test_only_one_is_singular(number: int) -> None:
    assert counted(number, "record") == f"{number} records"


def test_a_name_spelt_much_like_a_known_one_is_suggested_with_its_prefix() -> None:
    """Both the unknown variables and the settings file's keys are answered this way."""
    from sync.wording import did_you_mean

    assert did_you_mean("windw_days", {"window_days", "keys_dir"}) == (
        " (did you mean window_days?)"
    )
    assert did_you_mean("ARMS_SYNC_KEYS_DRI", {"KEYS_DIR"}, "ARMS_SYNC_") == (
        " (did you mean ARMS_SYNC_KEYS_DIR?)"
    )
    assert did_you_mean("broker_url", {"window_days", "keys_dir"}) == ""
