"""The terminal text of an act's preview or outcome and of a subject report."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from sync.core.duplicates import FlagKind
from sync.core.policy import Segment
from sync.core.records import Agency, Owner, RecordRef
from sync.reconcile.diff import OwnershipChange
from sync.reconcile.preview import ActOutcome, Preview, SubjectView
from sync.reconcile.render import notice_line, outcome_lines, report_lines, segment_line
from sync.reconcile.subject import HistoryEvent, SubjectReport

PROBATION = RecordRef(Agency.PROBATION, "X600001")
POLICE = RecordRef(Agency.POLICE, "P6")
JUNE_1, JUNE_30 = date(2025, 6, 1), date(2025, 6, 30)
OPEN_POLICE = Segment(None, None, Owner.POLICE, "POLICE-REGISTERED", True, "pi-15-2015")
JUNE = Segment(JUNE_1, JUNE_30, Owner.PROBATION, "MANUAL", True, "pi-15-2015")
HANDOVER = OwnershipChange(
    POLICE, JUNE_1, JUNE_30, "police", "POLICE-REGISTERED", "probation", "MANUAL", True, True
)


def test_a_segment_line_shows_open_ends_and_whether_arms_is_mandatory() -> None:
    line = segment_line(None, JUNE_30, "police", "POLICE-REGISTERED", False)
    assert line.split() == [
        "open",
        "..",
        "2025-06-30",
        "police",
        "POLICE-REGISTERED",
        "discretionary",
    ]
    assert segment_line(JUNE_1, None, "none", "NONE-CUSTODY", True).split()[-1] == "mandatory"


def test_a_change_of_owner_goes_to_the_record_s_own_agency_as_before_and_after() -> None:
    """A correction over a range is told as the owner it becomes and the owner it was;
    it is not called a handover, which is a change between consecutive segments."""
    assert notice_line(HANDOVER) == (
        "  to police about police:P6: from 2025-06-01 to 2025-06-30 the owner becomes "
        "probation (MANUAL), was police (POLICE-REGISTERED)"
    )


def test_a_change_of_mandatory_alone_names_it_on_both_sides() -> None:
    change = OwnershipChange(
        PROBATION, None, None, "probation", "PROB-SEXUAL", "probation", "PROB-SEXUAL", False, True
    )
    assert notice_line(change) == (
        "  to probation about probation:X600001: from open to open the owner becomes "
        "probation (PROB-SEXUAL, mandatory), was probation (PROB-SEXUAL, discretionary)"
    )


def _preview() -> Preview:
    return Preview(
        before=(SubjectView("S1", (PROBATION, POLICE), (OPEN_POLICE,)),),
        after=(SubjectView("S1", (PROBATION, POLICE), (JUNE,)),),
        notices=(HANDOVER,),
        flags_closed=("assessed_by_non_owner|police|LA-1",),
        flags_raised=(),
    )


def test_a_preview_shows_both_timelines_its_notices_and_its_flags() -> None:
    lines = outcome_lines(ActOutcome(None, _preview(), False), "override", sends_notices=True)
    assert lines[0] == "Preview of override: nothing has changed; add --apply to make it."
    assert lines[1:4] == [
        "Before:",
        "  S1: probation:X600001, police:P6",
        segment_line(None, None, "police", "POLICE-REGISTERED", True),
    ]
    assert lines[4:7] == [
        "After:",
        "  S1: probation:X600001, police:P6",
        segment_line(JUNE_1, JUNE_30, "probation", "MANUAL", True),
    ]
    assert lines[7:] == [
        "Notices that will go out:",
        notice_line(HANDOVER),
        "Flags that will close:",
        "  assessed_by_non_owner|police|LA-1",
        "Flags that will be raised:",
        "  none",
    ]


def test_a_revocation_s_preview_names_the_override() -> None:
    lines = outcome_lines(ActOutcome("OVR-1", _preview(), False), "revoke", sends_notices=True)
    assert lines[0] == "Preview of revoke OVR-1: nothing has changed; add --apply to make it."


def test_an_applied_act_names_its_id_and_run_and_what_it_closed_and_raised() -> None:
    preview = Preview((), (), (), flags_closed=(), flags_raised=("duplicate|police|LA-1",))
    lines = outcome_lines(ActOutcome("LNK-1", preview, True, 7), "link", sends_notices=True)
    assert lines == [
        "Applied link LNK-1; decisions recomputed in run 7.",
        "Before:",
        "After:",
        "Notices queued for the agencies:",
        "  none (no owner or rule changes)",
        "Flags closed:",
        "  none",
        "Flags raised:",
        "  duplicate|police|LA-1",
    ]


def test_review_items_an_act_touches_are_listed_apart_from_its_flags() -> None:
    """docs/decisions.md: gender and date-of-birth conflicts are review items, not flags."""
    preview = Preview(
        (),
        (),
        (),
        flags_closed=("dob_conflict||LAN-1,X600001",),
        flags_raised=("duplicate|police|LA-1", "gender_conflict||LAN-1,X600001"),
    )
    applied = outcome_lines(ActOutcome("LNK-1", preview, True, 7), "link", sends_notices=True)
    previewed = outcome_lines(ActOutcome(None, preview, False), "link", sends_notices=True)

    assert applied[-8:] == [
        "Flags closed:",
        "  none",
        "Flags raised:",
        "  duplicate|police|LA-1",
        "Review items closed:",
        "  dob_conflict||LAN-1,X600001",
        "Review items raised:",
        "  gender_conflict||LAN-1,X600001",
    ]
    assert previewed[-8:] == [
        "Flags that will close:",
        "  none",
        "Flags that will be raised:",
        "  duplicate|police|LA-1",
        "Review items that will close:",
        "  dob_conflict||LAN-1,X600001",
        "Review items that will be raised:",
        "  gender_conflict||LAN-1,X600001",
    ]


def test_review_items_an_act_only_raises_are_still_listed() -> None:
    """An act that closes no review item but raises one tells of it, under both headings."""
    preview = Preview((), (), (), flags_closed=(), flags_raised=("dob_conflict||LAN-1,X600001",))
    previewed = outcome_lines(ActOutcome(None, preview, False), "link", sends_notices=True)
    assert previewed[-4:] == [
        "Review items that will close:",
        "  none",
        "Review items that will be raised:",
        "  dob_conflict||LAN-1,X600001",
    ]


KEYS = st.lists(
    st.builds(
        lambda kind, n: f"{kind}|police|PA-{n}",
        st.sampled_from([str(kind) for kind in FlagKind]),
        st.integers(0, 5),
    ),
    unique=True,
    max_size=6,
)


def _listed_under(lines: list[str], heading: str) -> list[str]:
    """The keys listed under a heading (none when the heading is absent or says none)."""
    if heading not in lines:
        return []
    keys = []
    for line in lines[lines.index(heading) + 1 :]:
        if not line.startswith("  "):
            break
        keys.append(line.strip())
    return [key for key in keys if key != "none"]


@given(closing=KEYS, raising=KEYS, applied=st.booleans())
def test_each_key_an_act_touches_is_listed_once_as_a_flag_or_a_review_item(
    closing: list[str], raising: list[str], applied: bool
) -> None:
    """Gender and date-of-birth conflicts go under the review items, every other kind under
    the flags, closed and raised each under its own heading; nothing is lost or repeated."""
    preview = Preview((), (), (), flags_closed=tuple(closing), flags_raised=tuple(raising))
    outcome = ActOutcome("LNK-1", preview, True, 7) if applied else ActOutcome(None, preview, False)
    lines = outcome_lines(outcome, "link", sends_notices=True)
    when, closed, raised = (
        ("", "closed", "raised") if applied else ("that will ", "close", "be raised")
    )
    review = {str(FlagKind.GENDER_CONFLICT), str(FlagKind.DOB_CONFLICT)}

    def is_item(key: str) -> bool:
        return key.partition("|")[0] in review

    for keys, verb in ((closing, closed), (raising, raised)):
        assert _listed_under(lines, f"Flags {when}{verb}:") == [k for k in keys if not is_item(k)]
        items = [k for k in keys if is_item(k)]
        assert _listed_under(lines, f"Review items {when}{verb}:") == items
    has_items = any(is_item(key) for key in (*closing, *raising))
    assert (f"Review items {when}{closed}:" in lines) == has_items


def test_an_act_that_changes_nothing_says_so() -> None:
    lines = outcome_lines(
        ActOutcome(None, Preview((), (), ()), False), "unlink", sends_notices=True
    )
    assert lines[-1] == "This act changes no subject and no timeline."
    assert "This act changes no subject and no timeline." not in outcome_lines(
        ActOutcome(None, _preview(), False), "unlink", sends_notices=True
    )


def test_a_subject_report_shows_records_side_by_side_timeline_flags_and_history() -> None:
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    report = SubjectReport(
        "S1",
        records=[PROBATION, POLICE],
        persons={PROBATION: {"surname": "EXAMPLE", "forenames": "WORKED"}},
        timeline=[
            {
                "from": None,
                "to": None,
                "owner": "police",
                "rule": "POLICE-REGISTERED",
                "mandatory": True,
            }
        ],
        flags=[{"key": "duplicate|police|LA-1", "kind": "duplicate", "state": "resolved"}],
        history=[HistoryEvent(at, "assign", "OVR-1", "jsmith", "agreed", "owner police")],
    )
    lines = report_lines(report)
    assert lines[0] == "Subject S1"
    assert lines[1].split() == ["probation:X600001", "police:P6"]
    assert lines[2].split() == ["surname", "EXAMPLE"]
    assert lines[3].split() == ["forenames", "WORKED"]
    timeline = lines.index("Timeline:")
    assert lines[timeline + 1] == segment_line(None, None, "police", "POLICE-REGISTERED", True)
    flags = lines.index("Flags:")
    assert lines[flags + 1] == "  [resolved] duplicate  duplicate|police|LA-1"
    assert lines[flags + 2 :] == [
        "Manual acts:",
        "  2026-11-02T09:30:00+00:00 assign OVR-1 by jsmith: owner police; reason: agreed",
    ]


def test_a_subject_report_lists_its_review_items_apart_from_its_flags() -> None:
    """docs/decisions.md: gender and date-of-birth conflicts are review items, not flags."""
    conflict = "dob_conflict||P6,X600001"
    report = SubjectReport("S1", flags=[{"key": conflict, "kind": "dob_conflict", "state": "open"}])
    lines = report_lines(report)
    assert lines[-6:] == [
        "Flags:",
        "  none",
        "Review items:",
        f"  [open] dob_conflict  {conflict}",
        "Manual acts:",
        "  none",
    ]


def test_a_subject_report_without_flags_or_acts_says_none() -> None:
    lines = report_lines(SubjectReport("S1"))
    assert lines[-4:] == ["Flags:", "  none", "Manual acts:", "  none"]
