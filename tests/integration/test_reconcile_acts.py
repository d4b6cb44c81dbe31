"""Manual acts as the ledger keeps them: items, flags, links, overrides, report, audit log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.audit.tables import audit_log
from sync.core.identifiers import check_letter
from sync.core.records import Agency, Owner, RecordRef
from sync.cycle import run_cycle
from sync.errors import UsageError
from sync.ledger import schema
from sync.ledger.tables_manual import flag_acts, manual_links, review_items
from sync.reconcile.acts import Actor
from sync.reconcile.flags import reopen, resolve
from sync.reconcile.items import Item, about_subject, list_items
from sync.reconcile.links import link, unlink
from sync.reconcile.overrides import AssignRequest, assign, revoke
from sync.reconcile.subject import subject_report
from sync.reports.from_ledger import ledger_report
from sync.reports.models import ReportFilters
from sync.reports.render_html import render_html
from sync.reports.render_json import render_json
from sync.settings import Settings
from tests.feed_records import Record, completed_assessment, licence, person, write_sources
from tests.integration.test_reconcile_apply import matches_a_fresh_pass, subject_of

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
START = datetime(2026, 11, 1, 9, tzinfo=UTC)
ACTOR = Actor("jsmith", "agreed at the MAPPA meeting")
REVIEW_PROBATION = RecordRef(Agency.PROBATION, "X100001")
REVIEW_POLICE = RecordRef(Agency.POLICE, "LAN-1")
GENDER_PROBATION = RecordRef(Agency.PROBATION, "X200001")
GENDER_POLICE = RecordRef(Agency.POLICE, "LAN-20")
OWNED_PROBATION = RecordRef(Agency.PROBATION, "X500001")
OWNED_POLICE = RecordRef(Agency.POLICE, "LAN-50")
NON_OWNER_FLAG = "assessed_by_non_owner|police|LA-5"
GENDER_FLAG = "gender_conflict||LAN-20,X200001"
DOUBLE_FLAG = "duplicate_person_record|probation|X300001,X300002"
MAY_1, MAY_31 = date(2025, 5, 1), date(2025, 5, 31)


def pnc(year: int, serial: int) -> str:
    """A valid PNC number of 19YY with its check letter."""
    digits = f"{year:02d}{serial:07d}"
    return f"19{year:02d}/{serial:07d}{check_letter(int(digits))}"


def feeds(
    *, with_police_assessment: bool = True, with_later_assessment: bool = False
) -> tuple[list[Record], list[Record]]:
    """A review pair, a gender conflict, a duplicate person record, and a subject on licence
    whose police record also holds a registration and a police assessment (deleted by
    its agency without `with_police_assessment`; `with_later_assessment` adds another)."""
    probation = [
        person("probation", "X100001", pnc="2002/0073319Z", forenames="REVIEW"),
        person("probation", "X200001", pnc=pnc(70, 11), forenames="GENDER"),
        person("probation", "X300001", pnc=pnc(71, 22), forenames="DOUBLE"),
        person("probation", "X300002", pnc=pnc(71, 22), forenames="DOUBLE"),
        person("probation", "X500001", pnc=pnc(73, 44), forenames="OWNED", cro=None),
        licence("XS-5", "X500001", "2025-03-01", "2027-02-28"),
    ]
    police: list[Record] = [
        person("police", "LAN-1", pnc="1979/0163001B", forenames="REVIEW"),
        person("police", "LAN-20", pnc=pnc(70, 11), forenames="GENDER", gender="F"),
        person("police", "LAN-50", pnc=pnc(73, 44), forenames="OWNED"),
        {
            "type": "registration",
            "agency": "police",
            "id": "LR-5",
            "person_id": "LAN-50",
            "start": "2019-01-01",
            "end": None,
            "updated_at": "2026-01-01T00:00:00Z",
        },
    ]
    assessment = completed_assessment("police", "LA-5", "LAN-50", "2025-05-10")
    if not with_police_assessment:
        assessment = {**assessment, "deleted": True, "updated_at": "2026-03-01T00:00:00Z"}
    police.append(assessment)
    if with_later_assessment:
        police.append(completed_assessment("police", "LA-4", "LAN-50", "2025-06-10"))
    return probation, police


class Clock:
    """A clock that moves on a minute each time it is read."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def run(app: App, folder: Path, **options: bool) -> None:
    """One in-process run of the feeds."""
    folder.mkdir(exist_ok=True)
    run_cycle(app, write_sources(folder, *feeds(**options)), AS_OF)


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """An app over a ledger holding one run of the feeds."""
    application = App(Settings(database_url=ledger_url), clock=Clock())
    run(application, tmp_path / "first")
    yield application
    application.close()


