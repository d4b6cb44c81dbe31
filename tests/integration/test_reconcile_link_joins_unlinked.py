"""A link that brings together two records an operator unlinked says so in its preview.

An unlink forbids only the direct edge between its two records (`docs/audit.md`),
so a later link elsewhere can join them again through other records. The
operator who links is told, naming the unlinked pair, before anything applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.core.records import Agency, RecordRef
from sync.cycle import run_cycle
from sync.reconcile.acts import Actor
from sync.reconcile.links import link, unlink
from sync.reconcile.render import outcome_lines
from sync.settings import Settings
from tests.feed_records import merge, person, write_sources

pytestmark = pytest.mark.integration
AS_OF = date(2026, 11, 28)
ACTOR = Actor("jsmith", "checked at the MAPPA meeting")
PNC = "2002/0073319Z"
PROBATION = RecordRef(Agency.PROBATION, "X100001")
POLICE = RecordRef(Agency.POLICE, "LAN-1")
OTHER_POLICE = RecordRef(Agency.POLICE, "LAN-2")
NOTE = (
    "An operator unlinked police:LAN-1 and probation:X100001; with this link they are in "
    "one subject through other links (an unlink keeps only their direct link apart)."
)

LIFTED = (
    "An operator unlinked police:LAN-1 and probation:X100001; this link names the same "
    "people (one of the records has since been merged by its agency), so it lifts that unlink."
)


def first_feeds() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Probation's record and the police's with one PNC, and a second police record."""
    probation = [person("probation", PROBATION.person_id, pnc=PNC)]
    police = [
        person("police", POLICE.person_id, pnc=PNC),
        person(
            "police",
            OTHER_POLICE.person_id,
            surname="DIFFERENT",
            forenames="ENTIRELY",
            date_of_birth="1988-07-09",
        ),
    ]
    return probation, police


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """A ledger where the operator unlinked the two records one PNC had joined, and
    linked the police record with a second police record."""
    application = App(Settings(database_url=ledger_url))
    probation, police = first_feeds()
    run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
    unlink(application, PROBATION, POLICE, ACTOR, apply=True)
    link(application, POLICE, OTHER_POLICE, ACTOR, apply=True)
    yield application
    application.close()


def test_a_link_that_joins_an_unlinked_pair_through_other_records_says_so(app: App) -> None:
    outcome = link(app, PROBATION, OTHER_POLICE, ACTOR, apply=False)
    assert outcome.preview.notes == (NOTE,)
    assert outcome_lines(outcome, "link", sends_notices=False)[-1] == NOTE


def test_a_link_that_leaves_unlinked_records_apart_says_nothing_of_them(app: App) -> None:
    """The police pair is unlinked and linked again (the same link twice running is
    refused): probation's record stays apart, so nothing is said of its unlink."""
    unlink(app, POLICE, OTHER_POLICE, ACTOR, apply=True)
    outcome = link(app, POLICE, OTHER_POLICE, ACTOR, apply=False)
    assert outcome.preview.notes == ()


def test_relinking_the_unlinked_pair_itself_says_nothing_of_an_unlink(app: App) -> None:
    """Linking the very pair an operator unlinked lifts that unlink: no pair stays unlinked."""
    outcome = link(app, PROBATION, POLICE, ACTOR, apply=False)
    assert outcome.preview.notes == ()


def test_an_unlink_that_leaves_its_pair_joined_through_another_record_is_not_told_as_a_link(
    ledger_url: str, tmp_path: Path
) -> None:
    """Three records one PNC joins: unlinking two of them keeps them in one subject through
    the third, and the preview of that unlink never speaks of "this link"."""
    application = App(Settings(database_url=ledger_url))
    try:
        probation = [person("probation", PROBATION.person_id, pnc=PNC)]
        police = [
            person("police", POLICE.person_id, pnc=PNC),
            person("police", OTHER_POLICE.person_id, pnc=PNC),
        ]
        run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
        outcome = unlink(application, PROBATION, POLICE, ACTOR, apply=False)
        assert not any("with this link" in note for note in outcome.preview.notes)
    finally:
        application.close()


PROBATION_TARGET = RecordRef(Agency.PROBATION, "X100002")
POLICE_TARGET = RecordRef(Agency.POLICE, "LAN-3")


def _merged_away(agency: str, source: str, target: str) -> list[dict[str, object]]:
    """The agency's merge of `source` into a person of its own with nothing in common."""
    someone_else = person(
        agency, target, surname="OTHER", forenames="QUITE", date_of_birth="1979-02-03"
    )
    return [someone_else, merge(agency, "M-1", source, target)]


