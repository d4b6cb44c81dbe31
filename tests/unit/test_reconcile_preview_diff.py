"""A preview's comparison of two passes: changed ranges, notices, subjects shown, flags."""

from __future__ import annotations

from datetime import date

from sync.core.decide import Decisions, SubjectDecision
from sync.core.duplicates import Flag, FlagKind
from sync.core.policy import Segment
from sync.core.records import Agency, Owner, RecordRef, SubjectFacts
from sync.ledger.decisions import flag_key
from sync.reconcile.diff import ownership_changes, timeline_changes
from sync.reconcile.preview import Preview, SubjectView, compare, members_of

A = RecordRef(Agency.PROBATION, "X600001")
B = RecordRef(Agency.POLICE, "P6")
C = RecordRef(Agency.POLICE, "P7")
D = RecordRef(Agency.PROBATION, "X600002")
JUNE_1, JUNE_30, JULY_1 = date(2025, 6, 1), date(2025, 6, 30), date(2025, 7, 1)
MAY_31 = date(2025, 5, 31)


def seg(
    start: date | None,
    end: date | None,
    owner: Owner = Owner.POLICE,
    rule: str = "POLICE-REGISTERED",
    mandatory: bool = True,
    policy: str = "pi-15-2015",
) -> Segment:
    return Segment(start, end, owner, rule, mandatory, policy)


POLICE_ALWAYS = (seg(None, None),)
JUNE_MANUAL = (
    seg(None, MAY_31),
    seg(JUNE_1, JUNE_30, Owner.PROBATION, "MANUAL"),
    seg(JULY_1, None),
)


def test_an_override_in_june_changes_exactly_june() -> None:
    [change] = timeline_changes(POLICE_ALWAYS, JUNE_MANUAL)
    assert (change.start, change.end) == (JUNE_1, JUNE_30)
    assert (change.before.owner, change.after.owner) == (Owner.POLICE, Owner.PROBATION)
    assert change.after.rule == "MANUAL"


def test_removing_an_override_changes_its_range_back() -> None:
    [change] = timeline_changes(JUNE_MANUAL, POLICE_ALWAYS)
    assert (change.start, change.end, change.after.owner) == (JUNE_1, JUNE_30, Owner.POLICE)


def test_a_change_of_rule_alone_or_of_mandatory_alone_is_a_change() -> None:
    rule_only = (seg(None, None, rule="POLICE-OTHER"),)
    mandatory_only = (seg(None, None, mandatory=False),)
    assert [(c.start, c.end) for c in timeline_changes(POLICE_ALWAYS, rule_only)] == [(None, None)]
    assert [(c.start, c.end) for c in timeline_changes(POLICE_ALWAYS, mandatory_only)] == [
        (None, None)
    ]


def test_segments_that_differ_only_by_policy_version_make_one_range() -> None:
    versions = (
        seg(None, MAY_31, Owner.PROBATION, "MANUAL", policy="v1"),
        seg(JUNE_1, None, Owner.PROBATION, "MANUAL", policy="v2"),
    )
    [change] = timeline_changes(POLICE_ALWAYS, versions)
    assert (change.start, change.end) == (None, None)


def test_ranges_with_different_decisions_or_a_gap_between_them_stay_apart() -> None:
    two_before = (seg(None, MAY_31), seg(JUNE_1, None, Owner.NONE, "NONE-CUSTODY", False))
    changes = timeline_changes(two_before, (seg(None, None, Owner.PROBATION, "PROB-SEXUAL"),))
    assert [(c.start, c.end) for c in changes] == [(None, MAY_31), (JUNE_1, None)]

    around_june = (
        seg(None, MAY_31, Owner.PROBATION, "MANUAL"),
        seg(JUNE_1, JUNE_30),
        seg(JULY_1, None, Owner.PROBATION, "MANUAL"),
    )
    changes = timeline_changes(POLICE_ALWAYS, around_june)
    assert [(c.start, c.end) for c in changes] == [(None, MAY_31), (JULY_1, None)]


def test_identical_timelines_have_no_change() -> None:
    assert timeline_changes(JUNE_MANUAL, JUNE_MANUAL) == []