def items(app: App, kind: str | None = None, *, resolved: bool = False) -> list[Item]:
    with app.ledger.engine.connect() as conn:
        return list_items(conn, app.ledger.codec, kind, resolved=resolved)


def entries(app: App, purpose: str) -> list[dict[str, Any]]:
    """The audit entries with `purpose`, oldest first, their references decoded."""
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.purpose == purpose).order_by(audit_log.c.seq)
        ).all()
    return [{**row._mapping, "refs": json.loads(row.refs)} for row in rows]


def segments(app: App, subject_id: str) -> list[tuple[Any, ...]]:
    table = schema.segments
    columns = (table.c.start, table.c.end, table.c.owner, table.c.rule)
    with app.ledger.engine.connect() as conn:
        query = select(*columns).where(table.c.subject_id == subject_id)
        return [tuple(row) for row in conn.execute(query.order_by(table.c.position))]


def one_row(app: App, query: Any) -> Any:
    with app.ledger.engine.connect() as conn:
        return conn.execute(query).one()


def last_run(app: App) -> Any:
    runs = schema.runs
    return one_row(app, select(runs).order_by(runs.c.id.desc()).limit(1))


# Items


def test_every_kind_of_item_is_listed_with_its_records_and_subject(app: App) -> None:
    listed = {item.key: item for item in items(app)}
    assert set(listed) == {NON_OWNER_FLAG, GENDER_FLAG, DOUBLE_FLAG, "1"}
    gender, double, review = listed[GENDER_FLAG], listed[DOUBLE_FLAG], listed["1"]
    assert (gender.kind, gender.state, gender.detail) == (
        "gender-conflict",
        "open",
        "gender_conflict",
    )
    assert gender.refs == ("police/LAN-20", "probation/X200001")
    assert gender.subject_id == subject_of(app, GENDER_POLICE)
    assert double.kind == "duplicate-person-record"
    assert double.refs == ("probation/X300001", "probation/X300002")
    assert listed[NON_OWNER_FLAG].kind == "flag"
    assert listed[NON_OWNER_FLAG].refs == ("police/LAN-50",)
    assert (review.kind, review.subject_id) == ("link-review", None)
    assert review.refs == ("police/LAN-1", "probation/X100001")
    assert review.detail.startswith("details agree but their identifiers differ")
    assert re.search(r"\S weight \d+\.\d\d$", review.detail)
    assert review.as_json() == {
        "kind": "link-review",
        "key": "1",
        "opened": review.opened.isoformat(),
        "state": "open",
        "subject_id": None,
        "detail": review.detail,
        "refs": ["police/LAN-1", "probation/X100001"],
        "area": None,
    }
    assert gender.as_json()["subject_id"] == gender.subject_id
    assert listed[NON_OWNER_FLAG].as_json()["area"] == "LANC"
    assert [item.key for item in items(app, "gender-conflict")] == [GENDER_FLAG]
    assert [item.key for item in items(app, "link-review")] == ["1"]


def test_items_opened_together_are_listed_by_kind(app: App) -> None:
    listed = items(app)
    assert len({item.opened for item in listed}) == 1
    assert [item.key for item in listed] == [DOUBLE_FLAG, NON_OWNER_FLAG, GENDER_FLAG, "1"]


def test_an_item_is_listed_from_when_it_was_first_seen(app: App, tmp_path: Path) -> None:
    first = {item.key: item.opened for item in items(app)}
    run(app, tmp_path / "again")
    assert {item.key: item.opened for item in items(app)} == first


