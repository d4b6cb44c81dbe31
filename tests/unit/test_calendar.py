"""Unit tests of the calendar helpers: month arithmetic, birthdays, day steps."""

from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.core.calendar import (
    add_months,
    anniversary,
    days_apart,
    eighteenth_birthday,
    next_day,
    previous_day,
)

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
MONTH_STEPS = st.integers(min_value=-240, max_value=240)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2016, 2, 29), -6, date(2015, 8, 29)),
        (date(2015, 8, 31), -6, date(2015, 2, 28)),
        (date(2016, 8, 31), -6, date(2016, 2, 29)),
        (date(2016, 2, 29), 12, date(2017, 2, 28)),
        (date(2015, 10, 1), 12, date(2016, 10, 1)),
        (date(2025, 1, 15), -1, date(2024, 12, 15)),
        (date(2024, 12, 31), 2, date(2025, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 5, 17), 0, date(2024, 5, 17)),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_month_end(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


def test_add_months_outside_the_calendar_overflows() -> None:
    with pytest.raises(OverflowError):
        add_months(date(1, 3, 1), -6)
    with pytest.raises(OverflowError):
        add_months(date.max, 1)


@given(DATES, MONTH_STEPS)
def test_add_months_moves_exactly_n_calendar_months(start: date, months: int) -> None:
    result = add_months(start, months)
    moved = (result.year * 12 + result.month) - (start.year * 12 + start.month)
    assert moved == months
    assert result.day == min(start.day, monthrange(result.year, result.month)[1])


@pytest.mark.parametrize(
    ("dob", "expected"),
    [
        (date(2007, 3, 10), date(2025, 3, 10)),
        (date(2000, 2, 29), date(2018, 3, 1)),
        (date(2004, 2, 29), date(2022, 3, 1)),
        (date(2002, 2, 28), date(2020, 2, 28)),
        (date(1999, 12, 31), date(2017, 12, 31)),
    ],
)
def test_eighteenth_birthday(dob: date, expected: date) -> None:
    assert eighteenth_birthday(dob) == expected


def test_leap_day_anniversary_in_a_leap_year_stays_on_29_february() -> None:
    assert anniversary(date(2016, 2, 29), 4) == date(2020, 2, 29)
    assert anniversary(date(2016, 2, 29), 1) == date(2017, 3, 1)


@given(DATES)
def test_eighteenth_birthday_is_18_years_on_same_day_or_1_march(dob: date) -> None:
    birthday = eighteenth_birthday(dob)
    assert birthday.year == dob.year + 18
    if (dob.month, dob.day) == (2, 29):
        assert (birthday.month, birthday.day) == (3, 1)
    else:
        assert (birthday.month, birthday.day) == (dob.month, dob.day)


def test_day_steps_stop_at_the_ends_of_the_calendar() -> None:
    assert next_day(date(2024, 2, 28)) == date(2024, 2, 29)
    assert previous_day(date(2024, 3, 1)) == date(2024, 2, 29)
    assert next_day(date.max) is None
    assert previous_day(date.min) is None


@given(DATES, st.integers(min_value=-5000, max_value=5000))
def test_days_apart_is_symmetric_and_non_negative(start: date, offset: int) -> None:
    other = start + timedelta(days=offset)
    assert days_apart(start, other) == days_apart(other, start) == abs(offset)
