"""A subject id that no longer exists points the operator to the subjects now holding its
records, on both databases, through the real CLI: `reconcile show` and `reconcile assign`
given an id whose records were split by new data, merged by a new PNC, by an operator's
link or by an agency's merge record, moved twice, or all deleted; an id that never
existed keeps its message; a ledger upgraded in place keeps track from its first pass."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from sync.ledger.location import parse_ledger_url
from sync.ledger.migrate import alembic_config
from tests.conftest import run_cli
from tests.e2e.cli_ledger import refusal
from tests.feed_records import (
    Record,
    deleted_person,
    merge,
    person,
    run_args,
    write_feeds,
)

pytestmark = pytest.mark.e2e
OPERATOR = {"ARMS_SYNC_OPERATOR": "jsmith"}
REASON = ("--reason", "agreed at the MAPPA meeting")
LATER, LATEST, LAST = "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"
UNKNOWN = "S0000000000000000"
# Fictitious people, each with their own name, birth date and PNC.
PEOPLE = {
    "kestrel": ("KESTREL", "ADAM", "1971-03-04", "1985/0000021Q"),
    "heron": ("HERON", "BRIAN", "1962-07-08", "1985/0000022R"),
    "plover": ("PLOVER", "CARL", "1980-11-12", "1985/0000023T"),
    "curlew": ("CURLEW", "DAVID", "1955-05-06", "1985/0000024U"),
}


def as_person(ref: str, who: str, updated_at: str = LATER) -> Record:
    """The person record `agency:id` describing one of PEOPLE (their PNC included)."""
    agency, pid = ref.split(":")
    surname, forenames, born, pnc = PEOPLE[who]
    return person(
        agency,
        pid,
        surname=surname,
        forenames=forenames,
        date_of_birth=born,
        pnc=pnc,
        updated_at=updated_at,
    )


HERON_AND_PLOVER = (
    ("probation:X100002", "heron"),
    ("police:P-2", "heron"),
    ("probation:X100003", "plover"),
    ("police:P-3", "plover"),
)
PLOVER_REFS = ("probation:X100003", "probation:X100004", "police:P-3", "police:P-4")


@dataclass(frozen=True)
class CliLedger:
    """One ledger (SQLite or PostgreSQL) and a working folder, driven through the CLI."""

    url: str
    folder: Path

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`arms-sync --db URL ARGS` as the operator jsmith."""
        return run_cli("--db", self.url, *args, cwd=self.folder, env=OPERATOR, check=check)

    def run(self, *records: Record) -> None:
        """One run over feeds holding these records (each in its agency's feed)."""
        probation = [r for r in records if r["agency"] == "probation"]
        police = [r for r in records if r["agency"] == "police"]
        self.cli(*run_args(*write_feeds(self.folder, probation, police)))

    def subjects(self) -> dict[str, str]:
        """`agency:id` to subject id, from `export links`."""
        lines = self.cli("export", "links").stdout.splitlines()
        return {
            f"{record['agency']}:{record['person_id']}": line["subject_id"]
            for line in map(json.loads, lines)
            for record in line["records"]
        }

    def show(self, subject_id: str) -> subprocess.CompletedProcess[str]:
        """`reconcile show SUBJECT`, whatever its outcome."""
        return self.cli("reconcile", "show", subject_id, check=False)

    def refused_show(self, subject_id: str) -> str:
        """The one-line refusal of `reconcile show SUBJECT`."""
        return refusal(self.show(subject_id))

    def assign(self, subject_id: str) -> subprocess.CompletedProcess[str]:
        """`reconcile assign SUBJECT --apply` (police, June 2025), whatever its outcome."""
        period = ("--from", "2025-06-01", "--to", "2025-06-30")
        return self.cli(
            "reconcile", "assign", subject_id, "--owner", "police", *period, *REASON, "--apply",
            check=False,
        )  # fmt: skip


@pytest.fixture
def ledger(ledger_url: str, tmp_path: Path) -> CliLedger:
    return CliLedger(ledger_url, tmp_path)


