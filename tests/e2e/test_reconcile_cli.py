"""`arms-sync reconcile` as an operator runs it: previews, overrides, revocations, links,
unlinks, flag resolutions, and refusals that change nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import cast

import pytest

from tests.conftest import CLI
from tests.feed_records import person, run_args
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.e2e

AS_OF = "2026-11-28"
NO_NOTICES = "Ownership changes (no notices are sent: this deployment has no key directory):"
OPERATOR = {"ARMS_SYNC_OPERATOR": "jsmith"}
REASON = ("--reason", "agreed at the MAPPA meeting")


def arms_sync(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `arms-sync` in a separate process, without any operator from the environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ARMS_SYNC_")}
    result = subprocess.run(
        [*CLI, *args],
        check=False,
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        pytest.fail(f"arms-sync {args[0]} exited {result.returncode}: {result.stderr[-300:]}")
    return result


def synced(folder: Path) -> Path:
    """A ledger in `folder` after one run of the test feeds."""
    arms_sync(*run_args(*write_feeds(folder), AS_OF), cwd=folder)
    return folder


def subjects(folder: Path) -> dict[str, str]:
    """Person id to subject id, from `export links`."""
    lines = arms_sync("export", "links", cwd=folder).stdout.splitlines()
    return {
        record["person_id"]: line["subject_id"]
        for line in map(json.loads, lines)
        for record in line["records"]
    }


def owner_on(folder: Path, day: str, person_id: str) -> tuple[str, str]:
    """The owner and rule of a person's subject on a day."""
    lines = arms_sync("export", "ownership", "--as-of", day, cwd=folder).stdout.splitlines()
    for line in map(json.loads, lines):
        if any(r["person_id"] == person_id for r in line["records"]):
            return line["owner"], line["rule"]
    raise AssertionError("person not exported")


