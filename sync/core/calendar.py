"""Pure calendar helpers for the ownership rules.

Calendar-month arithmetic ("the same day of the month six months earlier"),
birthdays with the 29 February rule, and day steps that stay inside the range
`datetime.date` can represent. No I/O and no dependencies beyond the standard
library.
"""

from __future__ import annotations

from calendar import isleap, monthrange
from datetime import MAXYEAR, MINYEAR, date, timedelta

MONTHS_PER_YEAR = 12
ADULT_AGE_YEARS = 18
ONE_DAY = timedelta(days=1)
LEAP_DAY_MONTH = 2
LEAP_DAY = 29
FIRST_OF_MARCH = (3, 1)


def _check_year(year: int) -> None:
    """Raise `OverflowError` when `year` is outside what `date` can hold."""
    if not MINYEAR <= year <= MAXYEAR:
        raise OverflowError("date value out of range")


def add_months(d: date, n: int) -> date:
    """The same day of the month `n` calendar months later (earlier if `n` < 0).

    Where that day does not exist in the target month the result is the
    month's last day (31 August minus six months is 28 or 29 February).
    Raises `OverflowError` outside the range of `date`.
    """
    year, month_index = divmod(d.year * MONTHS_PER_YEAR + d.month - 1 + n, MONTHS_PER_YEAR)
    _check_year(year)
    month = month_index + 1
    last_day = monthrange(year, month)[1]
    return date(year, month, min(d.day, last_day))


def anniversary(d: date, years: int) -> date:
    """The `years`-th anniversary of `d`.

    Someone born on 29 February has their anniversary on 1 March in a year
    without a 29 February. Raises `OverflowError` outside the range of `date`.
    """
    year = d.year + years
    _check_year(year)
    if (d.month, d.day) == (LEAP_DAY_MONTH, LEAP_DAY) and not isleap(year):
        return date(year, *FIRST_OF_MARCH)
    return d.replace(year=year)


def eighteenth_birthday(dob: date) -> date:
    """The day a person born on `dob` turns 18 (29 February births: 1 March)."""
    return anniversary(dob, ADULT_AGE_YEARS)


def next_day(d: date) -> date | None:
    """The day after `d`, or `None` when `d` is the last representable day."""
    return None if d == date.max else d + ONE_DAY


def previous_day(d: date) -> date | None:
    """The day before `d`, or `None` when `d` is the first representable day."""
    return None if d == date.min else d - ONE_DAY


def days_apart(a: date, b: date) -> int:
    """The number of days between two dates, whichever comes first."""
    return abs((b - a).days)