def moved(old: str, new: str) -> str:
    return (
        f"Error: Subject {old} no longer exists: its records are now in subject {new}; use that id."
    )


def split(old: str, first: str, second: str) -> str:
    return (
        f"Error: Subject {old} no longer exists: "
        f"its records are now in subjects {first} and {second}; use those ids."
    )


def test_a_subject_split_by_new_data_names_both_subjects_and_an_unknown_id_is_unknown(
    ledger: CliLedger,
) -> None:
    others = [as_person(ref, who) for ref, who in HERON_AND_PLOVER]
    ledger.run(
        as_person("probation:X100001", "kestrel"), as_person("police:P-1", "kestrel"), *others
    )
    before = ledger.subjects()
    gone, heron, plover = before["police:P-1"], before["police:P-2"], before["police:P-3"]
    assert before["probation:X100001"] == gone

    # Both records of the kestrel's subject are corrected: each is someone else.
    ledger.run(
        as_person("probation:X100001", "plover", LATEST),
        as_person("police:P-1", "heron", LATEST),
        *others,
    )
    after = ledger.subjects()
    assert (after["police:P-1"], after["probation:X100001"]) == (heron, plover)
    assert gone not in after.values()
    # One record each: the subject holding the smaller record (police:P-1) comes first.
    assert ledger.refused_show(gone) == split(gone, heron, plover)
    assert ledger.refused_show(UNKNOWN) == (
        f"Error: Subject {UNKNOWN} is not a current subject in the ledger."
    )
    # Text typed by mistake (a name and a date of birth) is not repeated.
    assert ledger.refused_show("QUILLFEATHER Ottoline 1961-02-03") == (
        "Error: The subject given is not a current subject in the ledger."
    )


def test_an_operator_link_merges_then_an_unlink_splits_and_acts_on_the_old_id_are_refused(
    ledger: CliLedger,
) -> None:
    kestrel = [as_person(ref, "kestrel") for ref in ("probation:X100001", "police:P-1")]
    heron = [
        as_person(ref, "heron") for ref in ("probation:X100002", "probation:X100003", "police:P-2")
    ]
    ledger.run(*kestrel, *heron)
    before = ledger.subjects()
    gone, kept = before["police:P-1"], before["police:P-2"]
    ledger.cli("reconcile", "link", "police:P-1", "police:P-2", *REASON, "--apply")
    assert set(ledger.subjects().values()) == {kept}  # three records beat two
    assert ledger.refused_show(gone) == moved(gone, kept)
    timeline = ledger.cli("export", "timeline").stdout
    assert refusal(ledger.assign(gone)) == moved(gone, kept)
    assert ledger.cli("export", "timeline").stdout == timeline
    assert "assign OVR-" not in ledger.show(kept).stdout

    ledger.cli("reconcile", "unlink", "probation:X100001", "police:P-1", *REASON, "--apply")
    after = ledger.subjects()
    assert after["police:P-1"] == kept
    assert after["probation:X100001"] not in (gone, kept)
    assert ledger.refused_show(gone) == split(gone, kept, after["probation:X100001"])


def test_a_subject_merged_by_a_new_pnc_or_a_merge_record_names_the_subject_it_joined(
    ledger: CliLedger,
) -> None:
    heron = [as_person(ref, "heron") for ref in ("probation:X100002", "probation:X100003")]
    curlew = [as_person(ref, "curlew") for ref in ("police:P-4", "police:P-5")]
    plover = as_person("police:P-6", "plover")
    ledger.run(as_person("probation:X100001", "kestrel"), *heron, *curlew, plover)
    before = ledger.subjects()
    by_pnc, by_merge = before["probation:X100001"], before["police:P-6"]
    herons, curlews = before["probation:X100002"], before["police:P-4"]

    # X100001 is sent again as the heron (their PNC), and the police merge P-6 into P-4.
    ledger.run(
        as_person("probation:X100001", "heron", LATEST),
        *heron,
        *curlew,
        plover,
        merge("police", "M-1", "P-6", "P-4"),
    )
    after = ledger.subjects()
    assert (after["probation:X100001"], after["police:P-6"]) == (herons, curlews)
    assert ledger.refused_show(by_pnc) == moved(by_pnc, herons)
    assert ledger.refused_show(by_merge) == moved(by_merge, curlews)
    assert refusal(ledger.assign(by_merge)) == moved(by_merge, curlews)


