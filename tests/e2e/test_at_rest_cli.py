"""Personal data at rest, as a user runs arms-sync: no key directory, a fresh folder.

The ledger encrypts every payload and every operator's reason whatever the
setup: an SQLite ledger keeps its key in a file beside it (made on first use,
mode 0600), a PostgreSQL ledger needs a key every host shares. A key file
missing or wrong for a ledger that holds encrypted data is refused in one
sentence.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sync.crypto.keyring import data_key_path
from sync.ledger.location import parse_ledger_url
from tests.e2e.cli_ledger import refusal
from tests.e2e.test_reconcile_cli import (
    AS_OF,
    OPERATOR,
    arms_sync,
    subjects,
    synced,
)
from tests.feed_records import run_args
from tests.integration.test_audit_log import personal_data_in, write_feeds

pytestmark = pytest.mark.e2e

LEDGER = "arms-sync.db"
KEY_FILE = "arms-sync.db.key"
SECRET_REASON = "JONES Simon born 1972-03-20"
REASON_NEEDLES = ("JONES", "Simon", "1972-03-20")
EXPORTS = (("export", "links"), ("export", "timeline"), ("export", "ownership", "--as-of", AS_OF))


def exports(folder: Path, *options: str, env: dict[str, str] | None = None) -> str:
    """Everything `export` shows of the ledger."""
    return "".join(arms_sync(*options, *what, cwd=folder, env=env).stdout for what in EXPORTS)


def raw_rows(folder: Path, query: str) -> list[tuple[object, ...]]:
    """Rows straight from the SQLite file, as stored."""
    with sqlite3.connect(folder / LEDGER) as conn:
        return conn.execute(query).fetchall()


def as_text(value: object) -> str:
    """A stored value as text, byte for byte (latin-1 keeps every byte)."""
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def test_a_fresh_folder_stores_no_personal_data_in_plaintext(tmp_path: Path) -> None:
    folder = synced(tmp_path)
    payloads = [row[0] for row in raw_rows(folder, "SELECT payload FROM records")]
    assert payloads
    assert all(isinstance(p, bytes) and p[:1] == b"\x01" for p in payloads)
    assert [personal_data_in(as_text(p)) for p in payloads if personal_data_in(as_text(p))] == []
    whole_file = b"".join(p.read_bytes() for p in folder.glob(f"{LEDGER}*") if p.name != KEY_FILE)
    assert personal_data_in(whole_file.decode("latin-1")) == []


def test_the_key_file_is_private_made_once_and_reused(tmp_path: Path) -> None:
    folder = synced(tmp_path)
    key_file = folder / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes()
    first = exports(folder)
    arms_sync(*run_args(*write_feeds(folder)), cwd=folder)
    assert key_file.read_bytes() == key
    assert exports(folder) == first


def test_a_missing_key_file_is_refused_and_the_ledger_kept(tmp_path: Path) -> None:
    folder = synced(tmp_path)
    before = exports(folder)
    kept = tmp_path / "kept.key"
    (folder / KEY_FILE).rename(kept)
    for args in (("export", "links"), tuple(run_args(*write_feeds(folder)))):
        line = refusal(arms_sync(*args, cwd=folder, check=False))
        assert KEY_FILE in line
        assert "missing" in line
    assert not (folder / KEY_FILE).exists()
    kept.rename(folder / KEY_FILE)
    assert exports(folder) == before


def test_a_missing_key_file_is_named_where_it_should_be(tmp_path: Path) -> None:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    synced(folder)
    (folder / KEY_FILE).unlink()
    ledger = Path("ledgers") / LEDGER
    line = refusal(arms_sync("--db", f"sqlite:///{ledger}", "rejects", cwd=tmp_path, check=False))
    assert f"its at-rest key file {ledger}.key is missing" in line


@pytest.mark.parametrize("broken", ["no key directory", "garbled data key", "garbled key file"])
def test_a_run_refused_for_its_keys_makes_no_ledger_file(tmp_path: Path, broken: str) -> None:
    keys = tmp_path / "keys"
    env = {"ARMS_SYNC_KEYS_DIR": str(keys)}
    if broken == "garbled data key":
        arms_sync("keys", "generate", "--party", "hub", "--dir", str(keys), cwd=tmp_path)
        data_key_path(keys).write_text("not a key")
    elif broken == "garbled key file":
        (tmp_path / "at-rest.key").write_text("not a key")
        env = {"ARMS_SYNC_AT_REST_KEY_FILE": str(tmp_path / "at-rest.key")}
    folder = tmp_path / "work"
    folder.mkdir()
    result = arms_sync(*run_args(*write_feeds(folder)), cwd=folder, env=env, check=False)
    assert result.returncode == 2
    assert refusal(result)
    assert sorted(p.name for p in folder.iterdir()) == ["police.jsonl", "probation.jsonl"]


def test_another_folders_key_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    synced(first)
    synced(second)
    shutil.copyfile(second / KEY_FILE, first / KEY_FILE)
    line = refusal(arms_sync("export", "links", cwd=first, check=False))
    assert line == (
        f"Error: The ledger file {LEDGER} was encrypted under another at-rest key than the "
        f"one in {KEY_FILE} beside it."
    )


def test_a_key_directory_given_to_a_ledger_keyed_beside_it_names_the_file_to_point_at(
    tmp_path: Path,
) -> None:
    """A ledger first run without keys keeps its key beside it; a key directory given
    later is taken first, and the refusal says which file holds the ledger's own key."""
    synced(tmp_path)
    keys = str(tmp_path / "keys")
    for party in ("hub", "probation", "police"):
        arms_sync("keys", "generate", "--party", party, "--dir", keys, cwd=tmp_path)
    given = {"ARMS_SYNC_KEYS_DIR": keys}
    line = refusal(arms_sync("export", "links", cwd=tmp_path, env=given, check=False))
    assert line == (
        f"Error: The ledger file {LEDGER} was encrypted under another at-rest key than the "
        "key directory's data key, which is taken before a file beside the ledger; if "
        f"{KEY_FILE} beside it is its key, point ARMS_SYNC_AT_REST_KEY_FILE at that file."
    )
    env = {**given, "ARMS_SYNC_AT_REST_KEY_FILE": str(tmp_path / KEY_FILE)}
    assert arms_sync("export", "links", cwd=tmp_path, env=env).stdout


