"""`updated_at` keys: comparing two keys as strings compares the instants they were written for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.feeds.timestamps import RANGE_REASON, TIMESTAMP_REASON, TimestampError, utc_key

OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
SECONDS = st.datetimes(datetime(1900, 1, 2), datetime(2099, 12, 30), timezones=OFFSETS).map(
    lambda moment: moment.replace(microsecond=0)
)
FRACTIONS = st.text("0123456789", max_size=12)


def _written(moment: datetime, fraction: str) -> str:
    text = moment.isoformat(timespec="seconds")
    return text[:19] + (f".{fraction}" if fraction else "") + text[19:]


def _instant(moment: datetime, fraction: str) -> tuple[datetime, Fraction]:
    return moment.astimezone(UTC), Fraction(int(fraction or "0"), 10 ** len(fraction))


@given(SECONDS, FRACTIONS, SECONDS, FRACTIONS)
def test_keys_sort_as_the_instants_do_to_the_twelfth_fraction_digit(
    first: datetime, first_fraction: str, second: datetime, second_fraction: str
) -> None:
    first_key = utc_key(_written(first, first_fraction))
    second_key = utc_key(_written(second, second_fraction))
    first_instant = _instant(first, first_fraction)
    second_instant = _instant(second, second_fraction)
    assert (first_key < second_key) == (first_instant < second_instant)
    assert (first_key == second_key) == (first_instant == second_instant)


def test_versions_a_tenth_of_a_microsecond_apart_are_told_apart() -> None:
    earlier = utc_key("2026-11-01T09:00:00.0000001Z")
    later = utc_key("2026-11-01T10:00:00.0000002+01:00")
    assert earlier < later


def test_the_twelfth_fraction_digit_counts_and_the_thirteenth_is_dropped() -> None:
    whole = utc_key("2026-11-01T09:00:00Z")
    twelfth = utc_key("2026-11-01T09:00:00.000000000001Z")
    assert twelfth > whole
    assert twelfth.endswith(".000000000001")
    assert utc_key("2026-11-01T09:00:00.0000000000001Z") == whole


@pytest.mark.parametrize("offset", ["+05:60", "-00:60", "+24:00", "+99:00"])
def test_an_offset_beyond_23_hours_59_minutes_is_refused(offset: str) -> None:
    with pytest.raises(TimestampError):
        utc_key(f"2026-11-01T09:00:00{offset}")


@pytest.mark.parametrize(
    "written", ["2016-12-31T23:59:60Z", "2017-01-01T00:59:60+01:00", "2015-06-30T18:59:60-05:00"]
)
def test_a_leap_second_at_a_month_end_sorts_between_its_minute_and_the_next(written: str) -> None:
    key = utc_key(written)
    date_part = key[:10]
    assert utc_key(f"{date_part}T23:59:59.999999999999Z") < key
    assert key < utc_key(f"{date_part}T23:59:60.000001Z")
    next_day = (datetime.fromisoformat(date_part) + timedelta(days=1)).date().isoformat()
    assert key < utc_key(f"{next_day}T00:00:00Z")


@pytest.mark.parametrize(
    "written", ["2016-12-30T23:59:60Z", "2016-12-31T22:59:60Z", "2016-12-31T23:59:60+01:00"]
)
def test_a_leap_second_anywhere_but_a_utc_month_end_is_refused(written: str) -> None:
    with pytest.raises(TimestampError, match=TIMESTAMP_REASON):
        utc_key(written)


@pytest.mark.parametrize("written", ["0001-01-01T00:59:59+01:00", "9999-12-31T23:00:00-01:00"])
def test_an_instant_outside_years_0001_to_9999_in_utc_is_refused_with_its_own_reason(
    written: str,
) -> None:
    with pytest.raises(TimestampError) as refused:
        utc_key(written)
    assert str(refused.value) == RANGE_REASON


def test_the_ends_of_the_range_are_kept() -> None:
    assert utc_key("0001-01-01T01:00:00+01:00") == "0001-01-01T00:00:00"
    assert utc_key("9999-12-31T22:59:59.5-01:00") == "9999-12-31T23:59:59.500000"
