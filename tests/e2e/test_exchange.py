"""The signed, encrypted exchange end to end, through `arms-sync` as a user runs it.

Real keys in a temporary key directory, real gateway processes on 127.0.0.1
serving synthetic feeds, and the hub's `run` pulling both sealed feeds page by
page and delivering notices:

- over HTTP the decisions equal those of a plain-file run of the same feeds;
  each gateway holds exactly its own, minimised notices, each batch has a
  signed receipt in the outbox, and a second run delivers nothing new;
- with 30% of gateway calls failing, every page and every notice lands once;
- sealed feed files that are tampered with, misaddressed, forwarded, replayed
  or sealed under revoked or expired keys are refused whole (exit 2, one
  sentence, nothing applied); the very same file again changes nothing;
- a live page sealed outside the clock-skew window is refused;
- at rest, the ledger file holds no name, date of birth, PNC or CRO in the clear.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync.app import App
from sync.core.identifiers import InvalidIdentifier, canonical_cro, canonical_pnc
from sync.crypto import CONTENT_TYPE_NOTICES, Party, load_keyring
from sync.crypto.envelope import (
    wire_digest,
)
from sync.crypto.header import parse_header
from sync.cycle import run_cycle
from sync.gateway.receipt import verify_receipt
from sync.gateway_source import gateway_source
from sync.settings import load_settings
from tests.conftest import run_cli
from tests.e2e.sealed_attacks import ATTACKS, PAGE_LINES, SealedWorld
from tests.integration.gateway_process import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningGateway,
    make_client,
    start_gateway,
)

pytestmark = pytest.mark.e2e

AS_OF = "2026-11-28"
SUBJECTS = "300"
SEED = "2015"
PAGE_SIZE = 100
BASELINE_SHARE = 0.6
AGENCIES = ("probation", "police")
OTHER = {"probation": "police", "police": "probation"}
PERSONAL_FIELDS = ("surname", "forenames", "date_of_birth", "pnc", "cro")
NOTICE_FIELDS = frozenset(
    {
        "notice_id",
        "replaces",
        "kind",
        "subject_id",
        "person_ids",
        "counterpart",
        "segments",
        "on",
        "from_owner",
        "to_owner",
        "rule_before",
        "rule_after",
        "flag",
        "assessment_id",
        "flag_person_ids",
        "reference_date",
        "owner_at_reference_date",
        "rule_at_reference_date",
        "counterpart_assessment",
        "redundant",
        "withdrawn_key",
    }
)
FAIL_RATE = "0.3"
FAULT_SEED = "1128"
FAULT_DELAY_SECONDS = "1.5"
HUB_TIMEOUT_SECONDS = "1"
FAULT_RETRY_ATTEMPTS = "40"
FAULT_RETRY_BASE_SECONDS = "0.05"
FAULT_RETRY_MAX_SECONDS = "1.0"
LIVE_SKEW = timedelta(hours=2)
# Wide enough that a batch sealed again is still inside it when the gateway checks it,
# even on a loaded machine (at 1 s a slow CI run saw the fresh seal refused too).
GATEWAY_SKEW_SECONDS = 5
# Rejected lines carrying personal data: they are stored, so they must be encrypted too.
REJECTED_PERSON = {
    "type": "person",
    "agency": "probation",
    "id": "REJ0001",
    "pnc": "1961/0000001A",
    "cro": "000001/61A",
    "noms": None,
    "surname": "QUILLFEATHER",
    "forenames": "Ottoline",
    "date_of_birth": "1961-02-03",
    "gender": "Q",
    "area": "NW",
    "updated_at": "2026-01-01T00:00:00Z",
}
BROKEN_LINE_VALUES = {
    "surname": "WINTERBOTTOM",
    "forenames": "Peregrine",
    "date_of_birth": "1957-06-07",
}
BROKEN_LINE = (
    '{"type": "person", "surname": "WINTERBOTTOM", "forenames": "Peregrine", '
    '"date_of_birth": "1957-06-07"'
)
# Long runs of the base64 alphabet are sealed envelopes and signatures (the outbox
# keeps envelopes as sent); personal data in the clear never forms one.
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{64,}")
MIN_BARE_VALUE_LENGTH = 5
# Tables whose rows a refused or repeated input must leave exactly as they were.
STABLE_QUERIES = {
    "records": "SELECT agency, rtype, rid, updated_at, digest, deleted FROM records",
    "rejects": "SELECT fingerprint FROM rejects",
    "received_envelopes": "SELECT msg_id, digest FROM received_envelopes",
    "feed_cursors": "SELECT agency, source, cursor FROM feed_cursors",
    "subjects": "SELECT subject_id, active FROM subjects",
    "subject_members": "SELECT agency, person_id, subject_id FROM subject_members",
    "segments": 'SELECT subject_id, position, start, "end", owner, rule FROM segments',
    "flags": "SELECT key, closed_at FROM flags",
    "notice_state": "SELECT agency, notice_key, digest FROM notice_state",
    "outbox": "SELECT batch_id, agency, position FROM outbox",
}


# -- inputs -------------------------------------------------------------------------------


@dataclass
class Inputs:
    """Keys, the two synthetic feeds, and what they say about people."""

    root: Path
    keys: Path
    feeds: dict[str, Path]
    # Left out of the repr: a failing test's report must not print (even synthetic) people.
    persons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def lines(self) -> dict[str, int]:
        """Non-blank lines per feed."""
        return {
            agency: sum(1 for line in path.read_text().splitlines() if line.strip())
            for agency, path in self.feeds.items()
        }

    def forms(self, kind: str) -> list[set[str]]:
        """Each input value of one personal field with the canonical form the ledger keeps."""
        raw = {str(p[kind]) for p in self.persons.values() if p.get(kind)}
        extra = BROKEN_LINE_VALUES.get(kind)
        return [
            {value} | _canonical_forms(kind, value) for value in raw | set(filter(None, [extra]))
        ]

    def values(self, kind: str) -> set[str]:
        """Every value of one personal field in the input, in every form (rejected lines too)."""
        return set().union(*self.forms(kind))

    def person_ids(self, agency: str) -> set[str]:
        """The person ids of one agency's feed."""
        return {pid for (owner, pid) in self.persons if owner == agency}


