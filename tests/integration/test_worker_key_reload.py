"""A worker process reads its keys again when they change on disk, without a restart.

`workers.tasks.service` is each worker process's App. A rotation, a revocation
or an agency's new public keys replace `ring.json`; the next task must run
under the ring as it is now, not the one the process started with, so a
revoked key stops being accepted at once. Real key files, a real Celery
application object and an SQLite ledger; no worker process is needed to
call `service`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sync.crypto.keyring import generate_party, revoke, rotate
from sync.crypto.keys import KeyStatus, KeyUse, Party
from workers import tasks
from workers.app import create_app
from workers.settings import load_worker_settings
from workers.tasks import service

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key directory with every party's first keys, set for the worker."""
    directory = tmp_path / "keys"
    for party in (Party.HUB, Party.PROBATION, Party.POLICE):
        generate_party(directory, party)
    monkeypatch.setenv("ARMS_SYNC_KEYS_DIR", str(directory))
    # A worker process serves one deployment; this test process plays several in turn.
    monkeypatch.setattr(tasks, "_SERVICES", {})
    return directory


def worker_app(tmp_path: Path) -> object:
    """The Celery application a worker of this deployment runs."""
    return create_app(load_worker_settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))


def test_unchanged_keys_keep_the_same_app(keys: Path, tmp_path: Path) -> None:
    celery_app = worker_app(tmp_path)
    first = service(celery_app)
    try:
        assert first.require_keyring().me is Party.HUB
        assert service(celery_app) is first
    finally:
        first.close()


def test_a_rotation_and_a_revocation_reach_the_next_task(keys: Path, tmp_path: Path) -> None:
    celery_app = worker_app(tmp_path)
    started = service(celery_app)
    started_signing = set(started.require_keyring().signing_keys)

    created = rotate(keys, Party.HUB, timedelta(days=30))
    rotated = service(celery_app)
    new_signing = next(info.key_id for info in created if info.use is KeyUse.SIGN)
    assert rotated is not started
    assert rotated.require_keyring().active(Party.HUB, KeyUse.SIGN).key_id == new_signing
    assert set(rotated.require_keyring().signing_keys) == started_signing | {new_signing}

    police = rotated.require_keyring().active(Party.POLICE, KeyUse.SIGN)
    revoke(keys, Party.POLICE, police.key_id)
    revoked = service(celery_app)
    try:
        assert revoked is not rotated
        assert revoked.require_keyring().find(police.key_id).status is KeyStatus.REVOKED
    finally:
        revoked.close()
