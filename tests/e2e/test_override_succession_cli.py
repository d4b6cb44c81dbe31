"""An override survives its subject being linked into another, as an operator sees it:
`run`, `reconcile assign --apply`, a run that links the subject into another (whose id
is kept), the timeline export, a later run, `reconcile show` and `reconcile revoke`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_reconcile_cli import AS_OF, OPERATOR, REASON, act_id, arms_sync, subjects
from tests.integration.test_override_moves import write_succession_feeds

pytestmark = pytest.mark.e2e
MANUAL_2020 = {
    "from": "2020-01-01",
    "to": "2020-12-31",
    "owner": "probation",
    "rule": "MANUAL",
    "mandatory": True,
    "policy": "pi-15-2015",
}


def run(folder: Path, *, linked: bool) -> None:
    probation, police = write_succession_feeds(folder, linked=linked)
    feeds = ("--probation-feed", str(probation), "--police-feed", str(police))
    arms_sync("run", *feeds, "--as-of", AS_OF, cwd=folder)


def timeline_of(folder: Path, subject_id: str) -> list[dict[str, object]]:
    lines = arms_sync("export", "timeline", cwd=folder).stdout.splitlines()
    [found] = [line for line in map(json.loads, lines) if line["subject_id"] == subject_id]
    return list(found["segments"])


def test_an_override_follows_its_subject_into_the_subject_its_records_joined(
    tmp_path: Path,
) -> None:
    run(tmp_path, linked=False)
    apart = subjects(tmp_path)
    # One record each: the linked subject keeps the smaller id (subject ids are keyed
    # per ledger), and the override is made on the subject whose id will vanish.
    kept, vanished = sorted((apart["P6"], apart["X600001"]))
    assigned = arms_sync(
        "reconcile",
        "assign",
        vanished,
        "--owner",
        "probation",
        "--from",
        "2020-01-01",
        "--to",
        "2020-12-31",
        *REASON,
        "--apply",
        cwd=tmp_path,
        env=OPERATOR,
    )
    override = act_id(assigned.stdout)

    run(tmp_path, linked=True)
    assert subjects(tmp_path) == {"P6": kept, "X600001": kept}
    assert MANUAL_2020 in timeline_of(tmp_path, kept)
    run(tmp_path, linked=True)  # a third run keeps it
    assert MANUAL_2020 in timeline_of(tmp_path, kept)

    shown = arms_sync("reconcile", "show", kept, cwd=tmp_path, env=OPERATOR).stdout
    acts = shown.split("Manual acts:")[1]
    assert f"assign {override}" in acts
    assert f"move {override} by service:decide: from subject {vanished} to subject {kept}" in acts
    revoked = arms_sync(
        "reconcile", "revoke", override, *REASON, "--apply", cwd=tmp_path, env=OPERATOR
    ).stdout
    assert "changes no subject" not in revoked
    assert "owner becomes police (POLICE-REGISTERED), was probation (MANUAL)" in revoked
    assert MANUAL_2020 not in timeline_of(tmp_path, kept)
    assert "audit log is intact" in arms_sync("audit", "verify", cwd=tmp_path).stdout