def test_a_closed_flag_is_not_listed_even_with_resolved_items(app: App, tmp_path: Path) -> None:
    run(app, tmp_path / "again", with_police_assessment=False)
    assert NON_OWNER_FLAG not in {item.key for item in items(app, resolved=True)}
    with pytest.raises(UsageError, match=r"is closed \(its facts no longer hold\), so it cannot"):
        resolve(app, NON_OWNER_FLAG, ACTOR)


# Flags


def test_a_flag_is_resolved_then_reopened_and_each_act_is_kept(app: App) -> None:
    subject = subject_of(app, GENDER_POLICE)
    assert resolve(app, GENDER_FLAG, ACTOR) == "resolved"
    assert GENDER_FLAG not in {item.key for item in items(app)}
    [shown] = [item for item in items(app, resolved=True) if item.key == GENDER_FLAG]
    assert shown.state == "resolved"
    with pytest.raises(UsageError, match=r"already resolved \(by jsmith on 2026-11-01\)\.$"):
        resolve(app, GENDER_FLAG, ACTOR)

    assert reopen(app, GENDER_FLAG, Actor("asmith", "the records need another look")) == "open"
    assert GENDER_FLAG in {item.key for item in items(app)}
    with pytest.raises(UsageError, match=r"already open \(by asmith on 2026-11-01\)\.$"):
        reopen(app, GENDER_FLAG, ACTOR)
    with app.ledger.engine.connect() as conn:
        acts = conn.execute(select(flag_acts).order_by(flag_acts.c.id)).all()
    assert [(a.flag_key, a.action, a.operator) for a in acts] == [
        (GENDER_FLAG, "resolve", "jsmith"),
        (GENDER_FLAG, "reopen", "asmith"),
    ]
    assert acts[0].content_digest == acts[1].content_digest != ""
    assert all(a.reason.startswith("enc1:") for a in acts)

    report = subject_report(app.ledger, subject)
    assert [f["state"] for f in report.flags if f["key"] == GENDER_FLAG] == ["open"]
    history = [(e.act, e.operator, e.reason, e.detail) for e in report.history]
    assert history == [
        ("resolve", "jsmith", ACTOR.reason, GENDER_FLAG),
        ("reopen", "asmith", "the records need another look", GENDER_FLAG),
    ]
    logged = entries(app, "manual resolve of a flag") + entries(app, "manual reopen of a flag")
    assert [(e["kind"], e["actor"]) for e in logged] == [
        ("alteration", "operator:jsmith"),
        ("alteration", "operator:asmith"),
    ]
    assert all(e["refs"] == sorted([f"flag:{GENDER_FLAG}", f"subject:{subject}"]) for e in logged)


def test_the_report_says_who_resolved_a_flag_while_the_resolution_holds(app: App) -> None:
    def resolution() -> tuple[tuple[object, object], str]:
        """The flag's resolution in the JSON report, and the HTML report."""
        report = ledger_report(app, ReportFilters())
        document = json.loads(render_json(report))
        [flag] = [flag for flag in document["flags"] if flag["assessment_id"] == "LA-5"]
        return (flag["resolved_at"], flag["resolved_by"]), render_html(report).decode()

    assert resolution()[0] == (None, None)
    resolve(app, NON_OWNER_FLAG, ACTOR)
    (day, by), html = resolution()
    assert by == "jsmith"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(day))
    assert f"resolved {day} by jsmith" in html
    reopen(app, NON_OWNER_FLAG, Actor("asmith", "not settled after all"))
    (day, by), html = resolution()
    assert (day, by) == (None, None)
    assert "by jsmith" not in html


