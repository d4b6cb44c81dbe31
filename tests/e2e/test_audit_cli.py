"""`arms-sync audit verify` and `audit export` as a user runs them: tampering with the
database is detected, and a run's export holds every kind that happened and no personal data."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from sync.audit.chain import Entry, recomputed_hash
from tests.e2e.test_reconcile_cli import OPERATOR, REASON, arms_sync, subjects, synced
from tests.integration.test_audit_log import personal_data_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after a run, two exports and a look at the review list (made once)."""
    folder = synced(tmp_path_factory.mktemp("audit-ledger"))
    arms_sync("export", "ownership", cwd=folder)
    arms_sync("export", "timeline", cwd=folder)
    arms_sync("reconcile", "list", cwd=folder)
    return folder


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger, its key file and feeds, to tamper with."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


def _tamper(folder: Path, *statements: str) -> None:
    with sqlite3.connect(folder / "arms-sync.db") as db:
        for statement in statements:
            db.execute(statement)


def _entry_count(folder: Path) -> int:
    with sqlite3.connect(folder / "arms-sync.db") as db:
        return int(db.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def _verify(folder: Path) -> tuple[int, str, str]:
    result = arms_sync("audit", "verify", cwd=folder, check=False)
    return result.returncode, result.stdout, result.stderr


def test_an_untouched_log_verifies(ledger: Path) -> None:
    code, out, _ = _verify(ledger)
    assert code == 0
    assert out.startswith(f"The audit log is intact: {_entry_count(ledger)} entries verified.")


@pytest.mark.parametrize(
    ("statements", "first_bad"),
    [
        (("UPDATE audit_log SET actor = 'operator:someone' WHERE seq = 2",), 2),
        (("DELETE FROM audit_log WHERE seq = 2",), 2),
        (("DELETE FROM audit_log WHERE seq = {last}",), "{last}"),
        (
            (
                "INSERT INTO audit_log SELECT {after}, at, kind, actor, purpose, recipient, "
                "refs, detail, hash, hash FROM audit_log WHERE seq = {last}",
            ),
            "{after}",
        ),
        (
            (
                "UPDATE audit_log SET seq = -1 WHERE seq = 1",
                "UPDATE audit_log SET seq = 1 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = -1",
            ),
            1,
        ),
    ],
    ids=["edit", "delete", "delete-last", "insert", "swap"],
)
def test_tampering_is_detected_and_the_first_bad_entry_named(
    ledger: Path, statements: tuple[str, ...], first_bad: int | str
) -> None:
    last = _entry_count(ledger)
    statements = tuple(s.format(last=last, after=last + 1) for s in statements)
    first_bad = str(first_bad).format(last=last, after=last + 1)
    _tamper(ledger, *statements)
    code, out, err = _verify(ledger)
    assert code == 1
    assert out == ""
    assert f"fails verification at entry {first_bad}:" in err
    assert len(err.strip().splitlines()) == 1


def test_the_export_of_a_run_holds_each_kind_that_happened_and_no_personal_data(
    ledger: Path,
) -> None:
    subject = subjects(ledger)["P100001"]
    arms_sync("reconcile", "show", subject, cwd=ledger, env=OPERATOR)
    arms_sync(
        "reconcile",
        "link",
        "probation:P100002",
        "police:LAN-2",
        *REASON,
        "--apply",
        cwd=ledger,
        env=OPERATOR,
    )
    arms_sync(
        "reconcile",
        "assign",
        subject,
        "--owner",
        "none",
        "--from",
        "2025-06-01",
        *REASON,
        "--apply",
        cwd=ledger,
        env=OPERATOR,
    )
    arms_sync("report", "duplicates", "--format", "json", "--out", "report.json", cwd=ledger)
    arms_sync("audit", "export", "--out", "audit.jsonl", cwd=ledger)
    exported = (ledger / "audit.jsonl").read_text()
    entries = [json.loads(line) for line in exported.splitlines()]
    kinds = {entry["kind"] for entry in entries}
    assert {"collection", "consultation", "disclosure", "combination", "alteration"} <= kinds
    assert personal_data_in(exported) == []
    assert any(e["actor"] == "operator:jsmith" for e in entries)
    assert any(e["recipient"] == "file report.json" for e in entries)
    assert _verify(ledger)[0] == 0


def test_export_keeps_to_the_dates_asked_for(ledger: Path) -> None:
    later = arms_sync("audit", "export", "--from", "2999-01-01", cwd=ledger).stdout
    assert later == ""
    count = _entry_count(ledger)
    everything = arms_sync("audit", "export", cwd=ledger).stdout.splitlines()
    assert [json.loads(line)["seq"] for line in everything] == list(range(1, count + 1))


def _disclosures(folder: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(folder / "arms-sync.db") as db:
        rows = db.execute(
            "SELECT actor, recipient FROM audit_log WHERE kind = 'disclosure' ORDER BY seq"
        ).fetchall()
    return [(str(actor).split(":")[0], str(recipient)) for actor, recipient in rows]


@pytest.mark.parametrize("what", [("export", "ownership"), ("export", "timeline"), ("audit",)])
def test_an_export_written_to_a_file_is_a_disclosure_to_it(
    ledger: Path, what: tuple[str, ...]
) -> None:
    command = [*what, "export"] if what == ("audit",) else list(what)
    before = _disclosures(ledger)
    arms_sync(*command, "--out", "written.jsonl", cwd=ledger)
    assert _disclosures(ledger)[len(before) :] == [("cli", "file written.jsonl")]
    written = (ledger / "written.jsonl").read_bytes()
    with sqlite3.connect(ledger / "arms-sync.db") as db:
        (detail,) = db.execute(
            "SELECT detail FROM audit_log WHERE kind = 'disclosure' ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert detail == f"sha256 {hashlib.sha256(written).hexdigest()}, {len(written)} bytes"
    arms_sync(*command, cwd=ledger)  # to the terminal: consulted, not disclosed
    assert len(_disclosures(ledger)) == len(before) + 1


def _anchor(folder: Path) -> str:
    return arms_sync("audit", "head", cwd=folder).stdout.strip()


def test_the_head_is_printed_as_an_anchor_that_verifies(ledger: Path) -> None:
    anchor = _anchor(ledger)
    seq, digest = anchor.split(":")
    assert int(seq) == _entry_count(ledger)
    assert len(digest) == 64
    arms_sync("export", "links", cwd=ledger)  # the log grows past the anchor
    code, out, _ = _verify_anchored(ledger, anchor)
    assert code == 0
    assert out == (
        f"The audit log is intact: {_entry_count(ledger)} entries verified. "
        f"It holds the anchor given, at entry {seq}, as kept.\n"
    )


def _verify_anchored(folder: Path, *anchors: str) -> tuple[int, str, str]:
    options = [part for anchor in anchors for part in ("--anchor", anchor)]
    result = arms_sync("audit", "verify", *options, cwd=folder, check=False)
    return result.returncode, result.stdout, result.stderr


def _cut_back_to(folder: Path, seq: int) -> None:
    """Remove the entries after `seq` and move the head back: consistent in the database."""
    with sqlite3.connect(folder / "arms-sync.db") as db:
        (digest,) = db.execute("SELECT hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        db.execute("DELETE FROM audit_log WHERE seq > ?", (seq,))
        db.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, digest))


def test_a_log_cut_short_consistently_fails_only_against_an_anchor(ledger: Path) -> None:
    kept = _entry_count(ledger)
    arms_sync("export", "links", cwd=ledger)
    anchor = _anchor(ledger)
    _cut_back_to(ledger, kept)
    assert _verify(ledger)[0] == 0  # the database alone cannot tell
    code, out, err = _verify_anchored(ledger, anchor)
    assert code == 1
    assert out == ""
    assert f"fails verification at entry {kept + 1}:" in err
    assert f"an anchor names entry {anchor.split(':')[0]}" in err


def test_a_log_emptied_with_its_head_fails_while_the_ledger_holds_records(ledger: Path) -> None:
    """Deleting every entry and the head leaves a chain consistent in itself; the feed
    records whose collection it logged tell that it was emptied."""
    _tamper(ledger, "DELETE FROM audit_log", "DELETE FROM audit_head")
    code, out, err = _verify(ledger)
    assert code == 1
    assert out == ""
    assert err == (
        "Error: The audit log fails verification at entry 1: the log holds no entry, yet the "
        "ledger holds feed records whose collection it logs, so it has been emptied.\n"
    )


def _rewrite_last_entry(folder: Path) -> None:
    """Alter the last entry and hash it again, moving the head: consistent in the database."""
    with sqlite3.connect(folder / "arms-sync.db") as db:
        db.row_factory = sqlite3.Row
        row = dict(db.execute("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone())
        forged = dataclasses.replace(Entry(**row), purpose="nothing happened")
        digest = recomputed_hash(forged)
        db.execute(
            "UPDATE audit_log SET purpose = ?, hash = ? WHERE seq = ?",
            (forged.purpose, digest, forged.seq),
        )
        db.execute("UPDATE audit_head SET hash = ?", (digest,))


def test_an_entry_rewritten_with_its_chain_fails_against_an_anchor(ledger: Path) -> None:
    anchor = _anchor(ledger)
    _rewrite_last_entry(ledger)
    assert _verify(ledger)[0] == 0  # the database alone cannot tell
    code, _, err = _verify_anchored(ledger, anchor)
    assert code == 1
    assert f"fails verification at entry {anchor.split(':')[0]}:" in err
    assert "not the one anchored for it" in err


def test_a_malformed_anchor_is_bad_usage(ledger: Path) -> None:
    code, out, err = _verify_anchored(ledger, "12:not-a-hash")
    assert code == 2
    assert out == ""
    assert "SEQ:HASH" in err
