"""What reading a feed counts and keeps: figures, rejects by agency, cursor, held-back files.

Gateway pages come from the probation reference gateway on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from sync.app import App
from sync.audit.tables import audit_log
from sync.crypto import Party
from sync.feeds.files import PlainFileSource
from sync.gateway.feed import encode_cursor
from sync.gateway_source import GatewaySource
from sync.ingest import IngestCounts, OtherAgencysFile, ingest
from sync.ledger import schema
from sync.ledger.cursors import FeedPosition, load_position
from sync.settings import load_settings
from tests.feed_records import Record, person, write_feed
from tests.integration.fronted_gateway import hub_client, reference_gateway
from tests.integration.gateway_process import make_keys

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 9, tzinfo=UTC)
# A person with two identifiers set aside: one record with warnings.
WARNED = person("probation", "X000002", pnc="2018/0123456X", cro="123456/24A")
BAD_GENDER = person("probation", "X000003", gender="Q")
POLICE_PERSON = person("police", "LAN-1")


@pytest.fixture
def app(ledger_url: str) -> Iterator[App]:
    application = App(load_settings(database_url=ledger_url), clock=lambda: NOW)
    yield application
    application.close()


@contextmanager
def probation_gateway(app: App, tmp_path: Path, records: list[Record]) -> Iterator[GatewaySource]:
    """The probation reference gateway on 127.0.0.1 serving `records`, as the hub reads it."""
    keys = tmp_path / "keys"
    make_keys(keys)
    feed = write_feed(tmp_path / "gateway-feed.jsonl", records)
    state = tmp_path / "gateway-state"
    with (
        reference_gateway(Party.PROBATION, keys, feed, state, clock=lambda: NOW) as url,
        hub_client(url, Party.PROBATION, keys) as client,
    ):
        yield GatewaySource(app, url, "probation", client)


def _rejects(app: App) -> list[dict[str, Any]]:
    table = schema.rejects
    query = select(table.c.agency, table.c.record_agency, table.c.record_id, table.c.position)
    with app.ledger.engine.connect() as conn:
        return sorted(
            (dict(row._mapping) for row in conn.execute(query)),
            key=lambda row: (row["agency"], row["position"]),
        )


def _record_count(app: App) -> int:
    with app.ledger.engine.connect() as conn:
        return len(list(conn.execute(select(schema.records.c.rid))))


def _ingest(app: App, path: Path, agency: str = "probation", **options: Any) -> IngestCounts:
    return ingest(app.ledger, PlainFileSource(path), agency, 1, TODAY, NOW, **options)


def test_a_feed_counts_what_was_read_accepted_rejected_and_warned(app: App, tmp_path: Path) -> None:
    records = [person("probation", "X000001"), WARNED, BAD_GENDER, POLICE_PERSON]
    counts = _ingest(app, write_feed(tmp_path / "p.jsonl", records))
    assert counts == IngestCounts(
        read=4, accepted=2, rejected=2, warnings=1, units=1, other_agency=1
    )
    assert not counts.only_other_agency


def test_counts_given_by_the_caller_are_added_to(app: App, tmp_path: Path) -> None:
    counts = IngestCounts(read=10, accepted=10, units=2)
    path = write_feed(tmp_path / "p.jsonl", [person("probation", "X000001"), BAD_GENDER])
    returned = _ingest(app, path, counts=counts)
    assert returned is counts
    assert counts == IngestCounts(read=12, accepted=11, rejected=1, units=3)


def test_another_agencys_record_is_kept_as_a_reject_of_that_agency(
    app: App, tmp_path: Path
) -> None:
    _ingest(app, write_feed(tmp_path / "p.jsonl", [BAD_GENDER, POLICE_PERSON]))
    rows = [(row["record_agency"], row["record_id"], row["position"]) for row in _rejects(app)]
    assert rows == [(None, "X000003", "line 1"), ("police", "LAN-1", "line 2")]


def test_the_same_bad_line_in_both_agencies_feeds_is_kept_for_each(
    app: App, tmp_path: Path
) -> None:
    line = [{"type": "visit", "id": "V-1"}]
    _ingest(app, write_feed(tmp_path / "p.jsonl", line))
    _ingest(app, write_feed(tmp_path / "q.jsonl", line), agency="police")
    assert [(row["agency"], row["record_id"]) for row in _rejects(app)] == [
        ("police", "V-1"),
        ("probation", "V-1"),
    ]


def test_a_file_of_only_the_other_agencys_records_is_held_back_whole(
    app: App, tmp_path: Path
) -> None:
    path = write_feed(tmp_path / "p.jsonl", [POLICE_PERSON, person("police", "LAN-2")])
    with pytest.raises(OtherAgencysFile):
        _ingest(app, path, hold_back_other_agencys_file=True)
    assert (_rejects(app), _record_count(app)) == ([], 0)

    counts = _ingest(app, path)  # not held back: kept as rejects, like any bad line
    assert counts.only_other_agency
    assert len(_rejects(app)) == 2


@pytest.mark.parametrize(
    "records",
    [[], [POLICE_PERSON, person("probation", "X000001")], [POLICE_PERSON, BAD_GENDER]],
    ids=["empty", "one-own-record", "one-other-bad-line"],
)
def test_a_file_not_wholly_the_other_agencys_is_read_when_holding_back(
    app: App, tmp_path: Path, records: list[dict[str, object]]
) -> None:
    counts = _ingest(
        app, write_feed(tmp_path / "p.jsonl", records), hold_back_other_agencys_file=True
    )
    assert counts.read == len(records)
    assert not counts.only_other_agency


def test_a_gateway_page_of_the_other_agencys_records_is_kept_with_its_cursor(
    app: App, tmp_path: Path
) -> None:
    with probation_gateway(app, tmp_path, [POLICE_PERSON]) as source:
        counts = ingest(
            app.ledger, source, "probation", 1, TODAY, NOW, hold_back_other_agencys_file=True
        )
    assert (counts.read, counts.other_agency, counts.units) == (1, 1, 1)
    assert [row["position"] for row in _rejects(app)] == ["page 1 line 1"]
    # The cursor after the one record; the pull ended, so the next numbers its pages afresh.
    after_one_record = FeedPosition(encode_cursor(1), 0)
    assert load_position(app.ledger.engine, "probation", source.name) == after_one_record


def _collections(app: App) -> list[str]:
    table = audit_log
    query = select(table.c.detail).where(table.c.kind == "collection").order_by(table.c.seq)
    with app.ledger.engine.connect() as conn:
        return [str(detail) for detail in conn.execute(query).scalars()]


def test_each_unit_applied_is_audited_with_its_figures_and_whether_it_was_sealed(
    app: App, tmp_path: Path
) -> None:
    _ingest(app, write_feed(tmp_path / "p.jsonl", [person("probation", "X000001"), BAD_GENDER]))
    with probation_gateway(app, tmp_path, [WARNED]) as source:
        ingest(app.ledger, source, "probation", 2, TODAY, NOW)
    assert _collections(app) == [
        "p.jsonl (plain file, unsigned): accepted 1, other_agency 0, read 2, rejected 1, "
        "units 1, warnings 0",
        f"{source.name}: accepted 1, other_agency 0, read 1, rejected 0, units 1, warnings 1",
    ]