def test_a_resolved_flag_that_closed_and_is_raised_again_is_open(app: App, tmp_path: Path) -> None:
    resolve(app, NON_OWNER_FLAG, ACTOR)
    run(app, tmp_path / "deleted", with_police_assessment=False)
    probation, police = feeds()
    restored = [
        {**r, "updated_at": "2026-04-01T00:00:00Z"} if r["id"] == "LA-5" else r for r in police
    ]
    (tmp_path / "restored").mkdir()
    run_cycle(app, write_sources(tmp_path / "restored", probation, restored), AS_OF)
    assert NON_OWNER_FLAG in {item.key for item in items(app)}
    report = json.loads(render_json(ledger_report(app, ReportFilters())))
    [flag] = [flag for flag in report["flags"] if flag["assessment_id"] == "LA-5"]
    assert (flag["state"], flag["resolved_at"], flag["resolved_by"]) == ("open", None, None)
    assert resolve(app, NON_OWNER_FLAG, ACTOR) == "resolved"


def test_an_unknown_flag_is_refused(app: App) -> None:
    with pytest.raises(UsageError, match="not known to the ledger"):
        resolve(app, "gender_conflict||NOBODY", ACTOR)


# Links and unlinks


def test_a_previewed_link_stores_nothing_and_logs_a_consultation_of_the_two_records(
    app: App,
) -> None:
    runs_before = one_row(app, select(func.count()).select_from(schema.runs))[0]
    outcome = link(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=False)
    assert (outcome.act_id, outcome.applied, outcome.run_id) == (None, False, None)
    assert outcome.preview.changes_subjects
    assert sorted(view.members for view in outcome.preview.before) == [
        (REVIEW_POLICE,),
        (REVIEW_PROBATION,),
    ]
    assert [set(view.members) for view in outcome.preview.after] == [
        {REVIEW_POLICE, REVIEW_PROBATION}
    ]
    assert one_row(app, select(func.count()).select_from(manual_links))[0] == 0
    assert one_row(app, select(func.count()).select_from(schema.runs))[0] == runs_before
    assert subject_of(app, REVIEW_PROBATION) != subject_of(app, REVIEW_POLICE)
    [entry] = entries(app, "preview: manual link of person records")
    assert (entry["kind"], entry["actor"]) == ("consultation", "operator:jsmith")
    assert entry["refs"] == ["person:police/LAN-1", "person:probation/X100001"]


def test_an_applied_link_joins_the_pair_closes_its_review_item_and_is_logged(app: App) -> None:
    outcome = link(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=True)
    assert outcome.applied
    assert outcome.act_id is not None
    assert outcome.act_id.startswith("LNK-")
    run = last_run(app)
    assert outcome.run_id == run.id
    assert run.as_of == AS_OF
    assert json.loads(run.summary)["manual_act"] == outcome.act_id
    assert subject_of(app, REVIEW_PROBATION) == subject_of(app, REVIEW_POLICE)
    stored = one_row(app, select(manual_links))
    assert (stored.id, stored.action, stored.operator) == (outcome.act_id, "link", "jsmith")
    assert (stored.a_agency, stored.a_person_id) == ("police", "LAN-1")
    assert (stored.b_agency, stored.b_person_id) == ("probation", "X100001")
    assert stored.reason.startswith("enc1:")
    review = one_row(app, select(review_items))
    assert (review.resolved_by, review.resolution) == ("jsmith", "link")
    assert outcome.preview.notes == (
        f"This act settles link review {review.id}: its two records are one person.",
    )
    assert items(app, "link-review") == []
    [listed] = items(app, "link-review", resolved=True)
    assert listed.state == "resolved"
    [entry] = entries(app, "manual link of person records")
    assert (entry["kind"], entry["actor"]) == ("combination", "operator:jsmith")
    assert f"link:{outcome.act_id}" in entry["refs"]
    assert {"person:police/LAN-1", "person:probation/X100001"} <= set(entry["refs"])


def test_an_unlink_of_a_review_pair_changes_nothing_but_says_it_settles_the_review(
    app: App,
) -> None:
    [review] = items(app, "link-review")
    settles = (
        f"This act settles link review {review.key}: its two records are two people, kept apart."
    )
    preview = unlink(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=False)
    assert not preview.preview.changes_anything
    assert preview.preview.notes == (settles,)
    applied = unlink(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=True)
    assert applied.preview.notes == (settles,)
    assert items(app, "link-review") == []
    elsewhere = unlink(app, GENDER_PROBATION, GENDER_POLICE, ACTOR, apply=False)
    assert not any("link review" in note for note in elsewhere.preview.notes)