def act_id(output: str) -> str:
    """The act id from an `Applied …` line."""
    first = output.splitlines()[0].split()
    return first[2].rstrip(";")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after one run of the test feeds (made once)."""
    return synced(tmp_path_factory.mktemp("reconcile-ledger"))


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger, with its key file and feeds."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


def _assign(ledger: Path, *extra: str, owner: str = "police") -> subprocess.CompletedProcess[str]:
    subject = subjects(ledger)["P100001"]
    return arms_sync(
        "reconcile",
        "assign",
        subject,
        "--owner",
        owner,
        "--from",
        "2025-06-01",
        "--to",
        "2025-06-30",
        *REASON,
        *extra,
        cwd=ledger,
        env=OPERATOR,
    )


def test_a_preview_changes_nothing(ledger: Path) -> None:
    """It takes the owner in any case, as an operator may type it."""
    before = arms_sync("export", "timeline", cwd=ledger).stdout
    output = _assign(ledger, owner="POLICE").stdout
    assert output.startswith("Preview of override")
    assert NO_NOTICES in output  # the test deployment has no key directory
    assert "owner becomes police (MANUAL), was probation (PROB-SEXUAL)" in output
    assert arms_sync("export", "timeline", cwd=ledger).stdout == before


def test_an_override_changes_the_owner_timeline_and_notices_and_survives_runs(
    ledger: Path,
) -> None:
    output = _assign(ledger, "--apply").stdout
    assert output.startswith("Applied override OVR-")
    notices = output.split(NO_NOTICES)[1]
    assert "to probation about probation:P100001: from 2025-06-01 to 2025-06-30" in notices
    assert "to police about police:LAN-1: from 2025-06-01 to 2025-06-30" in notices
    assert owner_on(ledger, "2025-06-15", "P100001") == ("police", "MANUAL")
    assert owner_on(ledger, "2025-07-01", "P100001") == ("probation", "PROB-SEXUAL")
    probation, police = write_feeds(ledger)
    text = probation.read_text().replace('"end": "2027-02-28"', '"end": "2027-03-31"')
    probation.write_text(text.replace("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"))
    arms_sync(*run_args(probation, police, AS_OF), cwd=ledger)
    assert owner_on(ledger, "2025-06-15", "P100001") == ("police", "MANUAL")


def test_revoking_an_override_restores_the_rules(ledger: Path) -> None:
    override = act_id(_assign(ledger, "--apply").stdout)
    preview = arms_sync(
        "reconcile", "revoke", f" {override.lower()}", *REASON, cwd=ledger, env=OPERATOR
    )
    assert preview.stdout.startswith(f"Preview of revocation {override}:")
    assert owner_on(ledger, "2025-06-15", "P100001") == ("police", "MANUAL")
    done = arms_sync("reconcile", "revoke", override, *REASON, "--apply", cwd=ledger, env=OPERATOR)
    assert "owner becomes probation (PROB-SEXUAL), was police (MANUAL)" in done.stdout
    assert owner_on(ledger, "2025-06-15", "P100001") == ("probation", "PROB-SEXUAL")
    again = arms_sync(
        "reconcile", "revoke", override, *REASON, cwd=ledger, env=OPERATOR, check=False
    )
    assert again.returncode == 2
    assert re.fullmatch(
        rf"Error: Override {override} is already revoked \(by jsmith on \d{{4}}-\d\d-\d\d\); "
        r"nothing to do\.\n",
        again.stderr,
    )


def test_link_and_unlink_change_subjects(ledger: Path) -> None:
    before = subjects(ledger)
    assert before["P100002"] != before["LAN-2"]
    pair = ("probation:P100002", "police:LAN-2")
    linked = arms_sync("reconcile", "link", *pair, *REASON, "--apply", cwd=ledger, env=OPERATOR)
    assert (
        "to police about police:LAN-2: from 2024-01-01 to 2024-12-31 the owner becomes "
        "probation (PROB-SEXUAL)" in linked.stdout
    )
    after = subjects(ledger)
    assert after["P100002"] == after["LAN-2"]
    links = arms_sync("export", "links", cwd=ledger).stdout
    assert '"matched_by": "MANUAL"' in links
    assert owner_on(ledger, "2024-06-01", "LAN-2") == ("probation", "PROB-SEXUAL")
    not_revoked = arms_sync(
        "reconcile", "revoke", act_id(linked.stdout), *REASON, cwd=ledger, env=OPERATOR, check=False
    )
    assert not_revoked.returncode == 2
    assert not_revoked.stderr == (
        f"Error: {act_id(linked.stdout)} is a manual link, not an override: `arms-sync "
        "reconcile unlink` on the same two records undoes it (`reconcile show` names them).\n"
    )
    arms_sync("reconcile", "unlink", *pair, *REASON, "--apply", cwd=ledger, env=OPERATOR)
    split = subjects(ledger)
    assert split["P100002"] != split["LAN-2"]
    assert owner_on(ledger, "2024-06-01", "LAN-2") == ("police", "POLICE-REGISTERED")


def test_unlink_keeps_identifier_linked_records_apart_across_runs(ledger: Path) -> None:
    pair = ("probation:P100001", "police:LAN-1")
    arms_sync("reconcile", "unlink", *pair, *REASON, "--apply", cwd=ledger, env=OPERATOR)
    arms_sync(*run_args(*write_feeds(ledger), AS_OF), cwd=ledger)
    split = subjects(ledger)
    assert split["P100001"] != split["LAN-1"]


@pytest.mark.parametrize(
    ("args", "env", "sentence"),
    [
        (
            ("assign", "SUBJECT", "--owner", "police", "--from", "2025-01-01", *REASON),
            {},
            "An operator is required",
        ),
        (
            ("assign", "SUBJECT", "--owner", "police", "--from", "2025-01-01"),
            OPERATOR,
            "A reason is required",
        ),
        (
            ("assign", "S0000000000000000", "--owner", "police", "--from", "2025-01-01", *REASON),
            OPERATOR,
            "is not a current subject",
        ),
        (
            ("link", "probation:P999999", "police:LAN-1", *REASON),
            OPERATOR,
            "person record given is not in the ledger",
        ),
        (("unlink", "P100001", "police:LAN-1", *REASON), OPERATOR, "must be given as"),
        (("revoke", "OVR-UNKNOWN", *REASON), OPERATOR, "is not known"),
        (("resolve", "duplicate|S0|police|X", *REASON), OPERATOR, "not known to the ledger"),
        (("show", "S0000000000000000"), OPERATOR, "is not a current subject"),
        (("show", "SUBJECT"), {}, "An operator is required"),
    ],
)
def test_refusals_are_one_sentence_and_change_nothing(
    ledger: Path, args: tuple[str, ...], env: dict[str, str], sentence: str
) -> None:
    subject = subjects(ledger)["P100001"]
    argv = [subject if arg == "SUBJECT" else arg for arg in args]
    before = arms_sync("export", "timeline", cwd=ledger).stdout
    apply = ("--apply",) if args[0] in {"assign", "link", "unlink", "revoke"} else ()
    result = arms_sync("reconcile", *argv, *apply, cwd=ledger, env=env, check=False)
    assert result.returncode == 2
    assert sentence in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert arms_sync("export", "timeline", cwd=ledger).stdout == before


def _flag_items(ledger: Path, *extra: str) -> list[dict[str, object]]:
    output = arms_sync("reconcile", "list", "--kind", "flag", "--json", *extra, cwd=ledger).stdout
    return [json.loads(line) for line in output.splitlines()]


def test_a_kind_of_flag_lists_those_flags_alone(ledger: Path) -> None:
    flags = _flag_items(ledger)
    kinds = {str(item["detail"]) for item in flags}
    assert len(kinds) > 1
    for kind in kinds:
        listed = arms_sync("reconcile", "list", "--kind", kind, "--json", cwd=ledger).stdout
        assert [json.loads(line) for line in listed.splitlines()] == [
            item for item in flags if item["detail"] == kind
        ]


def test_a_subject_s_items_are_those_about_it_alone(ledger: Path) -> None:
    everything = [
        json.loads(line)
        for line in arms_sync("reconcile", "list", "--json", cwd=ledger).stdout.splitlines()
    ]
    subjects_with_items = {item["subject_id"] for item in everything} - {None}
    subject = str(min(subjects_with_items))
    listed = arms_sync(
        "reconcile", "list", "--subject", subject.lower(), "--json", cwd=ledger
    ).stdout.splitlines()
    records_by_subject = _records_by_subject(ledger)
    named = {record.replace(":", "/") for record in records_by_subject[subject]}
    expected = [
        item
        for item in everything
        if item["subject_id"] == subject
        or (item["subject_id"] is None and named & set(item["refs"]))
    ]
    assert expected
    assert [json.loads(line) for line in listed] == expected
    without = min(records_by_subject.keys() - subjects_with_items)
    nothing = arms_sync("reconcile", "list", "--subject", without, cwd=ledger).stdout
    assert nothing == "0 items\n"
    unknown = arms_sync(
        "reconcile", "list", "--subject", "S0000000000000000", cwd=ledger, check=False
    )
    assert unknown.returncode == 2
    assert "Subject S0000000000000000 is not a current subject" in unknown.stderr


def _records_by_subject(ledger: Path) -> dict[str, set[str]]:
    """Each subject's person records as `agency:ID`, from `export links`."""
    lines = arms_sync("export", "links", cwd=ledger).stdout.splitlines()
    return {
        str(line["subject_id"]): {f"{r['agency']}:{r['person_id']}" for r in line["records"]}
        for line in map(json.loads, lines)
    }


