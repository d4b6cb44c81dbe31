"""Previews: a decision pass with and without an act, compared, nothing stored.

`build_preview` runs a decision pass on the current inputs and on inputs
changed by the act (`sync.core.decide.decide_around_act`: the records read
once, and an override decided again only for the subjects it moves), and
returns the affected subjects before and after (members and timelines), the
ownership changes each agency would be told about ("the notices that will go
out") and the flags the act would close or raise on those subjects; it also
hands back the pass with the act, which applying the act may store as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sync.app import App
from sync.core.decide import DecisionInputs, Decisions
from sync.core.policy import Segment
from sync.core.records import RecordRef
from sync.cycle import compute_decisions_around_act
from sync.ledger.decisions import flag_key
from sync.reconcile.diff import OwnershipChange, ownership_changes


@dataclass(frozen=True, slots=True)
class SubjectView:
    """One subject in a preview: its id, records and timeline."""

    subject_id: str
    members: tuple[RecordRef, ...]
    timeline: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Preview:
    """What an act would change."""

    before: tuple[SubjectView, ...]
    after: tuple[SubjectView, ...]
    notices: tuple[OwnershipChange, ...]
    flags_closed: tuple[str, ...] = ()
    flags_raised: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # sentences for the operator on why the act does what it does

    @property
    def changes_subjects(self) -> bool:
        """Whether the grouping of records into subjects changes."""
        return {v.members for v in self.before} != {v.members for v in self.after}

    @property
    def changes_anything(self) -> bool:
        """Whether the act would change any subject or timeline."""
        return (
            self.changes_subjects
            or bool(self.notices)
            or bool(self.flags_closed)
            or bool(self.flags_raised)
        )


@dataclass(frozen=True, slots=True)
class ActOutcome:
    """What an act did: its id, its preview, and the run that applied it (if applied).

    A preview of a new act (link, unlink, assign) has no id: nothing is stored,
    and the act gets its id when it is applied. A preview of a revocation names
    the override it would revoke.
    """

    act_id: str | None
    preview: Preview
    applied: bool
    run_id: int | None = None


def _views(decisions: Decisions, refs: set[RecordRef]) -> tuple[SubjectView, ...]:
    return tuple(
        SubjectView(d.subject_id, d.members, d.timeline)
        for d in decisions.subjects
        if refs.intersection(d.members)
    )


def _timelines(views: Iterable[SubjectView]) -> dict[RecordRef, tuple[Segment, ...]]:
    return {ref: view.timeline for view in views for ref in view.members}


def members_of(decisions: Decisions, subject_id: str) -> set[RecordRef]:
    """The records of one subject in a pass (empty when it is not there)."""
    for decision in decisions.subjects:
        if decision.subject_id == subject_id:
            return set(decision.members)
    return set()


def _flag_keys(decisions: Decisions, refs: set[RecordRef]) -> set[str]:
    """The keys of every flag on the subjects holding any of `refs` (as `reconcile list`
    shows them)."""
    return {
        flag_key(flag)
        for decision in decisions.subjects
        if refs.intersection(decision.members)
        for flag in decision.flags
    }


def compare(before: Decisions, after: Decisions, refs: set[RecordRef]) -> Preview:
    """The preview of two passes around the records `refs`."""
    before_views = _views(before, refs)
    touched = {ref for view in before_views for ref in view.members} | refs
    after_views = _views(after, touched)
    notices = ownership_changes(_timelines(before_views), _timelines(after_views))
    flags_before, flags_after = _flag_keys(before, touched), _flag_keys(after, touched)
    return Preview(
        before_views,
        after_views,
        tuple(notices),
        flags_closed=tuple(sorted(flags_before - flags_after)),
        flags_raised=tuple(sorted(flags_after - flags_before)),
    )


def build_preview(
    app: App,
    current: DecisionInputs,
    changed: DecisionInputs,
    refs: set[RecordRef] | None = None,
    subject_id: str | None = None,
) -> tuple[Preview, Decisions]:
    """Decide with and without the act and compare around `refs` or one subject.

    Returns the preview and the pass with the act (stored as it is when the
    act is applied over an unchanged ledger).
    """
    before, after = compute_decisions_around_act(app, current, changed)
    wanted = set(refs or ())
    if subject_id is not None:
        wanted |= members_of(before, subject_id)
    return compare(before, after, wanted), after
