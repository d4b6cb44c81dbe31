"""What an in-process cycle makes of a failing gateway feed, an edited policy, its settings.

On SQLite, reading the police reference gateway on 127.0.0.1 behind a
scripted front (`fronted_gateway.py`): a gateway that fails, or serves a page
that cannot be opened or that another agency sealed, is its agency's feed
error, the pages read before it stay counted and the other agency's feed is
still read; the run is `partial`. A sealed file refused likewise stops the
run. A policy version edited under an id an
earlier run recorded is refused before any feed is read, and before any
decision pass; a run records the versions, their dates and digests and the
training dates it decided under. A pass that no longer fits the ledger is
decided again, as the log says in the words `docs/operations.md` gives. The settings'
validation processes are the pool the run offers. The summary counts the
notice batches the run queued (a pass whose notices were worked out elsewhere
queues those, not its own), and says nothing of notices waiting unsealed
for an agency the key ring lacks when the run had none for it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sync.app import App
from sync.crypto import CONTENT_TYPE_FEED, Party, generate_party
from sync.crypto.keyring import data_key_path, rotate
from sync.crypto.sealed_file import seal_lines
from sync.cycle import (
    CheckedPass,
    RunSummary,
    compute_decisions,
    decide_and_store,
    decision_inputs,
    run_cycle,
)
from sync.errors import ConfigurationError, InputRefused
from sync.feeds.files import PlainFileSource, SealedFileSource
from sync.feeds.parallel import validating_in_processes
from sync.gateway.oauth import TokenIssuer
from sync.gateway_source import GatewaySource
from sync.ingest import FeedSource
from sync.ledger import schema
from sync.ledger.runs import RUN_PARTIAL, RUN_SUCCEEDED
from sync.policy_file import version_digest
from sync.settings import Settings, load_settings
from sync.synth.options import SynthOptions
from sync.synth.stream import write_synthetic_feeds
from tests.feed_records import Record, person, write_feed, write_sources
from tests.integration.fronted_gateway import FrontedGateway, fronted_gateway, reference_gateway
from tests.integration.gateway_process import CLIENT_ID, CLIENT_SECRET, make_keys
from tests.integration.gateway_thread import hub_tokens
from tests.scripted_http import Relay, reply

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
POLICE = Party.POLICE
FEED = "feed"
# The gateway's answer when it fails, as its fault injector gives it.
FAILED = reply(500, {"error": "internal_error", "reason": "The gateway failed."})
FAILED_SAYS = (
    "the police gateway did not answer GET /feed after 1 attempt (last: HTTP 500 internal_error)."
)
POLICY = """[[version]]
id = "local-first"
rollout_offset_months = {offset}
rules = [
  {{ rule = "OUT-NOT-MALE", owner = "none" }},
  {{ rule = "PROB-SEXUAL", owner = "probation" }},
  {{ rule = "POLICE-REGISTERED", owner = "police" }},
  {{ rule = "NONE-NOT-IN-SCOPE", owner = "none" }},
]
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    application = App(Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    yield application
    application.close()


def _statuses(app: App) -> list[str]:
    with app.ledger.engine.connect() as conn:
        query = select(schema.runs.c.status).order_by(schema.runs.c.id)
        return [str(status) for status in conn.execute(query).scalars()]


@dataclass
class PoliceGateway:
    """The hub on its ledger, and the police gateway it reads one record a page from."""

    app: App
    front: FrontedGateway
    tokens: TokenIssuer
    keys: Path
    folder: Path

    def source(self) -> GatewaySource:
        """The police feed as a run reads it, through the hub's real client."""
        client = self.app.gateway_client(self.front.url, POLICE.value)
        return GatewaySource(self.app, self.front.url, POLICE.value, client)

    @contextmanager
    def other(self, agency: Party, keys: Path) -> Iterator[str]:
        """Another reference gateway taking the same tokens, serving two records of
        `agency` under the keys in `keys`, for the front to relay a call to."""
        feed = write_feed(self.folder / f"{agency.value}-feed.jsonl", _gateway_records(agency))
        state = self.folder / f"{agency.value}-{keys.name}-state"
        with reference_gateway(agency, keys, feed, state, self.tokens) as url:
            yield url


def _gateway_records(agency: Party) -> list[Record]:
    prefix = "GMP" if agency is POLICE else "X00000"
    return [person(agency.value, f"{prefix}{number}") for number in (1, 2)]


@contextmanager
def _police_gateway(tmp_path: Path, records: list[Record]) -> Iterator[PoliceGateway]:
    keys = tmp_path / "keys"
    make_keys(keys)
    tokens = hub_tokens()
    feed = write_feed(tmp_path / "police-feed.jsonl", records)
    settings = load_settings(
        None,
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        keys_dir=keys,
        gateway_client_id=CLIENT_ID,
        gateway_client_secret=CLIENT_SECRET,
        gateway_retry_attempts=1,
        gateway_page_size=1,
    )
    app = App(settings)
    try:
        with fronted_gateway(POLICE, keys, feed, tmp_path / "state", FEED, tokens) as front:
            yield PoliceGateway(app, front, tokens, keys, tmp_path)
    finally:
        app.close()


def _rotated_copy(keys: Path, party: Party) -> Path:
    """A copy of the key directory in which `party` has new keys the hub never imported."""
    rotated = keys.with_name(f"{keys.name}-rotated")
    shutil.copytree(keys, rotated)
    rotate(rotated, party, timedelta(days=7))
    return rotated


def _run_reading_police_gateway(tmp_path: Path, police: PoliceGateway) -> RunSummary:
    probation = write_feed(tmp_path / "probation.jsonl", [person("probation", "X000001")])
    sources: dict[str, FeedSource] = {
        "probation": PlainFileSource(probation),
        "police": police.source(),
    }
    return run_cycle(police.app, sources, AS_OF)


def _page_two_of(police: PoliceGateway) -> str:
    return f"Page 2 of {police.source().name}"


@pytest.mark.parametrize("failure", ["failed", "unknown-signer", "other-agency"])
def test_a_failing_gateway_is_its_agencys_feed_error_and_the_run_is_partial(
    tmp_path: Path, failure: str
) -> None:
    """Page 1 is read; page 2 fails: the gateway fails, or the page comes sealed with a
    police key the hub never imported, or sealed by probation."""
    with _police_gateway(tmp_path, _gateway_records(POLICE)) as police, ExitStack() as stack:
        upstream = police.front.upstream
        if failure == "failed":
            police.front.script = [Relay(upstream), FAILED]
            says = FAILED_SAYS
        elif failure == "unknown-signer":
            rotated = _rotated_copy(police.keys, POLICE)
            police.front.script = [
                Relay(upstream),
                Relay(stack.enter_context(police.other(POLICE, rotated))),
            ]
            says = f"{_page_two_of(police)} cannot be opened: police's signing key "
        else:
            probation = stack.enter_context(police.other(Party.PROBATION, police.keys))
            police.front.script = [Relay(upstream), Relay(probation)]
            says = f"{_page_two_of(police)} was sealed by probation, not by police."
        summary = _run_reading_police_gateway(tmp_path, police)
        assert len(police.front.endpoint_calls()) == 2
        statuses = _statuses(police.app)
    assert list(summary.feed_errors) == ["police"]
    assert summary.feed_errors["police"].startswith(says)
    assert list(summary.feeds) == ["probation", "police"]
    assert (summary.feeds["police"].units, summary.feeds["police"].accepted) == (1, 1)
    assert summary.feeds["probation"].accepted == 1
    assert summary.changed == {"probation": 1, "police": 1}
    assert statuses == [RUN_PARTIAL]


def test_a_gateway_failing_before_its_first_page_has_no_counts(tmp_path: Path) -> None:
    with _police_gateway(tmp_path, _gateway_records(POLICE)) as police:
        police.front.script = [FAILED]
        summary = _run_reading_police_gateway(tmp_path, police)
    assert list(summary.feeds) == ["probation"]
    assert summary.feed_errors == {"police": FAILED_SAYS}


def test_a_gateway_with_no_new_page_is_counted_as_read_with_nothing_in_it(
    tmp_path: Path,
) -> None:
    with _police_gateway(tmp_path, []) as police:
        summary = _run_reading_police_gateway(tmp_path, police)
        statuses = _statuses(police.app)
    assert list(summary.feeds) == ["probation", "police"]
    assert (summary.feeds["police"].read, summary.feeds["police"].units) == (0, 0)
    assert summary.feed_errors == {}
    assert statuses == [RUN_SUCCEEDED]


def test_a_feed_file_failing_likewise_stops_the_run(tmp_path: Path) -> None:
    """A sealed police file sealed by probation is refused whole, and the run stops."""
    keys = tmp_path / "keys"
    keyrings = make_keys(keys)
    records = [json.dumps(person("police", "GMP-1")).encode()]
    wire = seal_lines(
        records,
        sender=Party.PROBATION,
        recipient=Party.HUB,
        keyring=keyrings[Party.PROBATION],
        content_type=CONTENT_TYPE_FEED,
        now=datetime.now(UTC),
    )
    sealed = tmp_path / "police.sealed"
    sealed.write_bytes(b"".join(line + b"\n" for line in wire))
    probation = write_feed(tmp_path / "probation.jsonl", [person("probation", "X000001")])
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.db'}", keys_dir=keys)
    app = App(settings)
    try:
        police = SealedFileSource(sealed, keyrings[Party.HUB], app.clock)
        with pytest.raises(InputRefused, match="was sealed by probation, not by police"):
            run_cycle(app, {"probation": PlainFileSource(probation), "police": police}, AS_OF)
        statuses = _statuses(app)
    finally:
        app.close()
    assert RUN_PARTIAL not in statuses
    assert RUN_SUCCEEDED not in statuses


def test_a_policy_version_edited_under_a_recorded_id_is_refused_before_any_feed_is_read(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.format(offset=6), encoding="utf-8")
    sources = write_sources(tmp_path, [person("probation", "X000001")], [person("police", "GMP-1")])
    first = App(Settings(database_url=url, policy_file=policy))
    try:
        assert run_cycle(first, sources, AS_OF).policy["versions"][0]["id"] == "local-first"
    finally:
        first.close()
    policy.write_text(POLICY.format(offset=3), encoding="utf-8")
    edited = App(Settings(database_url=url, policy_file=policy))
    told: list[str] = []
    try:
        with pytest.raises(ConfigurationError, match="Policy version local-first is not the one"):
            run_cycle(edited, sources, AS_OF, told.append)
        with pytest.raises(ConfigurationError, match="Policy version local-first is not the one"):
            decision_inputs(edited, AS_OF)  # a preview's or a distributed commit's pass
        with edited.ledger.engine.connect() as conn:
            runs = conn.execute(select(func.count()).select_from(schema.runs)).scalar_one()
    finally:
        edited.close()
    assert told == []  # no feed was read
    assert runs == 1


def test_a_run_records_the_policy_versions_and_training_dates_it_decided_under(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.toml"
    later = POLICY.replace('id = "local-first"', 'id = "local-later"\neffective_from = 2027-04-01')
    policy.write_text(POLICY.format(offset=6) + later.format(offset=3), encoding="utf-8")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        policy_file=policy,
        default_training_date=date(2016, 3, 31),
        training_dates={"WM": date(2016, 5, 1), "NW": date(2016, 1, 31)},
    )
    app = App(settings)
    try:
        summary = run_cycle(app, write_sources(tmp_path, [], []), AS_OF)
        digests = [version_digest(version) for version in app.policy.policies]
    finally:
        app.close()
    assert summary.policy == {
        "versions": [
            {"id": "local-first", "effective_from": None, "digest": digests[0]},
            {"id": "local-later", "effective_from": "2027-04-01", "digest": digests[1]},
        ],
        "default_training_date": "2016-03-31",
        "training_dates": {"NW": "2016-01-31", "WM": "2016-05-01"},
    }
    assert list(summary.policy["training_dates"]) == ["NW", "WM"]
    assert digests[0] != digests[1]


@pytest.mark.parametrize("processes", [0, 3])
def test_the_run_offers_the_validation_processes_the_settings_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    import sync.cycle

    offered: list[int] = []
    pool = validating_in_processes

    def recording(count: int) -> object:
        offered.append(count)
        return pool(0)

    monkeypatch.setattr(sync.cycle, "validating_in_processes", recording)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.db'}", validation_processes=processes
    )
    app = App(settings)
    try:
        run_cycle(app, write_sources(tmp_path, [], []), AS_OF)
    finally:
        app.close()
    assert offered == [processes]