@pytest.mark.parametrize(
    ("merging", "first", "second"),
    [
        (Agency.PROBATION, PROBATION_TARGET, OTHER_POLICE),
        (Agency.POLICE, PROBATION, POLICE_TARGET),
        (Agency.PROBATION, PROBATION, OTHER_POLICE),
    ],
    ids=["probation-merged-its-record", "police-merged-its-record", "linking-the-merged-record"],
)
def test_a_link_that_joins_an_unlinked_record_its_agency_merged_away_says_so(
    app: App, tmp_path: Path, merging: Agency, first: RecordRef, second: RecordRef
) -> None:
    """An agency later merged one of the unlinked records into another of its people: a
    link bringing that person's subject and the other record's together joins the
    unlinked pair through the merge, and the preview says so. The link is the later
    act, so it stands even where it names the very pair the unlink now means; then it
    lifts the unlink, and the preview says that instead."""
    probation, police = first_feeds()
    if merging is Agency.PROBATION:
        probation += _merged_away("probation", PROBATION.person_id, PROBATION_TARGET.person_id)
    else:
        police += _merged_away("police", POLICE.person_id, POLICE_TARGET.person_id)
    run_cycle(app, write_sources(tmp_path, probation, police), AS_OF)

    outcome = link(app, first, second, ACTOR, apply=False)

    live = {PROBATION: PROBATION_TARGET} if merging is Agency.PROBATION else {}
    joined = {live.get(first, first), second}
    assert any(joined <= set(view.members) for view in outcome.preview.after)
    names_the_unlinked_people = first == PROBATION and second == POLICE_TARGET
    assert outcome.preview.notes == ((LIFTED,) if names_the_unlinked_people else (NOTE,))


def test_a_link_that_joins_several_unlinked_pairs_names_each_in_pair_order(
    ledger_url: str, tmp_path: Path
) -> None:
    """Two pairs unlinked (the later-named pair first) and both joined by one link: the
    preview names each pair once, in the order of the pairs, whatever the order of the
    unlinks."""
    application = App(Settings(database_url=ledger_url))
    try:
        probation, police = first_feeds()
        police.append(person("police", POLICE_TARGET.person_id, pnc=PNC))
        run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
        unlink(application, PROBATION, POLICE_TARGET, ACTOR, apply=True)
        unlink(application, PROBATION, POLICE, ACTOR, apply=True)
        link(application, POLICE, OTHER_POLICE, ACTOR, apply=True)

        outcome = link(application, PROBATION, OTHER_POLICE, ACTOR, apply=False)

        assert outcome.preview.notes == (NOTE, NOTE.replace("LAN-1", POLICE_TARGET.person_id))
    finally:
        application.close()


def test_an_unlink_a_later_link_lifted_through_a_merge_is_not_told_again(
    app: App, tmp_path: Path
) -> None:
    """Probation merged the unlinked record away, and an operator then linked its target
    with the police record: that later link stands for the same people, so a link elsewhere
    joins no unlinked pair."""
    probation, police = first_feeds()
    probation += _merged_away("probation", PROBATION.person_id, PROBATION_TARGET.person_id)
    run_cycle(app, write_sources(tmp_path, probation, police), AS_OF)
    lifting = link(app, PROBATION_TARGET, POLICE, ACTOR, apply=True)
    assert lifting.preview.notes == (LIFTED,)

    outcome = link(app, PROBATION_TARGET, OTHER_POLICE, ACTOR, apply=False)

    assert outcome.preview.notes == ()


def test_an_unlink_lifted_is_told_before_those_still_standing_whatever_their_pairs(
    ledger_url: str, tmp_path: Path
) -> None:
    """Probation's record unlinked from two police records sharing its PNC; the police
    then merged one of them away, and an operator linked the other with the merge's
    target. Linking probation's record with that target lifts the first unlink (the same
    people) and joins the second pair through the target: the lifted unlink is told
    first, though its pair comes later in pair order."""
    application = App(Settings(database_url=ledger_url))
    try:
        standing = RecordRef(Agency.POLICE, "LAN-0")
        probation, police = first_feeds()
        police.append(person("police", standing.person_id, pnc=PNC))
        run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
        unlink(application, PROBATION, POLICE, ACTOR, apply=True)
        unlink(application, PROBATION, standing, ACTOR, apply=True)
        police += _merged_away("police", POLICE.person_id, POLICE_TARGET.person_id)
        run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
        link(application, standing, POLICE_TARGET, ACTOR, apply=True)

        outcome = link(application, PROBATION, POLICE_TARGET, ACTOR, apply=False)

        assert outcome.preview.notes == (LIFTED, NOTE.replace("LAN-1", standing.person_id))
    finally:
        application.close()