def test_a_ledger_keyed_by_run_keys_asks_for_that_key_directory_not_a_file_it_never_had(
    tmp_path: Path,
) -> None:
    keys = str(tmp_path / "keys")
    for party in ("hub", "probation", "police"):
        arms_sync("keys", "generate", "--party", party, "--dir", keys, cwd=tmp_path)
    arms_sync(*run_args(*write_feeds(tmp_path)), "--keys", keys, cwd=tmp_path)
    assert not (tmp_path / KEY_FILE).exists()
    line = refusal(arms_sync("export", "links", cwd=tmp_path, check=False))
    assert line == (
        f"Error: The ledger file {LEDGER} holds encrypted data but its at-rest key file "
        f"{KEY_FILE} is missing; give the ledger's own key (the one it was made with or, "
        "once `ledger reencrypt` has rotated it, the new one, copied to every host that "
        "opens the ledger): its key directory in ARMS_SYNC_KEYS_DIR (as `run --keys DIR` "
        "gave it), or its key file in ARMS_SYNC_AT_REST_KEY_FILE, or restore that file "
        "from a backup."
    )
    assert arms_sync("export", "links", cwd=tmp_path, env={"ARMS_SYNC_KEYS_DIR": keys}).stdout


def test_subject_ids_are_keyed_per_deployment(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    ids = [subjects(synced(folder)) for folder in (first, second)]
    assert ids[0].keys() == ids[1].keys()
    assert set(ids[0].values()).isdisjoint(ids[1].values())


def _reasons(folder: Path) -> list[str]:
    queries = (
        "SELECT reason FROM manual_links",
        "SELECT reason FROM overrides",
        "SELECT revoke_reason FROM overrides",
        "SELECT reason FROM flag_acts",
    )
    return [str(row[0]) for query in queries for row in raw_rows(folder, query)]


def _ledger_files_bytes(folder: Path) -> Iterator[bytes]:
    """The bytes of the ledger file and every file beside it named after it (its journal,
    write-ahead log and lock files) but the key file; one gone since it was listed (a
    lock file removed) holds nothing to read."""
    for path in folder.glob(f"{LEDGER}*"):
        if path.name != KEY_FILE:
            with contextlib.suppress(FileNotFoundError):
                yield path.read_bytes()


def _subject_of(folder: Path, person_id: str, env: dict[str, str]) -> str:
    for line in arms_sync("export", "links", cwd=folder, env=env).stdout.splitlines():
        subject = json.loads(line)
        if any(record["person_id"] == person_id for record in subject["records"]):
            return str(subject["subject_id"])
    raise AssertionError("person not exported")


@pytest.mark.parametrize("key_directory", [False, True], ids=["no-keys", "key-directory"])
def test_operators_reasons_are_stored_encrypted_and_shown(
    tmp_path: Path, key_directory: bool
) -> None:
    folder, keys = tmp_path, str(tmp_path / "keys")
    env = dict(OPERATOR)
    if key_directory:
        for party in ("hub", "probation", "police"):
            arms_sync("keys", "generate", "--party", party, "--dir", keys, cwd=folder)
        env["ARMS_SYNC_KEYS_DIR"] = keys
    arms_sync(*run_args(*write_feeds(folder)), cwd=folder, env=env)
    why = ("--reason", SECRET_REASON)
    listed = arms_sync("reconcile", "list", "--kind", "flag", "--json", cwd=folder, env=env)
    flag = json.loads(listed.stdout.splitlines()[0])
    arms_sync("reconcile", "resolve", flag["key"], *why, cwd=folder, env=env)
    pair = ("probation:P100001", "police:LAN-1")
    arms_sync("reconcile", "unlink", *pair, *why, "--apply", cwd=folder, env=env)
    subject = _subject_of(folder, "P100001", env)
    assigned = arms_sync(
        "reconcile", "assign", subject, "--owner", "police", "--from", "2025-06-01",
        *why, "--apply", cwd=folder, env=env,
    )  # fmt: skip
    override = assigned.stdout.split()[2].rstrip(";")
    arms_sync("reconcile", "revoke", override, *why, "--apply", cwd=folder, env=env)

    stored = _reasons(folder)
    assert len(stored) == 4
    assert all(reason.startswith("enc1:") for reason in stored)
    assert [n for n in REASON_NEEDLES if any(n in reason for reason in stored)] == []
    whole_file = b"".join(_ledger_files_bytes(folder))
    assert [n for n in REASON_NEEDLES if n.encode() in whole_file] == []

    def show(subject_id: str) -> str:
        return arms_sync("reconcile", "show", subject_id, cwd=folder, env=env).stdout

    assert show(subject).count(f"reason: {SECRET_REASON}") >= 3  # unlink, assign, revoke
    assert f"reason: {SECRET_REASON}" in show(flag["subject_id"])


@pytest.mark.integration
def test_a_postgresql_ledger_needs_a_key_every_host_shares(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    db = ("--db", fresh_postgres_url)
    args = run_args(*write_feeds(tmp_path))
    line = refusal(arms_sync(*db, *args, cwd=tmp_path, check=False))
    assert "ARMS_SYNC_AT_REST_KEY_FILE" in line
    assert "ARMS_SYNC_KEYS_DIR" in line

    key_file = tmp_path / "ledger.key"
    env = {"ARMS_SYNC_AT_REST_KEY_FILE": str(key_file)}
    arms_sync(*db, *args, cwd=tmp_path, env=env)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    engine = create_engine(parse_ledger_url(fresh_postgres_url))
    try:
        with engine.connect() as conn:
            payloads = conn.execute(text("SELECT payload FROM records")).scalars().all()
    finally:
        engine.dispose()
    assert payloads
    assert all(bytes(p)[:1] == b"\x01" for p in payloads)
    assert [n for p in payloads for n in personal_data_in(bytes(p).decode("latin-1"))] == []
    assert "P100001" in exports(tmp_path, *db, env=env)

    other = {"ARMS_SYNC_AT_REST_KEY_FILE": str(tmp_path / "other.key")}
    line = refusal(arms_sync(*db, "export", "links", cwd=tmp_path, env=other, check=False))
    assert "other.key" in line