def test_the_summary_counts_the_notice_batches_the_run_queued(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 'hub.db'}", keys_dir=keys)
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=40, seed=7, today=AS_OF))
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    app = App(settings)
    try:
        app.ledger.ensure_schema()
        first = run_cycle(app, sources, AS_OF)
        again = run_cycle(app, sources, AS_OF)
        with app.ledger.engine.connect() as conn:
            queued = conn.execute(select(func.count()).select_from(schema.outbox)).scalar_one()
    finally:
        app.close()
    assert first.notice_batches == queued > 1
    assert again.notice_batches == 0


def test_an_agency_the_key_ring_lacks_is_not_told_of_when_no_notice_goes_to_it(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    for party in (Party.HUB, Party.PROBATION):
        generate_party(keys, party)
    settings = load_settings(None, database_url=f"sqlite:///{tmp_path / 'hub.db'}", keys_dir=keys)
    app = App(settings)
    try:
        app.ledger.ensure_schema()
        sources = write_sources(tmp_path, [person("probation", "X000001")], [])
        summary = run_cycle(app, sources, AS_OF)
    finally:
        app.close()
    assert summary.notice_batches == 1
    assert summary.delivery_notes == {}


def test_each_stale_pass_is_logged_as_the_operations_guide_words_it(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sync.cycle

    def never_fits(app: App, as_of: date) -> CheckedPass:
        return CheckedPass(compute_decisions(app, decision_inputs(app, as_of)), lambda _c: False)

    monkeypatch.setattr(sync.cycle, "fresh_pass", never_fits)
    sources = write_sources(tmp_path, [person("probation", "X000001")], [])
    with caplog.at_level(logging.INFO, logger=sync.cycle.__name__):
        summary = run_cycle(app, sources, AS_OF)
    said = [record.getMessage() for record in caplog.records if record.name == "sync.cycle"]
    changed = f"run {summary.run_id}: the ledger changed while its decision pass was computed;"
    assert said == [
        f"{changed} deciding again (retry 1 of 2)",
        f"{changed} deciding again under the decision-store lock (retry 2 of 2)",
    ]
    assert summary.subjects == 1
    assert _statuses(app) == [RUN_SUCCEEDED]


def test_a_pass_whose_notices_were_worked_out_elsewhere_queues_those_not_its_own(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    make_keys(keys)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    feeds = tmp_path / "feeds"
    write_synthetic_feeds(feeds, SynthOptions(subjects=20, seed=7, today=AS_OF))
    sources = {a: PlainFileSource(feeds / f"{a}.jsonl") for a in ("probation", "police")}
    unsealed = App(load_settings(None, database_url=url, at_rest_key_file=data_key_path(keys)))
    try:
        unsealed.ledger.ensure_schema()
        assert run_cycle(unsealed, sources, AS_OF).notice_batches == 0  # no keys: no outbox
    finally:
        unsealed.close()
    app = App(load_settings(None, database_url=url, keys_dir=keys))
    try:
        own = compute_decisions(app, decision_inputs(app, AS_OF))
        with app.ledger.in_process_run(AS_OF, app.clock) as run_id:
            checked = CheckedPass(own, lambda _conn: True, notices=())
            _decisions, batches = decide_and_store(app, AS_OF, run_id, first=checked)
        assert batches == 0
        assert run_cycle(app, sources, AS_OF).notice_batches > 0  # the pass's own notices
    finally:
        app.close()


def notices_queued(app: App, run_id: int) -> list[dict[str, object]]:
    """The notices a run queued, as each agency's batches hold them (sealed or not)."""
    outbox, notices = schema.outbox, schema.notices
    batch_ids = select(notices.c.batch_id).where(notices.c.created_run == run_id).distinct()
    query = (
        select(outbox.c.batch_id, outbox.c.sealed_batch)
        .where(outbox.c.batch_id.in_(batch_ids))
        .order_by(outbox.c.agency, outbox.c.position)
    )
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        notice
        for batch_id, kept in rows
        for notice in json.loads(app.field_cipher.decrypt(f"outbox/{batch_id}", bytes(kept)))[
            "notices"
        ]
    ]


def test_notices_decided_before_a_feed_was_ever_read_whole_say_so_until_it_is(
    tmp_path: Path,
) -> None:
    """The police gateway fails at page 2 of its first pull: probation's person is decided
    without most of the police feed, so every notice names police under `provisional`.
    Once the police feed is read to its end, each is replaced by one without it; a later
    failure, the feed read whole before, makes nothing provisional."""
    with _police_gateway(tmp_path, _gateway_records(POLICE)) as police:
        police.front.script = [Relay(police.front.upstream), FAILED]
        first = _run_reading_police_gateway(tmp_path, police)
        whole = _run_reading_police_gateway(tmp_path, police)
        police.front.script = [FAILED]
        failed_again = _run_reading_police_gateway(tmp_path, police)
        told_first = notices_queued(police.app, first.run_id)
        told_whole = notices_queued(police.app, whole.run_id)
    assert (list(first.feed_errors), first.provisional) == (["police"], ["police"])
    assert any(line.startswith("provisional: the police feed has never") for line in first.lines())
    assert {notice["kind"] for notice in told_first} == {"ownership"}
    assert [notice["provisional"] for notice in told_first] == [["police"]] * len(told_first)
    assert (whole.feed_errors, whole.provisional) == ({}, [])
    assert not [line for line in whole.lines() if line.startswith("provisional")]
    assert told_whole
    assert not [notice for notice in told_whole if "provisional" in notice]
    replaced = {notice["replaces"] for notice in told_whole}
    assert {notice["notice_id"] for notice in told_first} <= replaced
    assert (list(failed_again.feed_errors), failed_again.provisional) == (["police"], [])
    assert failed_again.notice_batches == 0