def test_an_unlink_is_kept_as_an_unlink_and_a_later_link_undoes_it(app: App) -> None:
    outcome = unlink(app, GENDER_PROBATION, GENDER_POLICE, ACTOR, apply=True)
    assert outcome.act_id is not None
    assert outcome.act_id.startswith("UNL-")
    assert outcome.preview.changes_subjects
    assert subject_of(app, GENDER_PROBATION) != subject_of(app, GENDER_POLICE)
    assert one_row(app, select(manual_links.c.action)).action == "unlink"
    [entry] = entries(app, "manual unlink of person records")
    assert entry["kind"] == "alteration"
    for ref in (GENDER_POLICE, GENDER_PROBATION):
        history = subject_report(app.ledger, subject_of(app, ref)).history
        assert [(e.act, e.act_id) for e in history] == [("unlink", outcome.act_id)]
    assert matches_a_fresh_pass(app)

    again = link(app, GENDER_POLICE, GENDER_PROBATION, ACTOR, apply=True)
    assert again.preview.changes_subjects
    assert subject_of(app, GENDER_PROBATION) == subject_of(app, GENDER_POLICE)
    assert matches_a_fresh_pass(app)


def test_a_subject_s_items_include_the_link_reviews_naming_its_records(app: App) -> None:
    everything = items(app)
    with app.ledger.engine.connect() as conn:
        about = about_subject(conn, everything, subject_of(app, REVIEW_PROBATION))
        elsewhere = about_subject(conn, everything, subject_of(app, GENDER_PROBATION))
    assert [item.kind for item in about] == ["link-review"]
    assert "link-review" not in {item.kind for item in elsewhere}
    assert {item.subject_id for item in elsewhere} == {subject_of(app, GENDER_PROBATION)}


def test_a_link_review_given_to_resolve_or_reopen_is_pointed_to_link_and_unlink(app: App) -> None:
    """`reconcile list` shows a link review's number where it shows a flag's key."""
    [review] = items(app, "link-review")
    for act in (resolve, reopen):
        with pytest.raises(UsageError) as refused:
            act(app, review.key, ACTOR)
        assert "is a link review, not a flag" in str(refused.value)
        assert "`arms-sync reconcile link`" in str(refused.value)
        assert "`arms-sync reconcile unlink`" in str(refused.value)
    with pytest.raises(UsageError, match="not known to the ledger"):
        resolve(app, str(int(review.key) + 1), ACTOR)
    assert items(app, "link-review") == [review]


def test_the_same_act_again_on_a_pair_is_refused_naming_the_act_that_stands(app: App) -> None:
    """As a second resolve is: a repeated link would store an act that changes nothing."""
    first = link(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=True)
    before = one_row(app, select(func.count()).select_from(manual_links))[0]
    for apply in (False, True):
        with pytest.raises(UsageError) as refused:
            link(app, REVIEW_POLICE, REVIEW_PROBATION, Actor("asmith", "again"), apply=apply)
        assert str(refused.value) == (
            f"The two records are already linked by {first.act_id} "
            "(by jsmith on 2026-11-01); nothing to do."
        )
    assert one_row(app, select(func.count()).select_from(manual_links))[0] == before
    unlink(app, REVIEW_POLICE, REVIEW_PROBATION, ACTOR, apply=True)
    with pytest.raises(UsageError, match="already kept apart by UNL-"):
        unlink(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=False)
    assert link(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=True).act_id is not None


def test_an_unlink_after_a_link_keeps_the_pair_apart(app: App) -> None:
    link(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=True)
    outcome = unlink(app, REVIEW_POLICE, REVIEW_PROBATION, Actor("asmith", "twins"), apply=True)
    assert outcome.preview.changes_subjects
    assert subject_of(app, REVIEW_PROBATION) != subject_of(app, REVIEW_POLICE)
    assert matches_a_fresh_pass(app)
    review = one_row(app, select(review_items))
    assert (review.resolved_by, review.resolution) == ("jsmith", "link")  # settled by the link