def _canonical_forms(kind: str, value: str) -> set[str]:
    convert: Callable[[str], str] | None = {
        "pnc": lambda raw: canonical_pnc(raw, date.fromisoformat(AS_OF)),
        "cro": canonical_cro,
    }.get(kind)
    if convert is None:
        return set()
    try:
        return {convert(value)}
    except InvalidIdentifier:
        return set()


def _read_persons(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    persons: dict[tuple[str, str], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("type") == "person":
            persons[(record["agency"], record["id"])] = record
    return persons


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Inputs:
    root = tmp_path_factory.mktemp("exchange")
    keys = root / "keys"
    for party in ("hub", "probation", "police"):
        run_cli("keys", "generate", "--party", party, "--dir", str(keys), cwd=root)
    run_cli(
        "synth",
        "--subjects",
        SUBJECTS,
        "--seed",
        SEED,
        "--out",
        str(root / "feeds"),
        "--as-of",
        AS_OF,
        cwd=root,
    )
    feeds = {agency: root / "feeds" / f"{agency}.jsonl" for agency in AGENCIES}
    with feeds["probation"].open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(REJECTED_PERSON) + "\n" + BROKEN_LINE + "\n")
    found = Inputs(root, keys, feeds)
    for path in feeds.values():
        found.persons.update(_read_persons(path))
    return found


def _hub_env(**extra: str) -> dict[str, str]:
    return {
        "ARMS_SYNC_GATEWAY_CLIENT_ID": CLIENT_ID,
        "ARMS_SYNC_GATEWAY_CLIENT_SECRET": CLIENT_SECRET,
        "ARMS_SYNC_GATEWAY_PAGE_SIZE": str(PAGE_SIZE),
        **extra,
    }


def _db_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _run(
    db: Path,
    probation: str,
    police: str,
    keys: Path | None,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> Any:
    key_args = ["--keys", str(keys)] if keys is not None else []
    return run_cli(
        "--db",
        _db_url(db),
        "run",
        "--probation-feed",
        probation,
        "--police-feed",
        police,
        *key_args,
        "--as-of",
        AS_OF,
        "--json",
        cwd=cwd,
        env=env or _hub_env(),
        check=check,
    )


def _summary(result: Any) -> dict[str, Any]:
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# -- ledger and export views --------------------------------------------------------------


def _query(db: Path, sql: str, params: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return list(conn.execute(sql, params))


def _snapshot(db: Path) -> dict[str, set[tuple[Any, ...]]]:
    return {name: set(_query(db, sql)) for name, sql in STABLE_QUERIES.items()}


def _exports(db: Path, cwd: Path, keys: Path) -> dict[str, Any]:
    """The decisions as a user sees them: timelines, links and the duplicates report.

    Read with the deployment's key directory: a ledger opens only with its at-rest key.
    """
    env = {"ARMS_SYNC_KEYS_DIR": str(keys)}

    def lines(*args: str) -> list[dict[str, Any]]:
        out = run_cli("--db", _db_url(db), "export", *args, cwd=cwd, env=env).stdout
        return sorted(
            (json.loads(line) for line in out.splitlines()), key=lambda row: str(row["subject_id"])
        )

    report = json.loads(
        run_cli(
            "--db", _db_url(db), "report", "duplicates", "--format", "json", cwd=cwd, env=env
        ).stdout
    )
    flags = sorted(
        (
            {k: v for k, v in flag.items() if k not in {"first_seen", "closed_at"}}
            for flag in report["flags"]
        ),
        key=lambda flag: json.dumps(flag, sort_keys=True),
    )
    return {
        "timeline": lines("timeline"),
        "links": lines("links"),
        "summary": report["summary"],
        "flags": flags,
    }


def _subjects_of(exports: dict[str, Any], agency: str) -> set[str]:
    return {
        row["subject_id"]
        for row in exports["links"]
        if any(record["agency"] == agency for record in row["records"])
    }


# -- gateways -----------------------------------------------------------------------------


def _start_pair(
    inputs: Inputs, root: Path, extra: tuple[str, ...] = ()
) -> dict[str, RunningGateway]:
    started: dict[str, RunningGateway] = {}
    try:
        for agency in AGENCIES:
            home = root / f"gateway-{agency}"
            home.mkdir(parents=True)
            started[agency] = start_gateway(
                agency=Party(agency),
                feed=inputs.feeds[agency],
                keys=inputs.keys,
                state=home / "state",
                cwd=home,
                extra=extra,
            )
    except BaseException:
        _stop_all(started)
        raise
    return started


def _stop_all(gateways: dict[str, RunningGateway]) -> None:
    for gateway in gateways.values():
        gateway.stop()


def _listing(inputs: Inputs, gateway: RunningGateway, agency: str) -> list[dict[str, Any]]:
    hub = load_keyring(inputs.keys, Party.HUB)
    with make_client(gateway.url, hub, Party(agency)) as client:
        return client.received_notices()


def _notices(listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [notice for row in listing for notice in row["batch"]["notices"]]


def _outbox(db: Path) -> list[tuple[Any, ...]]:
    return _query(
        db,
        "SELECT batch_id, agency, envelope, receipt, delivered_at, notice_count "
        "FROM outbox ORDER BY agency, position",
    )


@dataclass
class HttpWorld:
    """A fault-free HTTP run, a second identical run, and a plain-file run of the same feeds."""

    root: Path
    gateways: dict[str, RunningGateway]
    http_db: Path
    plain_db: Path
    first: dict[str, Any]
    second: dict[str, Any]
    listings: dict[str, list[dict[str, Any]]]
    listings_after_second: dict[str, list[dict[str, Any]]]
    outbox_after_first: list[tuple[Any, ...]]
    outbox_after_second: list[tuple[Any, ...]]
    plain_exports: dict[str, Any]
    http_exports: dict[str, Any]


@pytest.fixture(scope="module")
def http_world(inputs: Inputs) -> Iterator[HttpWorld]:
    root = inputs.root / "http"
    root.mkdir()
    gateways = _start_pair(inputs, root)
    try:
        http_db, plain_db = root / "http.db", root / "plain.db"
        urls = {agency: gateway.url for agency, gateway in gateways.items()}
        first = _summary(_run(http_db, urls["probation"], urls["police"], inputs.keys, root))
        listings = {a: _listing(inputs, gateways[a], a) for a in AGENCIES}
        outbox_first = _outbox(http_db)
        second = _summary(_run(http_db, urls["probation"], urls["police"], inputs.keys, root))
        _run(
            plain_db, str(inputs.feeds["probation"]), str(inputs.feeds["police"]), inputs.keys, root
        )
        yield HttpWorld(
            root,
            gateways,
            http_db,
            plain_db,
            first,
            second,
            listings,
            {a: _listing(inputs, gateways[a], a) for a in AGENCIES},
            outbox_first,
            _outbox(http_db),
            _exports(plain_db, root, inputs.keys),
            _exports(http_db, root, inputs.keys),
        )
    finally:
        _stop_all(gateways)


# -- 1. end to end over HTTP --------------------------------------------------------------


def test_http_run_pulls_every_page_once_and_decides_as_the_plain_file_run(
    inputs: Inputs, http_world: HttpWorld
) -> None:
    for agency, count in inputs.lines.items():
        counts = http_world.first["feeds"][agency]
        assert counts["read"] == count
        assert counts["units"] == math.ceil(count / PAGE_SIZE)
    assert http_world.first["feed_errors"] == {}
    assert http_world.http_exports == http_world.plain_exports
    assert http_world.first["subjects"] == int(SUBJECTS)


def test_each_gateway_holds_exactly_the_notices_queued_for_it(
    inputs: Inputs, http_world: HttpWorld
) -> None:
    for agency in AGENCIES:
        listed = _notices(http_world.listings[agency])
        ids = [notice["notice_id"] for notice in listed]
        queued = _query(
            http_world.http_db, "SELECT notice_id FROM notices WHERE agency = ?", (agency,)
        )
        assert len(ids) == len(set(ids))
        assert set(ids) == {row[0] for row in queued}
        assert len(ids) == http_world.first["delivered"][agency]["notices"]
        assert {row["sender"] for row in http_world.listings[agency]} == {"hub"}
        assert {row["content_type"] for row in http_world.listings[agency]} == {
            CONTENT_TYPE_NOTICES
        }


def test_ownership_notices_cover_every_subject_holding_a_record_of_the_agency(
    http_world: HttpWorld,
) -> None:
    for agency in AGENCIES:
        owned = [
            n["subject_id"]
            for n in _notices(http_world.listings[agency])
            if n["kind"] == "ownership"
        ]
        assert len(owned) == len(set(owned))
        assert set(owned) == _subjects_of(http_world.http_exports, agency)


def _leaves(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str):
        yield value


def _named_persons(notice: dict[str, Any], agency: str) -> list[tuple[str, str]]:
    own = [(agency, pid) for pid in notice.get("person_ids", [])]
    other = [(ref["agency"], ref["person_id"]) for ref in notice.get("counterpart", [])]
    return own + other


def test_notices_name_only_own_references_and_no_personal_data(
    inputs: Inputs, http_world: HttpWorld
) -> None:
    names = inputs.values("surname") | inputs.values("forenames")
    identifiers = inputs.values("pnc") | inputs.values("cro")
    for agency in AGENCIES:
        own_ids, other_ids = inputs.person_ids(agency), inputs.person_ids(OTHER[agency])
        for row in http_world.listings[agency]:
            text = json.dumps(row["batch"])
            assert not [value for value in identifiers if value in text]
        for notice in _notices(http_world.listings[agency]):
            assert set(notice) <= NOTICE_FIELDS
            assert set(notice.get("person_ids", [])) <= own_ids
            assert set(notice.get("flag_person_ids") or []) <= own_ids
            for ref in notice.get("counterpart", []):
                assert ref["agency"] == OTHER[agency]
                assert ref["person_id"] in other_ids
            leaves = set(_leaves(notice))
            assert not leaves & names
            births = {
                inputs.persons[key].get("date_of_birth") for key in _named_persons(notice, agency)
            }
            assert not leaves & births


def test_every_outbox_batch_holds_a_signed_receipt_that_verifies(
    inputs: Inputs, http_world: HttpWorld
) -> None:
    hub = load_keyring(inputs.keys, Party.HUB)
    rows = http_world.outbox_after_first
    assert len(rows) == http_world.first["notice_batches"] > 0
    for batch_id, agency, envelope, receipt, delivered_at, _count in rows:
        header = parse_header(json.loads(envelope)["header"])
        assert (header.recipient.value, header.msg_id) == (agency, batch_id)
        assert delivered_at is not None
        verified = verify_receipt(
            json.loads(receipt), keyring=hub, agency=Party(agency), now=datetime.now(UTC)
        )
        assert verified.msg_id == batch_id
        assert verified.digest == wire_digest(bytes(envelope))


def test_a_second_identical_run_delivers_nothing_new(http_world: HttpWorld) -> None:
    second = http_world.second
    assert second["notice_batches"] == 0
    assert all(counts["read"] == 0 for counts in second["feeds"].values())
    assert all(counts["notices"] == 0 for counts in second["delivered"].values())
    assert http_world.outbox_after_second == http_world.outbox_after_first
    assert http_world.listings_after_second == http_world.listings


# -- 2. faults ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_run(
    inputs: Inputs, http_world: HttpWorld
) -> Iterator[tuple[Path, dict[str, Any], dict[str, list[Any]]]]:
    root = inputs.root / "faults"
    root.mkdir()
    extra = (
        "--fail-rate",
        FAIL_RATE,
        "--fault-seed",
        FAULT_SEED,
        "--fault-delay",
        FAULT_DELAY_SECONDS,
    )
    gateways = _start_pair(inputs, root, extra)
    env = _hub_env(
        ARMS_SYNC_HTTP_TIMEOUT_SECONDS=HUB_TIMEOUT_SECONDS,
        ARMS_SYNC_GATEWAY_RETRY_ATTEMPTS=FAULT_RETRY_ATTEMPTS,
        ARMS_SYNC_GATEWAY_RETRY_BASE_SECONDS=FAULT_RETRY_BASE_SECONDS,
        ARMS_SYNC_GATEWAY_RETRY_MAX_SECONDS=FAULT_RETRY_MAX_SECONDS,
    )
    try:
        db = root / "faults.db"
        summary = _summary(
            _run(db, gateways["probation"].url, gateways["police"].url, inputs.keys, root, env=env)
        )
        listings = {a: _listing(inputs, gateways[a], a) for a in AGENCIES}
        yield db, summary, listings
    finally:
        _stop_all(gateways)


def test_faulty_gateways_still_get_every_page_once(
    inputs: Inputs, http_world: HttpWorld, fault_run: tuple[Path, dict[str, Any], Any]
) -> None:
    db, summary, _listings = fault_run
    assert summary["feed_errors"] == {}
    for agency, count in inputs.lines.items():
        assert summary["feeds"][agency]["read"] == count
        assert summary["feeds"][agency]["units"] == math.ceil(count / PAGE_SIZE)
    assert _exports(db, inputs.root, inputs.keys) == http_world.plain_exports


def test_faulty_gateways_receive_every_notice_exactly_once(
    http_world: HttpWorld, fault_run: tuple[Path, dict[str, Any], dict[str, list[Any]]]
) -> None:
    _db, summary, listings = fault_run
    for agency in AGENCIES:
        ids = [notice["notice_id"] for notice in _notices(listings[agency])]
        assert len(ids) == len(set(ids))
        fault_free = _notices(http_world.listings[agency])
        assert len(ids) == len(fault_free) == summary["delivered"][agency]["notices"]
        assert sorted((n["kind"], n["subject_id"]) for n in _notices(listings[agency])) == sorted(
            (n["kind"], n["subject_id"]) for n in fault_free
        )


# -- 3. sealed files through `run` ---------------------------------------------------------


def _seal_file(keys: Path, source: Path, target: Path, cwd: Path, recipient: str = "hub") -> Path:
    run_cli(
        "envelope",
        "seal",
        "--keys",
        str(keys),
        "--from",
        "probation",
        "--to",
        recipient,
        "--page-lines",
        str(PAGE_LINES),
        str(source),
        str(target),
        cwd=cwd,
    )
    return target


@pytest.fixture(scope="module")
def sealed(inputs: Inputs) -> SealedWorld:
    root = inputs.root / "sealed"
    root.mkdir()
    lines = inputs.feeds["probation"].read_text().splitlines(keepends=True)
    plain_a = root / "part-a.jsonl"
    plain_a.write_text("".join(lines[: int(len(lines) * BASELINE_SHARE)]))
    part_a = _seal_file(inputs.keys, plain_a, root / "a.sealed.jsonl", root)
    full_b = _seal_file(inputs.keys, inputs.feeds["probation"], root / "b.sealed.jsonl", root)
    to_police = _seal_file(
        inputs.keys, inputs.feeds["probation"], root / "p.sealed.jsonl", root, recipient="police"
    )
    base_db = root / "base.db"
    _run(base_db, str(part_a), str(inputs.feeds["police"]), inputs.keys, root)
    return SealedWorld(
        root, inputs.keys, base_db, inputs.feeds["police"], part_a, plain_a, full_b, to_police
    )


def _ledger_copy(world: SealedWorld, directory: Path) -> Path:
    target = directory / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{world.base_db}{suffix}")
        if source.exists():
            shutil.copy(source, Path(f"{target}{suffix}"))  # with its owner-only mode
    return target


def _keys_copy(world: SealedWorld, directory: Path) -> Path:
    target = directory / "keys"
    shutil.copytree(world.keys, target)
    return target


def _keys_rotated_for_probation(world: SealedWorld, directory: Path, grace_days: str) -> Path:
    """A copy of the world's keys with probation's rotated, the old key kept `grace_days`."""
    keys = _keys_copy(world, directory)
    rotate = ["keys", "rotate", "--party", "probation", "--grace-days", grace_days]
    run_cli(*rotate, "--dir", str(keys), cwd=directory)
    return keys


def _assert_one_sentence(stderr: str, fragment: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert lines[0].endswith(".")
    assert fragment in lines[0]


def _attempt(
    world: SealedWorld,
    directory: Path,
    feed: Path,
    *,
    as_agency: str = "probation",
    keys: Path | None = None,
) -> tuple[Any, dict[str, set[tuple[Any, ...]]], dict[str, set[tuple[Any, ...]]]]:
    db = _ledger_copy(world, directory)
    feeds = {"probation": str(world.part_a), "police": str(world.police_feed), as_agency: str(feed)}
    before = _snapshot(db)
    result = _run(
        db, feeds["probation"], feeds["police"], keys or world.keys, directory, check=False
    )
    return result, before, _snapshot(db)


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_refused_sealed_file_applies_nothing(
    sealed: SealedWorld, tmp_path: Path, attack: str
) -> None:
    build, agency, fragment = ATTACKS[attack]
    feed = build(sealed, tmp_path / "attack.sealed.jsonl")
    result, before, after = _attempt(sealed, tmp_path, feed, as_agency=agency)
    assert result.returncode == 2
    _assert_one_sentence(result.stderr, fragment)
    assert re.search(rf"Page \d+ of {re.escape(feed.name)} ", result.stderr)  # file and page
    assert after == before


@pytest.mark.parametrize("dropped", ["second", "last"])
def test_a_sealed_file_missing_a_whole_page_applies_nothing(
    sealed: SealedWorld, tmp_path: Path, dropped: str
) -> None:
    lines = sealed.full_b.read_bytes().splitlines(keepends=True)
    assert len(lines) > 2
    kept = [
        line
        for index, line in enumerate(lines)
        if index != (1 if dropped == "second" else len(lines) - 1)
    ]
    feed = tmp_path / "short.sealed.jsonl"
    feed.write_bytes(b"".join(kept))
    result, before, after = _attempt(sealed, tmp_path, feed)
    assert result.returncode == 2
    _assert_one_sentence(result.stderr, f"The sealed file {feed.name} ")
    assert after == before


def test_the_very_same_sealed_file_again_changes_nothing(
    sealed: SealedWorld, tmp_path: Path
) -> None:
    result, before, after = _attempt(sealed, tmp_path, sealed.part_a)
    assert result.returncode == 0
    assert _summary(result)["feeds"]["probation"]["read"] == 0
    assert after == before


def test_the_larger_sealed_file_applies_when_nothing_is_wrong(
    sealed: SealedWorld, tmp_path: Path
) -> None:
    result, before, after = _attempt(sealed, tmp_path, sealed.full_b)
    assert result.returncode == 0
    assert after["records"] > before["records"]


def _probation_sign_key(keys: Path, cwd: Path) -> str:
    listed = run_cli("keys", "list", "--json", "--dir", str(keys), cwd=cwd).stdout
    entries = [json.loads(line) for line in listed.splitlines()]
    return next(
        str(e["key_id"])
        for e in entries
        if e["party"] == "probation" and e["use"] == "sign" and e["status"] == "active"
    )


def test_a_revoked_sender_key_is_refused(sealed: SealedWorld, tmp_path: Path) -> None:
    keys = _keys_copy(sealed, tmp_path)
    run_cli(
        "keys",
        "revoke",
        "--party",
        "probation",
        "--key-id",
        _probation_sign_key(keys, tmp_path),
        "--dir",
        str(keys),
        cwd=tmp_path,
    )
    result, before, after = _attempt(sealed, tmp_path, sealed.full_b, keys=keys)
    assert result.returncode == 2
    _assert_one_sentence(result.stderr, "revoked")
    assert after == before


def _open_cli(keys: Path, sealed_file: Path, cwd: Path) -> int:
    result = run_cli(
        "envelope",
        "open",
        "--as",
        "hub",
        "--keys",
        str(keys),
        str(sealed_file),
        str(cwd / "opened.jsonl"),
        cwd=cwd,
        check=False,
    )
    return result.returncode


def test_a_sender_key_rotated_mid_flight_opens_during_its_grace_period(
    sealed: SealedWorld, tmp_path: Path
) -> None:
    keys = _keys_rotated_for_probation(sealed, tmp_path, grace_days="30")
    assert _open_cli(keys, sealed.full_b, tmp_path) == 0
    result, before, after = _attempt(sealed, tmp_path, sealed.full_b, keys=keys)
    assert result.returncode == 0
    assert after["records"] > before["records"]


def test_a_sender_key_rotated_mid_flight_is_refused_after_its_grace_period(
    sealed: SealedWorld, tmp_path: Path
) -> None:
    keys = _keys_rotated_for_probation(sealed, tmp_path, grace_days="0")
    assert _open_cli(keys, sealed.full_b, tmp_path) == 2
    result, before, after = _attempt(sealed, tmp_path, sealed.full_b, keys=keys)
    assert result.returncode == 2
    _assert_one_sentence(result.stderr, "grace period")
    assert after == before


# -- live pages and the clock-skew window --------------------------------------------------


def _live_app(inputs: Inputs, db: Path, skew: timedelta) -> App:
    settings = load_settings(
        None,
        database_url=_db_url(db),
        keys_dir=inputs.keys,
        gateway_client_id=CLIENT_ID,
        gateway_client_secret=CLIENT_SECRET,
        gateway_page_size=PAGE_SIZE,
    )
    return App(settings, clock=lambda: datetime.now(UTC) + skew)


def test_a_live_page_sealed_outside_the_clock_skew_window_is_refused(
    inputs: Inputs, http_world: HttpWorld, tmp_path: Path
) -> None:
    url = http_world.gateways["probation"].url
    skewed = _live_app(inputs, tmp_path / "skewed.db", LIVE_SKEW)
    in_time = _live_app(inputs, tmp_path / "in-time.db", timedelta(0))
    try:
        refused = run_cycle(
            skewed,
            {"probation": gateway_source(url, "probation", skewed)},
            date.fromisoformat(AS_OF),
        )
        summary = run_cycle(
            in_time,
            {"probation": gateway_source(url, "probation", in_time)},
            date.fromisoformat(AS_OF),
        )
    finally:
        skewed.close()
        in_time.close()
    # A refused live page is that gateway's failure; the run goes on for the other agency.
    assert "clock-skew" in refused.feed_errors["probation"]
    assert "probation" not in refused.feeds
    assert _query(tmp_path / "skewed.db", "SELECT COUNT(*) FROM records") == [(0,)]
    assert _query(tmp_path / "skewed.db", "SELECT COUNT(*) FROM feed_cursors") == [(0,)]
    assert summary.feeds["probation"].read == inputs.lines["probation"]


# -- 4. at rest ---------------------------------------------------------------------------


def _file_bytes(db: Path) -> bytes:
    wal = Path(f"{db}-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _in_clear(blob: bytes, values: set[str]) -> set[str]:
    """Values found outside sealed base64 runs; short ones only as JSON strings."""
    text = BASE64_RUN.sub(b"#", blob)
    found = set()
    for value in values:
        needle = value.encode()
        if len(value) < MIN_BARE_VALUE_LENGTH:
            needle = b'"' + needle + b'"'
        if needle in text:
            found.add(value)
    return found


def _period_dates(db: Path) -> dict[str, set[str]]:
    """Dates kept in the clear as period boundaries or reference dates, by subject."""
    rows = _query(
        db,
        'SELECT subject_id, start, "end" FROM segments '
        "UNION ALL SELECT subject_id, reference_date, NULL FROM flags",
    )
    dates: dict[str, set[str]] = {}
    for subject_id, start, end in rows:
        dates.setdefault(subject_id, set()).update(str(d) for d in (start, end) if d)
    return dates


def _births_by_subject(db: Path, inputs: Inputs) -> dict[str, set[str]]:
    births: dict[str, set[str]] = {}
    for agency, person_id, subject_id in _query(
        db, "SELECT agency, person_id, subject_id FROM subject_members"
    ):
        dob = inputs.persons.get((agency, person_id), {}).get("date_of_birth")
        if dob:
            births.setdefault(subject_id, set()).add(dob)
    return births


def test_the_keyed_ledger_holds_no_personal_data_in_the_clear(
    inputs: Inputs, http_world: HttpWorld
) -> None:
    db = http_world.http_db
    blob = _file_bytes(db)
    assert _query(db, "SELECT COUNT(*) FROM rejects") == [(2,)]
    for kind in ("surname", "forenames", "pnc", "cro"):
        in_clear = len(_in_clear(blob, inputs.values(kind)))  # a count: never print values
        assert in_clear == 0, kind
    period_dates = _period_dates(db)
    # A boundary of some subject's timeline may fall on another person's birthday;
    # a subject's own boundaries never equal its own dates of birth.
    births = _births_by_subject(db, inputs)
    own_births_as_boundaries = sum(
        len(dates & births.get(subject_id, set())) for subject_id, dates in period_dates.items()
    )
    assert own_births_as_boundaries == 0
    boundaries = set().union(*period_dates.values())
    births_in_clear = len(_in_clear(blob, inputs.values("date_of_birth")) - boundaries)
    assert births_in_clear == 0


def test_a_ledger_without_keys_is_encrypted_too_and_the_scan_finds_clear_values(
    inputs: Inputs, tmp_path: Path
) -> None:
    db = tmp_path / "unkeyed.db"
    _run(db, str(inputs.feeds["probation"]), str(inputs.feeds["police"]), None, tmp_path)
    blob = _file_bytes(db)
    for kind in ("surname", "forenames", "pnc", "cro"):
        in_clear = len(_in_clear(blob, inputs.values(kind)))  # a count: never print values
        assert in_clear == 0, kind
    # The same scan over the feeds, where every value is in the clear, finds each one.
    feeds = b"".join(path.read_bytes() for path in inputs.feeds.values())
    for kind in PERSONAL_FIELDS:
        found = _in_clear(feeds, inputs.values(kind))
        assert all(forms & found for forms in inputs.forms(kind))


# -- outbox batches that wait ---------------------------------------------------------------


def test_a_batch_that_waited_past_the_skew_window_is_still_delivered(
    inputs: Inputs, tmp_path: Path
) -> None:
    db = tmp_path / "waited.db"
    _run(db, str(inputs.feeds["probation"]), str(inputs.feeds["police"]), inputs.keys, tmp_path)
    gateway = _start_pair(inputs, tmp_path, ("--max-skew", str(GATEWAY_SKEW_SECONDS)))
    try:
        time.sleep(GATEWAY_SKEW_SECONDS + 1)
        result = _run(
            db,
            gateway["probation"].url,
            str(inputs.feeds["police"]),
            inputs.keys,
            tmp_path,
            check=False,
        )
        listed = _notices(_listing(inputs, gateway["probation"], "probation"))
    finally:
        _stop_all(gateway)
    queued = _query(db, "SELECT notice_id FROM notices WHERE agency = ?", ("probation",))
    assert result.returncode == 0
    assert {n["notice_id"] for n in listed} == {row[0] for row in queued}
