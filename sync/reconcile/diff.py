"""Pure comparison of timelines: which date ranges change owner or rule, and who is told.

`timeline_changes` splits two timelines of the same record at every boundary
of either and keeps the maximal ranges where the decision differs.
`ownership_changes` applies that to every affected person record, so each
agency is told only about its own records (data minimisation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sync.core.policy import Segment, segment_at
from sync.core.records import Agency, RecordRef

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RangeChange:
    """A maximal date range whose decision differs between two timelines."""

    start: date | None
    end: date | None
    before: Segment
    after: Segment


@dataclass(frozen=True, slots=True)
class OwnershipChange:
    """A change one agency is told about its own person record."""

    record: RecordRef
    start: date | None
    end: date | None
    before_owner: str
    before_rule: str
    after_owner: str
    after_rule: str
    before_mandatory: bool = False
    after_mandatory: bool = False

    @property
    def agency(self) -> Agency:
        """The agency that receives the notice (the record's own)."""
        return self.record.agency


def _decision(segment: Segment) -> tuple[str, str, bool]:
    return (str(segment.owner), segment.rule, segment.mandatory)


def _intervals(boundaries: Sequence[date]) -> Iterable[tuple[date | None, date | None]]:
    starts: list[date | None] = [None, *boundaries]
    for index, start in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else None
        yield start, None if following is None else following - ONE_DAY


def _representative(start: date | None, end: date | None) -> date:
    if start is not None:
        return start
    return end if end is not None else date.min


def timeline_changes(before: Sequence[Segment], after: Sequence[Segment]) -> list[RangeChange]:
    """Maximal ranges where `before` and `after` decide differently (owner, rule, mandatory)."""
    boundaries = sorted({s.start for s in (*before, *after) if s.start is not None})
    changes: list[RangeChange] = []
    for start, end in _intervals(boundaries):
        day = _representative(start, end)
        old, new = segment_at(before, day), segment_at(after, day)
        if _decision(old) == _decision(new):
            continue
        last = changes[-1] if changes else None
        if (
            last is not None
            and last.end is not None
            and start is not None
            and last.end + ONE_DAY == start
            and (_decision(last.before), _decision(last.after)) == (_decision(old), _decision(new))
        ):
            changes[-1] = RangeChange(last.start, end, last.before, last.after)
        else:
            changes.append(RangeChange(start, end, old, new))
    return changes


def ownership_changes(
    before: Mapping[RecordRef, Sequence[Segment]],
    after: Mapping[RecordRef, Sequence[Segment]],
) -> list[OwnershipChange]:
    """Per person record present on both sides, the ranges whose decision changes."""
    result: list[OwnershipChange] = []
    for ref in sorted(set(before) & set(after)):
        for change in timeline_changes(before[ref], after[ref]):
            result.append(
                OwnershipChange(
                    record=ref,
                    start=change.start,
                    end=change.end,
                    before_owner=str(change.before.owner),
                    before_rule=change.before.rule,
                    after_owner=str(change.after.owner),
                    after_rule=change.after.rule,
                    before_mandatory=change.before.mandatory,
                    after_mandatory=change.after.mandatory,
                )
            )
    return result
