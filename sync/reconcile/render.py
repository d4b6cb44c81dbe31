"""Plain-text rendering of previews and subject reports for the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sync.core.duplicates import FLAG_KEY_SEPARATOR, REVIEW_KINDS
from sync.core.policy import Segment
from sync.core.records import RecordRef
from sync.reconcile.diff import OwnershipChange
from sync.reconcile.preview import ActOutcome, SubjectView
from sync.reconcile.subject import PERSON_FIELDS, SubjectFact, SubjectReport

OPEN_END = "open"
LABEL_WIDTH = 14
COLUMN_WIDTH = 24


def _day(value: date | None) -> str:
    return OPEN_END if value is None else value.isoformat()


def _mandatory(mandatory: bool) -> str:
    return "mandatory" if mandatory else "discretionary"


def segment_line(
    start: date | None, end: date | None, owner: str, rule: str, mandatory: bool
) -> str:
    """One timeline segment as a line."""
    kind = _mandatory(mandatory)
    return f"    {_day(start):>10} .. {_day(end):<10}  {owner:<9} {rule:<20} {kind}"


def _segment(segment: Segment) -> str:
    return segment_line(
        segment.start, segment.end, str(segment.owner), segment.rule, segment.mandatory
    )


def _views(title: str, views: Iterable[SubjectView]) -> list[str]:
    lines = [title]
    for view in views:
        records = ", ".join(f"{ref.agency}:{ref.person_id}" for ref in view.members)
        lines.append(f"  {view.subject_id}: {records}")
        lines.extend(_segment(segment) for segment in view.timeline)
    return lines


def notice_line(change: OwnershipChange) -> str:
    """One ownership change as the notice its agency will receive.

    Whether ARMS is mandatory is named when that changes too, so a change of it
    alone (owner and rule the same) never reads as no change at all.
    """
    after, before = change.after_rule, change.before_rule
    if change.after_mandatory != change.before_mandatory:
        after = f"{after}, {_mandatory(change.after_mandatory)}"
        before = f"{before}, {_mandatory(change.before_mandatory)}"
    return (
        f"  to {change.agency} about {change.record.agency}:{change.record.person_id}: "
        f"from {_day(change.start)} to {_day(change.end)} the owner becomes "
        f"{change.after_owner} ({after}), was {change.before_owner} ({before})"
    )


def _flags_and_items_lines(
    closing: Iterable[str], raising: Iterable[str], outcome: ActOutcome
) -> list[str]:
    """The flags an act closes and raises, then (only when it touches any) the review
    items, which are not flags (`REVIEW_KINDS`), each by its key."""
    when = "" if outcome.applied else "that will "
    closed, raised = ("closed", "raised") if outcome.applied else ("close", "be raised")
    flags_closed, items_closed = _part_review_items(closing)
    flags_raised, items_raised = _part_review_items(raising)
    lines = [
        *_flag_lines(f"Flags {when}{closed}:", flags_closed),
        *_flag_lines(f"Flags {when}{raised}:", flags_raised),
    ]
    if items_closed or items_raised:
        lines.extend(_flag_lines(f"Review items {when}{closed}:", items_closed))
        lines.extend(_flag_lines(f"Review items {when}{raised}:", items_raised))
    return lines


def _part_review_items(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    """Flag keys parted into the flags' and the review items' (a key starts with its kind)."""
    listed = list(keys)
    items = [key for key in listed if key.partition(FLAG_KEY_SEPARATOR)[0] in REVIEW_KINDS]
    return [key for key in listed if key not in items], items


def _flag_lines(title: str, keys: Iterable[str]) -> list[str]:
    """A titled list of flag keys (as `reconcile list` shows them), or "none"."""
    listed = [f"  {key}" for key in keys]
    return [title, *(listed or ["  none"])]


def notices_title(*, applied: bool, sends_notices: bool) -> str:
    """The heading of an act's ownership changes: what becomes of them.

    With a key directory each change is a notice to an agency, queued when the
    act is applied; without one nothing is sent, and the changes are listed as such.
    """
    if not sends_notices:
        return "Ownership changes (no notices are sent: this deployment has no key directory):"
    return "Notices queued for the agencies:" if applied else "Notices that will go out:"


def outcome_lines(outcome: ActOutcome, act: str, *, sends_notices: bool) -> list[str]:
    """What an act will do (preview) or did (applied); `sends_notices` if the hub has keys."""
    preview = outcome.preview
    if outcome.applied:
        head = f"Applied {act} {outcome.act_id}; decisions recomputed in run {outcome.run_id}."
    else:
        named = f"{act} {outcome.act_id}" if outcome.act_id is not None else act
        head = f"Preview of {named}: nothing has changed; add --apply to make it."
    lines = [head, *_views("Before:", preview.before), *_views("After:", preview.after)]
    lines.append(notices_title(applied=outcome.applied, sends_notices=sends_notices))
    lines.extend(notice_line(change) for change in preview.notices)
    if not preview.notices:
        lines.append("  none (no owner or rule changes)")
    lines.extend(_flags_and_items_lines(preview.flags_closed, preview.flags_raised, outcome))
    if not preview.changes_anything:
        lines.append("This act changes no subject and no timeline.")
    lines.extend(preview.notes)
    return lines


def report_lines(report: SubjectReport) -> list[str]:
    """A subject shown to an operator: records side by side, timeline, flags, history."""
    header = "".ljust(LABEL_WIDTH) + "".join(
        f"{ref.agency}:{ref.person_id}".ljust(COLUMN_WIDTH) for ref in report.records
    )
    lines = [f"Subject {report.subject_id}", header]
    for name in PERSON_FIELDS:
        cells = [report.persons.get(ref, {}).get(name, "") for ref in report.records]
        lines.append(name.ljust(LABEL_WIDTH) + "".join(c.ljust(COLUMN_WIDTH) for c in cells))
    lines.extend(
        _merged_line(ref, into, sent=ref in report.persons)
        for ref, into in sorted(report.merged_into.items())
    )
    lines.append("Supervisions, custodies, registrations and assessments:")
    lines.extend(fact_line(fact) for fact in report.facts)
    if not report.facts:
        lines.append("  none")
    lines.append("Timeline:")
    lines.extend(
        segment_line(s["from"], s["to"], s["owner"], s["rule"], s["mandatory"])
        for s in report.timeline
    )
    lines.extend(_subject_flag_lines(report.flags))
    lines.append("Manual acts:")
    lines.extend(
        f"  {e.at.isoformat(timespec='seconds')} {e.act} {e.act_id} by {e.operator}: "
        f"{e.detail}; reason: {e.reason}"
        for e in report.history
    )
    if not report.history:
        lines.append("  none")
    return lines


def _merged_line(ref: RecordRef, into: str, *, sent: bool) -> str:
    """A record its agency merged into another: which, and what its column shows."""
    shown = "its details are as last sent, before the merge" if sent else "never sent as a person"
    return (
        f"{ref.agency}:{ref.person_id} was merged by its agency into {ref.agency}:{into}: {shown}."
    )


def fact_line(fact: SubjectFact) -> str:
    """One period or assessment: its person record, type, id and dates."""
    held = fact.fields
    person = f"{fact.person.agency}:{fact.person.person_id}"
    if fact.rtype == "assessment":
        dates = [f"started {held.get('started_on', '?')}"]
        if "completed_on" in held:
            dates.append(f"completed {held['completed_on']}")
        what = [held.get("status", ""), *dates]
    else:
        span = f"{held.get('start', '?')} to {held.get('end', OPEN_END)}"
        ended = [f"ended early {held['terminated_on']}"] if "terminated_on" in held else []
        kinds = [held[name] for name in ("kind", "offence") if name in held]
        what = [*kinds, span, *ended]
    return f"  {person:<{COLUMN_WIDTH}} {fact.rtype} {fact.rid}: {', '.join(what)}"


def _subject_flag_lines(flags: list[dict[str, Any]]) -> list[str]:
    """A subject's flags with their states, then (only when it has any) its review items,
    which are not flags (`REVIEW_KINDS`)."""
    flag_lines = [_state_line(flag) for flag in flags if flag["kind"] not in REVIEW_KINDS]
    item_lines = [_state_line(flag) for flag in flags if flag["kind"] in REVIEW_KINDS]
    lines = ["Flags:", *(flag_lines or ["  none"])]
    if item_lines:
        lines.extend(["Review items:", *item_lines])
    return lines


def _state_line(flag: dict[str, Any]) -> str:
    return f"  [{flag['state']}] {flag['kind']}  {flag['key']}"