def test_resolve_and_reopen_a_flag(ledger: Path) -> None:
    items = _flag_items(ledger)
    assert items
    assert [i["opened"] for i in items] == sorted(cast(str, i["opened"]) for i in items)
    key = str(items[0]["key"])
    arms_sync("reconcile", "resolve", key, *REASON, cwd=ledger, env=OPERATOR)
    assert key not in {i["key"] for i in _flag_items(ledger)}
    resolved = {i["key"]: i["state"] for i in _flag_items(ledger, "--all")}
    assert resolved[key] == "resolved"
    again = arms_sync("reconcile", "resolve", key, *REASON, cwd=ledger, env=OPERATOR, check=False)
    assert again.returncode == 2
    assert re.fullmatch(
        r"Error: The flag given is already resolved \(by jsmith on \d{4}-\d\d-\d\d\)\.",
        again.stderr.strip(),
    )
    arms_sync(*run_args(*write_feeds(ledger), AS_OF), cwd=ledger)
    assert key not in {i["key"] for i in _flag_items(ledger)}
    arms_sync("reconcile", "reopen", key, *REASON, cwd=ledger, env=OPERATOR)
    assert key in {i["key"] for i in _flag_items(ledger)}
    again = arms_sync("reconcile", "reopen", key, *REASON, cwd=ledger, env=OPERATOR, check=False)
    assert re.fullmatch(
        r"Error: The flag given is already open \(by jsmith on \d{4}-\d\d-\d\d\)\.",
        again.stderr.strip(),
    )


