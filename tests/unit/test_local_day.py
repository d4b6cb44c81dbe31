"""The day in England and Wales: British Summer Time puts it an hour ahead of UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sync.local_day import day_in_england


def test_half_past_midnight_in_summer_is_already_the_next_day() -> None:
    assert day_in_england(datetime(2027, 6, 1, 23, 30, tzinfo=UTC)) == date(2027, 6, 2)


def test_in_winter_england_keeps_the_utc_day() -> None:
    assert day_in_england(datetime(2027, 1, 1, 23, 30, tzinfo=UTC)) == date(2027, 1, 1)


def test_a_time_without_a_zone_is_taken_as_utc() -> None:
    assert day_in_england(datetime(2027, 6, 1, 23, 30)) == date(2027, 6, 2)


def test_the_clocks_change_at_one_in_the_morning_utc() -> None:
    """BST runs from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
    Sunday of October (2027: 28 March and 31 October)."""
    spring_eve, autumn_eve = datetime(2027, 3, 27, 23, 30), datetime(2027, 10, 30, 23, 30)
    after_spring, after_autumn = datetime(2027, 3, 28, 23, 30), datetime(2027, 10, 31, 23, 30)
    assert day_in_england(spring_eve.replace(tzinfo=UTC)) == date(2027, 3, 27)
    assert day_in_england(after_spring.replace(tzinfo=UTC)) == date(2027, 3, 29)
    assert day_in_england(autumn_eve.replace(tzinfo=UTC)) == date(2027, 10, 31)
    assert day_in_england(after_autumn.replace(tzinfo=UTC)) == date(2027, 10, 31)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)))
def test_the_day_in_england_is_the_utc_day_or_the_next(moment: datetime) -> None:
    utc_moment = moment.replace(tzinfo=UTC)
    day = day_in_england(utc_moment)
    assert day in (utc_moment.date(), utc_moment.date() + timedelta(days=1))
    if utc_moment.hour < 23:
        assert day == utc_moment.date()
