"""`arms-sync ledger reencrypt` as an operator runs it, with each source of the at-rest key.

The command prints one sentence with the counts and exits 0; exports, the
report, `rejects` and `status` say the same before and after; the old key is
kept as `<key file>.old` and no longer opens the ledger. A run in flight makes
it refuse in one sentence.
"""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sync.app import App
from sync.settings import Settings
from tests.conftest import REDIS_URL
from tests.e2e.cli_ledger import refusal
from tests.e2e.test_reconcile_cli import AS_OF, arms_sync
from tests.feed_records import run_args
from tests.integration.test_audit_log import write_feeds

pytestmark = pytest.mark.e2e

LEDGER = "arms-sync.db"
SOURCES = ("beside-the-ledger", "key-file", "key-directory")
SUMMARY = re.compile(
    r"^Re-encrypted the ledger under a new at-rest key: (\d+) values rewritten "
    r"\(records (\d+), rejects \d+, cycle_staging \d+, outbox (\d+), manual_links \d+, "
    r"overrides \d+, flag_acts \d+, review_items \d+\), 0 of them from plaintext; "
    r"the new key is in (\S+) and the old one is kept as (\S+) until you remove it\.$"
)
READS = (
    ("export", "links"),
    ("export", "timeline"),
    ("export", "ownership", "--as-of", AS_OF),
    ("report", "duplicates", "--format", "json"),
    ("rejects",),
    ("status", "--json"),
)


def _setup(folder: Path, source: str) -> tuple[dict[str, str], Path]:
    """The environment of a deployment with the key from `source`, and its key file."""
    env = {"ARMS_SYNC_BROKER_URL": REDIS_URL}
    if source == "key-file":
        key_file = folder / "secrets" / "ledger.key"
        key_file.parent.mkdir()
        env["ARMS_SYNC_AT_REST_KEY_FILE"] = str(key_file)
        return env, key_file
    if source == "key-directory":
        keys = folder / "keys"
        for party in ("hub", "probation", "police"):
            arms_sync("keys", "generate", "--party", party, "--dir", str(keys), cwd=folder)
        env["ARMS_SYNC_KEYS_DIR"] = str(keys)
        return env, keys / "private" / "hub" / "data.key"
    return env, folder / f"{LEDGER}.key"


def _reads(
    folder: Path, env: dict[str, str], *db: str, reads: tuple[tuple[str, ...], ...] = READS
) -> list[str]:
    return [arms_sync(*db, *what, cwd=folder, env=env).stdout for what in reads]


def _reads_for(source: str) -> tuple[tuple[str, ...], ...]:
    """Every read for the key directory (it alone seals notices); links and the report else."""
    return READS if source == "key-directory" else (READS[0], READS[3])


def _reencrypt(folder: Path, env: dict[str, str], *db: str) -> re.Match[str]:
    result = arms_sync(*db, "ledger", "reencrypt", "--operator", "jsmith", cwd=folder, env=env)
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    found = SUMMARY.match(lines[0])
    assert found is not None, lines[0]
    return found


@pytest.mark.parametrize("source", SOURCES)
def test_reencrypt_keeps_what_users_read_and_retires_the_old_key(
    tmp_path: Path, source: str
) -> None:
    env, key_file = _setup(tmp_path, source)
    arms_sync(*run_args(*write_feeds(tmp_path)), cwd=tmp_path, env=env)
    reads = _reads_for(source)
    before = _reads(tmp_path, env, reads=reads)
    old_key = key_file.read_bytes()

    found = _reencrypt(tmp_path, env)

    total, records, outbox, new_name, old_name = found.groups()
    assert int(records) == 10
    assert int(total) >= int(records)
    assert (int(outbox) > 0) == (source == "key-directory")  # batches need the exchange keys
    assert (new_name, old_name) == (key_file.name, f"{key_file.name}.old")
    previous = key_file.with_name(old_name)
    assert previous.read_bytes() == old_key
    assert key_file.read_bytes() != old_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(previous.stat().st_mode) == 0o600
    assert _reads(tmp_path, env, reads=reads) == before
    assert "intact" in arms_sync("audit", "verify", cwd=tmp_path, env=env).stdout

    stale = {**env, "ARMS_SYNC_AT_REST_KEY_FILE": str(previous)}
    line = refusal(arms_sync("export", "links", cwd=tmp_path, env=stale, check=False))
    assert "another at-rest key" in line
    again = refusal(arms_sync("ledger", "reencrypt", cwd=tmp_path, env=env, check=False))
    assert previous.name in again
    previous.unlink()
    _reencrypt(tmp_path, env)
    assert _reads(tmp_path, env, reads=READS[:1]) == before[:1]


def test_a_run_in_flight_is_refused_in_one_sentence(tmp_path: Path) -> None:
    env, _key_file = _setup(tmp_path, "beside-the-ledger")
    arms_sync(*run_args(*write_feeds(tmp_path)), cwd=tmp_path, env=env)
    # The stand-in run below is `status`'s latest run once it ends: the rest must not change.
    reads = READS[:-1]
    before = _reads(tmp_path, env, reads=reads)
    app = App(Settings(database_url=f"sqlite:///{tmp_path / LEDGER}"))
    try:
        run_id = app.ledger.start_run(date(2026, 11, 28), datetime.now(UTC))
        result = arms_sync("ledger", "reencrypt", cwd=tmp_path, env=env, check=False)
        app.ledger.finish_run(run_id, "failed", {}, datetime.now(UTC))
    finally:
        app.close()
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Error: The ledger file arms-sync.db is held by a run in flight (a sync run, "
        "a distributed cycle or a reconcile act); re-encrypt it once it has finished."
    ]
    assert _reads(tmp_path, env, reads=reads) == before


@pytest.mark.integration
def test_reencrypt_on_a_postgresql_ledger(fresh_postgres_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "ledger.key"
    env = {"ARMS_SYNC_BROKER_URL": REDIS_URL, "ARMS_SYNC_AT_REST_KEY_FILE": str(key_file)}
    db = ("--db", fresh_postgres_url)
    arms_sync(*db, *run_args(*write_feeds(tmp_path)), cwd=tmp_path, env=env)
    before = _reads(tmp_path, env, *db)
    found = _reencrypt(tmp_path, env, *db)
    assert found.group(5) == "ledger.key.old"
    assert _reads(tmp_path, env, *db) == before
    report = json.loads(_reads(tmp_path, env, *db)[3])
    assert report["summary"]["flags"]