def test_show_puts_records_side_by_side_with_timeline_flags_and_history(ledger: Path) -> None:
    subject = subjects(ledger)["P100001"]
    _assign(ledger, "--apply")
    # Ids are taken as typed, in either case.
    output = arms_sync("reconcile", "show", subject.lower(), cwd=ledger, env=OPERATOR).stdout
    assert output.startswith(f"Subject {subject}\n")
    surname_line = next(line for line in output.splitlines() if line.startswith("surname"))
    assert surname_line.count("QUIXLEY") == 2
    assert "probation:P100001" in output
    assert "police:LAN-1" in output
    assert "MANUAL" in output.split("Timeline:")[1]
    facts = output.split("registrations and assessments:\n")[1].split("Timeline:")[0]
    assert [line.split()[:3] for line in facts.splitlines()] == [
        ["police:LAN-1", "registration", "LR-1:"],
        ["police:LAN-1", "assessment", "LA-1:"],
        ["probation:P100001", "supervision", "PS-1:"],
        ["probation:P100001", "assessment", "PA-1:"],
    ]
    assert "[open] duplicate" in output
    assert "assign OVR-" in output.split("Manual acts:")[1]


def test_a_flag_item_names_person_records_that_link_and_unlink_accept(ledger: Path) -> None:
    items = _flag_items(ledger)
    about_assessments = [item for item in items if str(item["key"]).count("|") == 2]
    assert about_assessments
    for item in about_assessments:
        agency = str(item["key"]).split("|")[1]
        refs = cast(list[str], item["refs"])
        assert refs
        assert all(ref.startswith(f"{agency}/") for ref in refs)
        assert not any(ref.endswith(str(item["key"]).split("|")[2]) for ref in refs)
    person = cast(list[str], about_assessments[0]["refs"])[0]
    preview = arms_sync(
        "reconcile",
        "unlink",
        person,
        "police:LAN-1",
        *REASON,
        cwd=ledger,
        env=OPERATOR,
        check=False,
    )
    assert "person record given is not in the ledger" not in preview.stderr


def _listed(ledger: Path, *extra: str) -> tuple[list[dict[str, object]], str]:
    """The items `reconcile list --json` gives with `extra`, and what it said on stderr."""
    result = arms_sync("reconcile", "list", "--json", *extra, cwd=ledger)
    return [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def _add_a_pair_to_review(ledger: Path) -> None:
    """Run the feeds again with two people one PNC joins whose surnames and dates of
    birth plainly disagree: a pair the matcher leaves to a person (a link review)."""
    shared = "2002/0073319Z"
    probation, police = write_feeds(ledger)
    for feed, record in (
        (probation, person("probation", "X700001", surname="ALPHA", pnc=shared)),
        (police, person("police", "P-7", surname="ZULU", date_of_birth="1990-07-08", pnc=shared)),
    ):
        with feed.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
    arms_sync(*run_args(probation, police, AS_OF), cwd=ledger)


def test_the_list_narrows_to_one_agency_s_records_or_one_area_s_flags(ledger: Path) -> None:
    """A force's or a region's manager lists its own items; items with no area (a link
    review spans two agencies) are counted, not listed, under an area."""
    _add_a_pair_to_review(ledger)
    every, _ = _listed(ledger)
    areas = sorted({str(item["area"]) for item in every if item["area"] is not None})
    assert areas
    assert {item["kind"] for item in every if item["area"] is None} == {"link-review"}
    for agency in ("probation", "police"):
        mine, _ = _listed(ledger, "--agency", agency)
        refs_of = [cast(list[str], item["refs"]) for item in every]
        assert mine == [
            item
            for item, refs in zip(every, refs_of, strict=True)
            if any(ref.startswith(f"{agency}/") for ref in refs)
        ]
    area = areas[0]
    in_area, said = _listed(ledger, "--area", f" {area.lower()} ")
    assert in_area == [item for item in every if item["area"] == area]
    no_area = sum(item["area"] is None for item in every)
    assert said.strip() == (
        f"{no_area} item{'s' if no_area > 1 else ''} with no area (link reviews, for one) "
        "not listed; leave out --area to see them."
    )
    _, warned = _listed(ledger, "--area", "NOWHERE")
    assert warned.startswith("Warning: no flag in the ledger is in area NOWHERE;")
