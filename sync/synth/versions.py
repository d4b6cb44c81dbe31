"""Feed records as they are versioned: entries, timestamps, stale copies, tombstones.

An `Entry` is a record waiting for its `updated_at`, kept as whole seconds
since ordinal day 0 so that stale versions (older stamp, arriving later) and
deletions (newer stamp) can be placed exactly. Day and clock strings are
memoised: a run touches a few thousand distinct days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sync.core.records import Agency, AssessmentStatus
from sync.synth.histories import YEAR
from sync.synth.randomness import SynthRandom

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3_600
SECONDS_PER_DAY = 86_400
STALE_SECONDS = (SECONDS_PER_HOUR, 60 * SECONDS_PER_DAY)
STALE_END_SHIFT_DAYS = 180
TOMBSTONE_SECONDS = (SECONDS_PER_MINUTE, 4 * SECONDS_PER_HOUR)
FIXED_TERM_FOR_STALE_DAYS = 5 * YEAR

PROBATION = "probation"
POLICE = "police"
STATUS_TEXT: Mapping[AssessmentStatus, str] = {status: status.value for status in AssessmentStatus}


@dataclass(slots=True)
class Entry:
    """A feed record waiting for its `updated_at` (seconds since ordinal day 0)."""

    agency: Agency
    record: dict[str, object]
    stamp: int


class _IsoDays(dict[int, str]):
    """ISO forms of ordinal days, memoised."""

    def __missing__(self, day: int) -> str:
        text = self[day] = date.fromordinal(day).isoformat()
        return text


class _ClockTimes(dict[int, str]):
    """`THH:MM:SSZ` forms of seconds into a day, memoised."""

    def __missing__(self, seconds: int) -> str:
        hours, rest = divmod(seconds, SECONDS_PER_HOUR)
        minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
        text = self[seconds] = f"T{hours:02d}:{minutes:02d}:{secs:02d}Z"
        return text


ISO_DAYS = _IsoDays()
_CLOCK_TIMES = _ClockTimes()


def iso_or_none(day: int | None) -> str | None:
    """The ISO form of an ordinal day, or `None`."""
    return None if day is None else ISO_DAYS[day]


def format_stamp(stamp: int) -> str:
    """RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SSZ`) of a stamp in seconds."""
    day, seconds = divmod(stamp, SECONDS_PER_DAY)
    return ISO_DAYS[day] + _CLOCK_TIMES[seconds]


def agency_text(agency: Agency) -> str:
    """The agency's name as feeds write it (cheaper than the enum's `value`)."""
    return PROBATION if agency is Agency.PROBATION else POLICE


def tombstone(entry: Entry, rng: SynthRandom) -> Entry:
    """The record withdrawn by its source a little later (`deleted: true`)."""
    record = {**entry.record, "deleted": True}
    return Entry(entry.agency, record, entry.stamp + rng.randint(*TOMBSTONE_SECONDS))


def _shift_iso(text: str, days: int) -> str:
    return ISO_DAYS[date.fromisoformat(text).toordinal() + days]


def stale_copy(entry: Entry, rng: SynthRandom) -> Entry:
    """An older version of the record (different content, earlier stamp)."""
    record = dict(entry.record)
    kind = record["type"]
    if kind == "person":
        record["pnc"] = None
    elif kind == "assessment":
        record.update(completed_on=None, status=STATUS_TEXT[AssessmentStatus.IN_PROGRESS])
    elif kind == "supervision":
        record["terminated_on"] = None
        if isinstance(record["end"], str):
            record["end"] = _shift_iso(record["end"], rng.randint(1, STALE_END_SHIFT_DAYS))
    elif record["end"] is None:
        record["end"] = _shift_iso(str(record["start"]), FIXED_TERM_FOR_STALE_DAYS)
    else:
        record["end"] = None
    return Entry(entry.agency, record, entry.stamp - rng.randint(*STALE_SECONDS))
