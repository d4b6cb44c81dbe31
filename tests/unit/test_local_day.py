"""The day in England and Wales: British Summer Time puts it an hour ahead of UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

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


def _last_sunday_at_one_utc(year: int, month: int) -> datetime:
    """01:00 UTC on the last Sunday of `month`, when British clocks change."""
    last = datetime(year, month + 1, 1, 1, tzinfo=UTC) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)))
def test_the_day_in_england_follows_british_summer_time(moment: datetime) -> None:
    """An hour ahead of UTC from 01:00 UTC on the last Sunday of March until 01:00 UTC
    on the last Sunday of October, the UTC day otherwise."""
    utc_moment = moment.replace(tzinfo=UTC)
    year = utc_moment.year
    summer = _last_sunday_at_one_utc(year, 3) <= utc_moment < _last_sunday_at_one_utc(year, 10)
    expected = (utc_moment + timedelta(hours=1 if summer else 0)).date()
    assert day_in_england(utc_moment) == expected


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_a_moment_given_in_another_zone_falls_on_the_same_day(
    moment: datetime, minutes: int
) -> None:
    """A time read back with a zone other than UTC (as PostgreSQL may give it) is the
    same instant, so the same day in England."""
    utc_moment = moment.replace(tzinfo=UTC)
    elsewhere = utc_moment.astimezone(timezone(timedelta(minutes=minutes)))
    assert day_in_england(elsewhere) == day_in_england(utc_moment)