def test_an_unlink_closes_a_review_item_stored_either_way_round(app: App) -> None:
    with app.ledger.engine.begin() as conn:
        conn.execute(
            review_items.insert().values(
                kind="link-review",
                a_agency="probation",
                a_person_id="X500001",
                b_agency="police",
                b_person_id="LAN-1",
                created_at=START,
            )
        )
    unlink(app, REVIEW_POLICE, OWNED_PROBATION, ACTOR, apply=True)
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(select(review_items).order_by(review_items.c.id)).all()
    assert [(r.a_person_id, r.resolved_by, r.resolution) for r in rows] == [
        ("LAN-1", None, None),
        ("X500001", "jsmith", "unlink"),
    ]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (REVIEW_POLICE, REVIEW_POLICE, "itself"),
        (REVIEW_POLICE, RecordRef(Agency.PROBATION, "X999999"), "probation person record given"),
        (RecordRef(Agency.POLICE, "LAN-999"), REVIEW_PROBATION, "police person record given"),
        (REVIEW_POLICE, RecordRef(Agency.PROBATION, "XS-5"), "probation person record given"),
    ],
)
def test_a_pair_that_is_not_two_current_person_records_is_refused(
    app: App, first: RecordRef, second: RecordRef, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        link(app, first, second, ACTOR, apply=False)


def test_a_record_its_agency_deleted_cannot_be_linked(app: App, tmp_path: Path) -> None:
    folder = tmp_path / "deleted"
    folder.mkdir()
    probation, police = feeds()
    police[0] = {**police[0], "deleted": True, "updated_at": "2026-03-01T00:00:00Z"}
    run_cycle(app, write_sources(folder, probation, police), AS_OF)
    with pytest.raises(UsageError, match="police person record given"):
        link(app, REVIEW_PROBATION, REVIEW_POLICE, ACTOR, apply=False)


# Overrides


def test_an_override_s_preview_shows_its_subject_the_notices_and_the_flag_it_closes(
    app: App,
) -> None:
    subject = subject_of(app, OWNED_PROBATION)
    request = AssignRequest(subject, Owner.POLICE, MAY_1, MAY_31)
    outcome = assign(app, request, ACTOR, apply=False)
    assert outcome.act_id is None
    preview = outcome.preview
    assert [view.subject_id for view in preview.before] == [subject]
    assert {notice.record for notice in preview.notices} == {OWNED_PROBATION, OWNED_POLICE}
    assert {(n.start, n.end, n.after_owner, n.after_rule) for n in preview.notices} == {
        (MAY_1, MAY_31, "police", "MANUAL")
    }
    assert preview.flags_closed == (NON_OWNER_FLAG,)
    assert preview.flags_raised == ()
    [entry] = entries(app, "preview: manual ownership override")
    assert entry["refs"] == [f"subject:{subject}"]
    assert one_row(app, select(func.count()).select_from(schema.overrides))[0] == 0


def test_an_applied_override_is_stored_logged_shown_and_kept_with_later_ones(app: App) -> None:
    subject = subject_of(app, OWNED_PROBATION)
    may = assign(app, AssignRequest(subject, Owner.POLICE, MAY_1, MAY_31), ACTOR, apply=True)
    assert may.act_id is not None
    assert may.act_id.startswith("OVR-")
    later = AssignRequest(subject, Owner.NONE, date(2026, 1, 1))
    open_ended = assign(app, later, Actor("asmith", "moved abroad"), apply=True)
    assert (MAY_1, MAY_31, "police", "MANUAL") in segments(app, subject)
    assert (date(2026, 1, 1), None, "none", "MANUAL") in segments(app, subject)
    assert matches_a_fresh_pass(app)
    row = one_row(app, select(schema.overrides).where(schema.overrides.c.id == may.act_id))
    assert (row.subject_id, row.owner, row.start, row.end) == (subject, "police", MAY_1, MAY_31)
    assert row.reason.startswith("enc1:")
    details = [e["detail"] for e in entries(app, "manual ownership override")]
    assert details == [
        "owner police from 2025-05-01 to 2025-05-31",
        "owner none from 2026-01-01 to open",
    ]
    assert entries(app, "manual ownership override")[0]["refs"] == sorted(
        [f"override:{may.act_id}", f"subject:{subject}"]
    )
    history = [
        (e.act, e.act_id, e.operator, e.reason, e.detail)
        for e in subject_report(app.ledger, subject).history
    ]
    assert history == [
        (
            "assign",
            may.act_id,
            "jsmith",
            ACTOR.reason,
            "owner police from 2025-05-01 to 2025-05-31",
        ),
        (
            "assign",
            open_ended.act_id,
            "asmith",
            "moved abroad",
            "owner none from 2026-01-01 to open",
        ),
    ]


def test_an_override_s_preview_says_which_overlapping_overrides_still_hold_and_where(
    app: App,
) -> None:
    """Another operator's narrower override starting later keeps its days; an earlier one
    gives way where the two overlap, and the operator is told both."""
    subject = subject_of(app, OWNED_PROBATION)
    june, june_10, june_20, june_30 = (date(2025, 6, day) for day in (1, 10, 20, 30))
    wide = assign(app, AssignRequest(subject, Owner.POLICE, MAY_1, june_30), ACTOR, apply=True)
    narrow = AssignRequest(subject, Owner.PROBATION, june_10, june_20)
    narrowed = assign(app, narrow, Actor("asmith", "agreed"), apply=True)
    alone = assign(app, AssignRequest(subject, Owner.NONE, date(2026, 1, 1)), ACTOR, apply=False)
    assert alone.preview.notes == ()

    outcome = assign(
        app, AssignRequest(subject, Owner.NONE, june, date(2025, 6, 25)), ACTOR, apply=False
    )

    assert outcome.preview.notes == (
        f"This override takes the place of override {wide.act_id} "
        "(police from 2025-05-01 to 2025-06-30) from 2025-06-01 to 2025-06-09 "
        "and from 2025-06-21 to 2025-06-25.",
        f"Override {narrowed.act_id} (probation from 2025-06-10 to 2025-06-20) "
        "starts later, so it still holds from 2025-06-10 to 2025-06-20.",
    )


def test_an_override_s_preview_names_only_the_override_that_held_the_days_it_takes(
    app: App,
) -> None:
    """A wide override already gave way to a narrower one starting later: a third taking
    the narrower one's last days takes nothing from the wide one, and says so."""
    subject = subject_of(app, OWNED_PROBATION)
    year = (date(2024, 1, 1), date(2024, 12, 31))
    wide = assign(app, AssignRequest(subject, Owner.POLICE, *year), ACTOR, apply=True)
    later = AssignRequest(subject, Owner.PROBATION, date(2024, 3, 1), year[1])
    narrower = assign(app, later, ACTOR, apply=True)

    last = AssignRequest(subject, Owner.NONE, date(2024, 6, 1), year[1])
    outcome = assign(app, last, ACTOR, apply=False)

    assert outcome.preview.notes == (
        f"This override takes the place of override {narrower.act_id} "
        "(probation from 2024-03-01 to 2024-12-31) from 2024-06-01 to 2024-12-31.",
    )
    assert wide.act_id is not None


def test_a_revocation_is_previewed_by_its_override_then_stamped_and_shown(app: App) -> None:
    subject = subject_of(app, OWNED_PROBATION)
    before = segments(app, subject)
    made = assign(app, AssignRequest(subject, Owner.POLICE, MAY_1, MAY_31), ACTOR, apply=True)
    override = made.act_id
    assert override is not None
    preview = revoke(app, override, ACTOR, apply=False)
    assert (preview.act_id, preview.applied) == (override, False)
    assert preview.preview.flags_raised == (NON_OWNER_FLAG,)
    assert {(n.after_owner, n.after_rule) for n in preview.preview.notices} == {
        ("probation", "PROB-SEXUAL")
    }
    withdrawer = Actor("asmith", "entered in error")
    revoke(app, override, withdrawer, apply=True)
    assert segments(app, subject) == before
    row = one_row(app, select(schema.overrides))
    assert row.revoked_by == "asmith"
    [entry] = entries(app, "revocation of a manual ownership override")
    assert entry["refs"] == sorted([f"override:{override}", f"subject:{subject}"])
    revoked = [e for e in subject_report(app.ledger, subject).history if e.act == "revoke"]
    assert [(e.act_id, e.operator, e.reason) for e in revoked] == [
        (override, "asmith", "entered in error")
    ]
    with pytest.raises(UsageError, match="already revoked"):
        revoke(app, override, ACTOR, apply=False)


@pytest.mark.parametrize(
    ("subject_id", "start", "end", "message"),
    [
        (None, date(2025, 6, 2), date(2025, 6, 1), "is after its end"),
        ("S0000000000000000", MAY_1, MAY_31, "is not a current subject"),
    ],
)
def test_an_override_with_a_reversed_range_or_an_unknown_subject_is_refused(
    app: App, subject_id: str | None, start: date, end: date, message: str
) -> None:
    subject = subject_id or subject_of(app, OWNED_PROBATION)
    with pytest.raises(UsageError, match=message):
        assign(app, AssignRequest(subject, Owner.POLICE, start, end), ACTOR, apply=False)


def test_an_override_of_one_day_is_taken(app: App) -> None:
    subject = subject_of(app, OWNED_PROBATION)
    one_day = AssignRequest(subject, Owner.POLICE, MAY_1, MAY_1)
    preview = assign(app, one_day, ACTOR, apply=False).preview
    assert {(n.start, n.end, n.after_owner, n.after_rule) for n in preview.notices} == {
        (MAY_1, MAY_1, "police", "MANUAL")
    }
    [after] = preview.after
    manual = [segment for segment in after.timeline if segment.rule == "MANUAL"]
    assert [(segment.start, segment.end) for segment in manual] == [(MAY_1, MAY_1)]


# The subject report


def test_the_subject_report_shows_records_in_order_with_their_details_and_timeline(
    app: App,
) -> None:
    subject = subject_of(app, OWNED_POLICE)
    resolve(app, NON_OWNER_FLAG, ACTOR)
    link(app, OWNED_PROBATION, OWNED_POLICE, Actor("asmith", "same person"), apply=True)
    report = subject_report(app.ledger, subject)
    assert report.records == [OWNED_POLICE, OWNED_PROBATION]
    assert report.persons[OWNED_PROBATION]["forenames"] == "OWNED"
    assert report.persons[OWNED_PROBATION]["cro"] == ""
    assert report.persons[OWNED_POLICE]["gender"] == "M"
    assert [(s["from"], s["to"], s["owner"], s["rule"]) for s in report.timeline] == [
        tuple(row) for row in segments(app, subject)
    ]
    assert report.timeline[-2]["mandatory"] is True
    assert report.timeline[0]["mandatory"] is False
    assert [(f["key"], f["state"]) for f in report.flags] == [(NON_OWNER_FLAG, "resolved")]
    assert [(e.act, e.operator, e.reason, e.detail) for e in report.history] == [
        ("resolve", "jsmith", ACTOR.reason, NON_OWNER_FLAG),
        ("link", "asmith", "same person", "police:LAN-50 and probation:X500001"),
    ]


def test_the_subject_report_lists_flags_in_the_order_they_were_first_seen(
    app: App, tmp_path: Path
) -> None:
    run(app, tmp_path / "later", with_later_assessment=True)
    report = subject_report(app.ledger, subject_of(app, OWNED_POLICE))
    assert [f["key"] for f in report.flags] == [NON_OWNER_FLAG, "assessed_by_non_owner|police|LA-4"]


def test_the_subject_report_refuses_an_unknown_subject(app: App) -> None:
    with pytest.raises(UsageError, match="is not a current subject"):
        subject_report(app.ledger, "S0000000000000000")
