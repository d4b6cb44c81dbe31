"""The three exports read from a stored pass, on both databases: every line as `cli.md` shapes it.

A probation record its agency merged into another stays out of the records of
`export ownership` and `export timeline` (it no longer is a person of its
own), and is listed in `export links` under the record it was merged into.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.exports import export_links, export_ownership, export_timeline
from sync.settings import load_settings
from tests.feed_records import licence, merge, person, write_sources

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
PNC = "1996/0000018E"
LICENCE = licence("S-1", "X000001", "2025-03-01", "2027-02-28")


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    application = App(load_settings(database_url=ledger_url))
    probation: list[dict[str, object]] = [
        person("probation", "X000001", pnc=PNC),
        person("probation", "X000002"),
        merge("probation", "M-1", "X000002", "X000001"),
        LICENCE,
    ]
    police = [person("police", "LAN-1", pnc=PNC)]
    run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
    yield application
    application.close()


RECORDS = [
    {"agency": "probation", "person_id": "X000001"},
    {"agency": "police", "person_id": "LAN-1"},
]


def test_ownership_gives_each_subjects_live_records_and_the_segment_of_the_day(app: App) -> None:
    (line,) = [json.loads(text) for text in export_ownership(app.ledger, AS_OF)]
    assert line["records"] == RECORDS
    assert (line["owner"], line["rule"], line["from"], line["to"]) == (
        "probation",
        "PROB-SEXUAL",
        "2025-03-01",
        "2027-02-28",
    )


def test_the_timeline_gives_each_subjects_live_records_and_every_segment(app: App) -> None:
    (line,) = [json.loads(text) for text in export_timeline(app.ledger)]
    assert line["records"] == RECORDS
    owners = [(s["from"], s["owner"]) for s in line["segments"]]
    assert ("2025-03-01", "probation") in owners
    assert owners[-1] == ("2027-03-01", "none")  # no registration: nobody after the licence


def test_links_list_the_merged_away_record_under_its_target(app: App) -> None:
    (line,) = [json.loads(text) for text in export_links(app.ledger)]
    merged = [r for r in line["records"] if r["person_id"] == "X000002"]
    assert [(r["matched_by"], r["merged_into"]) for r in merged] == [("MERGE", "X000001")]
    assert [link["matched_by"] for link in line["links"]] == ["PNC"]