def test_a_person_keeps_its_subject_id_when_its_merge_target_arrives_in_a_later_run(
    ledger: CliLedger,
) -> None:
    source = as_person("probation:X100001", "kestrel")
    merged = merge("probation", "M-1", "X100001", "X100002")
    ledger.run(source, merged)  # the merge's target is not known yet
    before = ledger.subjects()["probation:X100001"]

    ledger.run(source, merged, as_person("probation:X100002", "kestrel"))
    assert set(ledger.subjects().values()) == {before}  # one subject, holding both records


def test_two_re_links_in_a_row_lead_to_the_last_subject(ledger: CliLedger) -> None:
    heron_refs = ("probation:X100002", "police:P-2")
    plover = [as_person(ref, "plover") for ref in PLOVER_REFS]
    ledger.run(
        as_person("probation:X100001", "kestrel"),
        *(as_person(r, "heron") for r in heron_refs),
        *plover,
    )
    first = ledger.subjects()
    oldest, middle, last = first["probation:X100001"], first["police:P-2"], first["police:P-3"]

    # The kestrel's record turns out to be the heron's: two records beat one.
    ledger.run(
        *(as_person(r, "heron", LATEST) for r in ("probation:X100001", *heron_refs)), *plover
    )
    assert ledger.subjects()["probation:X100001"] == middle
    assert ledger.refused_show(oldest) == moved(oldest, middle)

    # The heron's three records turn out to be the plover's: four records beat three.
    ledger.run(*(as_person(r, "plover", LAST) for r in ("probation:X100001", *heron_refs)), *plover)
    assert set(ledger.subjects().values()) == {last}
    assert ledger.refused_show(oldest) == moved(oldest, last)
    assert ledger.refused_show(middle) == moved(middle, last)


def test_a_subject_whose_records_were_all_deleted_says_so(ledger: CliLedger) -> None:
    kept = as_person("probation:X100002", "heron")
    ledger.run(as_person("probation:X100001", "kestrel"), kept)
    gone = ledger.subjects()["probation:X100001"]
    ledger.run(deleted_person("probation", "X100001", LATEST), kept)
    assert ledger.refused_show(gone) == (
        f"Error: Subject {gone} no longer exists: its records were all deleted by their agencies."
    )
    assert refusal(ledger.assign(gone)).startswith(f"Error: Subject {gone} no longer exists:")


def downgrade_to_0004(url: str) -> None:
    """Take the ledger back to revision 0004, before former members were kept."""
    engine = create_engine(parse_ledger_url(url))
    try:
        command.downgrade(alembic_config(engine), "0004")
    finally:
        engine.dispose()


def test_a_ledger_upgraded_in_place_points_from_its_first_pass(ledger: CliLedger) -> None:
    heron = [as_person(ref, "heron") for ref in ("probation:X100002", "police:P-2")]
    ledger.run(as_person("probation:X100001", "kestrel"), *heron)
    before = ledger.subjects()
    gone, kept = before["probation:X100001"], before["police:P-2"]
    downgrade_to_0004(ledger.url)

    ledger.run(as_person("probation:X100001", "heron", LATEST), *heron)  # upgrades first
    assert ledger.refused_show(gone) == moved(gone, kept)

    # An id that vanished before the ledger kept former members cannot be followed.
    downgrade_to_0004(ledger.url)
    assert ledger.refused_show(gone) == (
        f"Error: Subject {gone} no longer exists: it was re-linked before the ledger kept "
        "where a subject's records go, so `arms-sync export links` is the way to find them."
    )
