"""Feed validation in worker processes: the same items, in the same order, as in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from sync.feeds import jsonl, parallel
from sync.feeds.jsonl import Accepted, Rejected, iter_lines, offer_pool, withdraw_pool
from sync.feeds.models import FeedContext
from sync.feeds.parallel import ProcessLinePool
from sync.ledger.store import RecordVersion
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

POLICE = FeedContext("police", date(2026, 11, 28))


def _person(number: int) -> bytes:
    record = {
        "type": "person",
        "agency": "police",
        "id": f"LAN-{number}",
        "surname": "EXAMPLE",
        "forenames": "POOL",
        "gender": "M",
        "area": "LANC",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    return json.dumps(record).encode()


def _lines(count: int) -> list[bytes]:
    """Valid lines with a blank line, broken JSON and a wrong agency among them."""
    lines = [_person(number) for number in range(count)]
    lines[7] = b"   "
    lines[11] = b"{not json"
    lines[23] = _person(23).replace(b'"police"', b'"probation"')
    return lines


def test_a_pool_gives_the_items_an_in_process_read_gives_in_the_same_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsonl, "POOL_AFTER_LINES", 5)
    monkeypatch.setattr(parallel, "CHUNK_LINES", 3)
    lines = _lines(60)
    in_process = list(iter_lines(lines, POLICE))
    pool = ProcessLinePool(2)
    token = offer_pool(pool)
    try:
        pooled = list(iter_lines(lines, POLICE))
        assert pool.started
    finally:
        withdraw_pool(token)
        pool.close()
    assert pooled == in_process
    # The same types too (items cross processes flattened, and are rebuilt).
    assert [type(item) for item in pooled] == [type(item) for item in in_process]
    assert {type(item.version) for item in pooled if isinstance(item, Accepted)} == {RecordVersion}
    assert [item.position for item in pooled if isinstance(item, Rejected)] == [
        "line 12",
        "line 24",
    ]
    assert sum(isinstance(item, Accepted) for item in pooled) == 57


def test_a_short_feed_never_starts_the_pool() -> None:
    pool = ProcessLinePool(2)
    token = offer_pool(pool)
    try:
        items = list(iter_lines(_lines(30), POLICE))
    finally:
        withdraw_pool(token)
        pool.close()
    assert len(items) == 29
    assert not pool.started


@pytest.fixture(scope="module")
def national_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic feeds whose police feed is longer than POOL_AFTER_LINES, two broken lines
    at its end, and keys for sealing them."""
    root = tmp_path_factory.mktemp("pool")
    feeds = root / "feeds"
    run_cli("synth", "--subjects", "7000", "--seed", "5", "--out", str(feeds), cwd=root)
    police = feeds / "police.jsonl"
    assert police.read_bytes().count(b"\n") > jsonl.POOL_AFTER_LINES
    with police.open("ab") as handle:
        handle.write(b"{not json\n" + _person(1).replace(b'"police"', b'"probation"') + b"\n")
    for party in ("hub", "probation", "police"):
        run_cli("keys", "generate", "--party", party, "--dir", str(root / "keys"), cwd=root)
    for party in ("probation", "police"):
        run_cli(
            "envelope",
            "seal",
            "--from",
            party,
            "--to",
            "hub",
            str(feeds / f"{party}.jsonl"),
            str(feeds / f"{party}.sealed.jsonl"),
            "--keys",
            str(root / "keys"),
            cwd=root,
        )
    return root


def _run_and_export(
    root: Path, cwd: Path, processes: int, suffix: str = ".jsonl"
) -> tuple[str, str, str]:
    cwd.mkdir()
    env = {"ARMS_SYNC_VALIDATION_PROCESSES": str(processes), "ARMS_SYNC_DEBUG": "1"}
    if suffix != ".jsonl":
        env["ARMS_SYNC_KEYS_DIR"] = str(root / "keys")
    else:  # one deployment: subject ids are keyed with its at-rest key
        env["ARMS_SYNC_AT_REST_KEY_FILE"] = str(root / "at-rest.key")
    run = run_cli(
        "run",
        "--probation-feed",
        str(root / "feeds" / f"probation{suffix}"),
        "--police-feed",
        str(root / "feeds" / f"police{suffix}"),
        "--as-of",
        "2026-11-28",
        cwd=cwd,
        env=env,
    )
    timeline = run_cli("export", "timeline", cwd=cwd, env=env).stdout
    links = run_cli("export", "links", cwd=cwd, env=env).stdout
    rejects = [
        {name: value for name, value in json.loads(line).items() if name != "first_seen"}
        for line in run_cli("rejects", "--json", cwd=cwd, env=env).stdout.splitlines()
    ]
    started = f"feed validation: {processes} worker processes started" in run.stderr
    assert started == (processes > 0)
    return timeline, links, json.dumps(rejects)


def test_a_run_with_validation_workers_decides_exactly_as_one_without(
    national_like: Path, tmp_path: Path
) -> None:
    in_process = _run_and_export(national_like, tmp_path / "serial", processes=0)
    pooled = _run_and_export(national_like, tmp_path / "pooled", processes=2)
    assert pooled == in_process
    assert len(json.loads(in_process[2])) == 2


def test_a_sealed_feed_is_validated_across_its_pages_exactly_as_in_process(
    national_like: Path, tmp_path: Path
) -> None:
    in_process = _run_and_export(national_like, tmp_path / "serial", 0, ".sealed.jsonl")
    pooled = _run_and_export(national_like, tmp_path / "pooled", 2, ".sealed.jsonl")
    assert pooled == in_process
    positions = [reject["position"] for reject in json.loads(pooled[2])]
    assert len(positions) == 2
    assert all(position.startswith("page ") for position in positions)


def test_no_pool_is_offered_for_zero_workers_or_inside_a_daemonic_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with parallel.validating_in_processes(0):
        assert jsonl._POOL.get() is None
    monkeypatch.setattr(
        "sync.feeds.parallel.multiprocessing.current_process", lambda: SimpleNamespace(daemon=True)
    )
    with parallel.validating_in_processes(2):
        assert jsonl._POOL.get() is None
    monkeypatch.undo()
    with parallel.validating_in_processes(2):
        assert isinstance(jsonl._POOL.get(), ProcessLinePool)
    assert jsonl._POOL.get() is None


# A process that starts the validation workers, says so, and waits to be killed.
_STARTS_WORKERS = """
import time
from datetime import date
from sync.feeds.models import FeedContext
from sync.feeds.parallel import ProcessLinePool

pool = ProcessLinePool(2)
list(pool.validate(iter([("line 1", b"{}")]), FeedContext("police", date(2026, 11, 28))))
print("workers started", flush=True)
time.sleep(600)
"""
GONE_TIMEOUT_SECONDS = 30.0


def _descendants(pid: int) -> list[int]:
    """Every process under `pid`, from /proc."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        found.extend(int(child) for child in children)
        pending.extend(int(child) for child in children)
    return found


def _running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_workers_end_when_the_run_that_started_them_is_killed() -> None:
    """A killed run leaves no validation worker (nor their server) waiting for ever."""
    repo = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, "-c", _STARTS_WORKERS],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "workers started\n"
        helpers = _descendants(child.pid)
        child.kill()
        child.wait()
    assert len(helpers) >= 3  # the forkserver and two workers, at least

    deadline = time.monotonic() + GONE_TIMEOUT_SECONDS
    while any(_running(pid) for pid in helpers):
        assert time.monotonic() < deadline, "validation processes outlived their run"
        time.sleep(0.1)