def test_each_record_on_both_sides_gets_its_own_notice_in_record_order() -> None:
    refs = [
        RecordRef(Agency.PROBATION, "X3"),
        RecordRef(Agency.POLICE, "P2"),
        RecordRef(Agency.PROBATION, "X1"),
        RecordRef(Agency.POLICE, "P9"),
        RecordRef(Agency.POLICE, "P1"),
        RecordRef(Agency.PROBATION, "X7"),
        RecordRef(Agency.POLICE, "P5"),
        RecordRef(Agency.PROBATION, "X2"),
    ]
    before = dict.fromkeys(refs, POLICE_ALWAYS)
    after = dict.fromkeys(refs, JUNE_MANUAL) | {D: JUNE_MANUAL}
    notices = ownership_changes(before, after)
    assert [n.record for n in notices] == sorted(refs)
    assert {n.agency for n in notices if n.record.agency is Agency.POLICE} == {Agency.POLICE}
    first = notices[0]
    assert (first.start, first.end) == (JUNE_1, JUNE_30)
    assert (first.before_owner, first.before_rule) == ("police", "POLICE-REGISTERED")
    assert (first.after_owner, first.after_rule) == ("probation", "MANUAL")


def test_a_notice_carries_whether_arms_is_mandatory_on_each_side() -> None:
    after = (seg(None, None, mandatory=False),)
    [notice] = ownership_changes({A: POLICE_ALWAYS}, {A: after})
    assert (notice.before_mandatory, notice.after_mandatory) == (True, False)
    assert notice.before_owner == notice.after_owner == "police"


def decision(subject_id: str, members: tuple[RecordRef, ...], *flags: Flag) -> SubjectDecision:
    return SubjectDecision(SubjectFacts(subject_id, ()), members, (), POLICE_ALWAYS, flags)


def decision_with(
    subject_id: str, members: tuple[RecordRef, ...], timeline: tuple[Segment, ...]
) -> SubjectDecision:
    return SubjectDecision(SubjectFacts(subject_id, ()), members, (), timeline, ())


def passes(*subjects: SubjectDecision) -> Decisions:
    return Decisions(subjects=subjects, merged_into={}, orphans=())


def dup_flag(subject_id: str, *person_ids: str) -> Flag:
    return Flag(FlagKind.DUPLICATE_PERSON_RECORD, subject_id, Agency.POLICE, person_ids=person_ids)


def test_a_split_shows_every_part_and_notifies_a_record_that_left() -> None:
    before = passes(decision("S1", (A, B, C)), decision("S9", (D,)))
    after = passes(
        decision("S1", (A,)),
        decision("S2", (C,)),
        decision_with("S3", (B,), JUNE_MANUAL),
        decision("S9", (D,)),
    )
    preview = compare(before, after, {A, C})
    assert [v.subject_id for v in preview.before] == ["S1"]
    assert [v.subject_id for v in preview.after] == ["S1", "S2", "S3"]
    assert [n.record for n in preview.notices] == [B]
    assert preview.changes_subjects
    assert preview.changes_anything


def test_flags_are_closed_and_raised_on_every_touched_subject() -> None:
    gone, kept, new = dup_flag("S1", "P6", "P7"), dup_flag("S9", "P8", "P9"), dup_flag("S3", "P6")
    before = passes(decision("S1", (A, B, C), gone, kept))
    after = passes(decision("S1", (A,)), decision("S2", (C,)), decision("S3", (B,), kept, new))
    preview = compare(before, after, {A, C})
    assert preview.flags_closed == (flag_key(gone),)
    assert preview.flags_raised == (flag_key(new),)


def test_an_act_that_changes_nothing_says_so() -> None:
    same = passes(decision("S1", (A, B)))
    preview = compare(same, same, {A})
    assert preview == Preview(
        (SubjectView("S1", (A, B), POLICE_ALWAYS),),
        (SubjectView("S1", (A, B), POLICE_ALWAYS),),
        (),
    )
    assert not preview.changes_subjects
    assert not preview.changes_anything


def test_a_notice_or_a_flag_alone_is_a_change() -> None:
    view = (SubjectView("S1", (A,), POLICE_ALWAYS),)
    [notice] = ownership_changes({A: POLICE_ALWAYS}, {A: JUNE_MANUAL})
    assert Preview(view, view, (notice,)).changes_anything
    assert Preview(view, view, (), flags_closed=("k",)).changes_anything
    assert Preview(view, view, (), flags_raised=("k",)).changes_anything


def test_members_of_a_subject_in_a_pass() -> None:
    decided = passes(decision("S1", (A, B)), decision("S2", (C,)))
    assert members_of(decided, "S2") == {C}
    assert members_of(decided, "S7") == set()
