"""The calendar day in England and Wales, where both agencies write their dates.

Feeds date assessments, supervisions and custody by the day they happened in
England and Wales; so "today" (a run's default as-of date, the last day a
recorded event may have happened by, the day a flag is filed under) is that
day, not the UTC one, which lags it by an hour from midnight each night of
British Summer Time. Time zone data comes from the system, else the `tzdata`
package.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

ENGLAND_AND_WALES = ZoneInfo("Europe/London")


def day_in_england(moment: datetime) -> date:
    """The day `moment` falls on in England and Wales (a time without a zone is UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(ENGLAND_AND_WALES).date()
