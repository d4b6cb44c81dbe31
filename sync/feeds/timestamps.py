"""`updated_at` as written (RFC 3339) to a key that sorts in UTC time order.

"The record with the later `updated_at` wins" (`feed-v1.md`), so the key keeps
everything that orders two instants, which Python's `datetime` alone cannot:
fraction digits past the microsecond and a leap second (`23:59:60`). The key is
the instant in UTC, `YYYY-MM-DDThh:mm:ss`, then a fraction when it is not zero:
six digits (as `datetime.isoformat` writes microseconds, the form ledgers
already hold), and past those only the source's further non-zero digits, up to
twelve in all. A time without a fraction is a prefix of the same time with one,
and the first six digits are always all there, so comparing keys as strings
compares the instants.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

TIMESTAMP_REASON = "must be an RFC 3339 timestamp with seconds and an offset"
RANGE_REASON = "must fall between the years 0001 and 9999 once in UTC"
MAX_FRACTION_DIGITS = 12  # picoseconds; later digits are dropped (the ledger's column holds 32)
MICROSECOND_DIGITS = 6
LEAP_SECOND = 60
MAX_OFFSET_HOURS = 23
MAX_OFFSET_MINUTES = 59

# RFC 3339 `date-time`: `T` or `t`, seconds, an optional fraction, `Z`, `z` or
# `+hh:mm`/`-hh:mm`. `[0-9]`, not `\d`, which also matches other scripts' digits.
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)


class TimestampError(ValueError):
    """A timestamp that is not RFC 3339, or not an instant of years 0001 to 9999 in UTC."""


def utc_key(text: str) -> str:
    """The sortable UTC key of an RFC 3339 timestamp, or `TimestampError` (no value in it)."""
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise TimestampError(TIMESTAMP_REASON)
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = match.groups()
    leap = second == "60"
    try:
        written = datetime(
            int(year), int(month), int(day), int(hour), int(minute), 59 if leap else int(second)
        )
    except ValueError:
        raise TimestampError(TIMESTAMP_REASON) from None
    if sign is None and not leap:  # already UTC, and valid: the digits as written
        return f"{year}-{month}-{day}T{hour}:{minute}:{second}{_fraction_key(fraction)}"
    utc = written if sign is None else _to_utc(written, sign, int(off_hours), int(off_minutes))
    if leap and not _may_hold_a_leap_second(utc):
        raise TimestampError(TIMESTAMP_REASON)
    seconds = LEAP_SECOND if leap else utc.second
    return f"{utc.isoformat(timespec='minutes')}:{seconds:02d}{_fraction_key(fraction)}"


def _to_utc(written: datetime, sign: str, hours: int, minutes: int) -> datetime:
    if hours > MAX_OFFSET_HOURS or minutes > MAX_OFFSET_MINUTES:
        raise TimestampError(TIMESTAMP_REASON)
    offset = timedelta(hours=hours, minutes=minutes)
    try:
        return written - offset if sign == "+" else written + offset
    except OverflowError:
        raise TimestampError(RANGE_REASON) from None


def _may_hold_a_leap_second(utc: datetime) -> bool:
    """Leap seconds are inserted only at the end of a UTC month (RFC 3339, 5.7)."""
    last_day = calendar.monthrange(utc.year, utc.month)[1]
    return (utc.day, utc.hour, utc.minute) == (last_day, 23, 59)


def _fraction_key(fraction: str | None) -> str:
    if not fraction:
        return ""
    digits = fraction[:MAX_FRACTION_DIGITS].ljust(MICROSECOND_DIGITS, "0")
    digits = digits[:MICROSECOND_DIGITS] + digits[MICROSECOND_DIGITS:].rstrip("0")
    return "" if not digits.strip("0") else "." + digits
