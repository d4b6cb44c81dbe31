"""`export ownership` and `export timeline` lines exactly as `cli.md` shows them.

One subject on both sides (a sexual-offence licence that ends early while the
police registration goes on), run through the real CLI: key names and their
order, date strings and nulls, and the subject's records listed as the
contract's example lists them, probation before police.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.local_day import day_in_england
from tests.conftest import run_cli
from tests.feed_records import STAMP, Record, person, run_args, write_feeds

pytestmark = pytest.mark.e2e

PNC = "1990/0004242E"
# Police references that sort before and after the CRN, so the order is not luck.
POLICE_REFS = ("LAN-88123", "ZZ-1")


def _feeds(folder: Path, police_ref: str) -> list[str]:
    probation: list[Record] = [
        person("probation", "X123456", pnc=PNC),
        {
            "type": "supervision",
            "agency": "probation",
            "id": "S-1",
            "person_id": "X123456",
            "kind": "licence",
            "offence": "sexual",
            "start": "2025-03-01",
            "end": "2027-02-28",
            "terminated_on": "2026-06-30",
            "updated_at": STAMP,
        },
    ]
    police: list[Record] = [
        person("police", police_ref, pnc=PNC),
        {
            "type": "registration",
            "agency": "police",
            "id": "R-1",
            "person_id": police_ref,
            "start": "2019-01-01",
            "end": None,
            "updated_at": STAMP,
        },
    ]
    return run_args(*write_feeds(folder, probation, police))


def _lines(folder: Path, *export: str) -> list[dict[str, object]]:
    out = run_cli("export", *export, cwd=folder).stdout
    return [json.loads(line) for line in out.splitlines()]


def _segment(
    start: str | None, end: str | None, owner: str, rule: str, mandatory: bool
) -> dict[str, object]:
    return {
        "from": start,
        "to": end,
        "owner": owner,
        "rule": rule,
        "mandatory": mandatory,
        "policy": "pi-15-2015",
    }


@pytest.mark.parametrize("police_ref", POLICE_REFS)
def test_ownership_and_timeline_lines_have_the_contract_shape(
    tmp_path: Path, police_ref: str
) -> None:
    run_cli(*_feeds(tmp_path, police_ref), cwd=tmp_path)
    records = [
        {"agency": "probation", "person_id": "X123456"},
        {"agency": "police", "person_id": police_ref},
    ]

    (line,) = _lines(tmp_path, "ownership", "--as-of", "2026-06-30")
    assert list(line) == [
        "subject_id",
        "records",
        "owner",
        "rule",
        "mandatory",
        "from",
        "to",
        "policy",
    ]
    assert {key: value for key, value in line.items() if key != "subject_id"} == {
        "records": records,
        "owner": "probation",
        "rule": "PROB-SEXUAL",
        "mandatory": True,
        "from": "2025-03-01",
        "to": "2026-06-30",
        "policy": "pi-15-2015",
    }
    (after,) = _lines(tmp_path, "ownership", "--as-of", "2026-07-01")
    assert (after["owner"], after["rule"], after["from"], after["to"]) == (
        "police",
        "POLICE-REGISTERED",
        "2026-07-01",
        None,
    )

    (timeline,) = _lines(tmp_path, "timeline")
    assert list(timeline) == ["subject_id", "records", "segments"]
    assert timeline["subject_id"] == line["subject_id"]
    assert timeline["records"] == records
    assert timeline["segments"] == [
        _segment(None, "1988-01-01", "none", "OUT-UNDER-18", False),
        _segment("1988-01-02", "2018-12-31", "none", "NONE-NOT-IN-SCOPE", False),
        _segment("2019-01-01", "2025-02-28", "police", "POLICE-REGISTERED", True),
        _segment("2025-03-01", "2026-06-30", "probation", "PROB-SEXUAL", True),
        _segment("2026-07-01", None, "police", "POLICE-REGISTERED", True),
    ]


def test_ownership_without_as_of_gives_the_segment_covering_today_in_england(
    tmp_path: Path,
) -> None:
    """`cli.md`: `--as-of` on `export ownership` picks the segment; left out, today. The
    licence ends yesterday, so today the police registration owns the subject."""
    yesterday = day_in_england(datetime.now(UTC)) - timedelta(days=1)
    folder = tmp_path / "feeds"
    folder.mkdir()
    feeds = _feeds(folder, POLICE_REFS[0])
    probation_feed = Path(feeds[feeds.index("--probation-feed") + 1])
    probation_feed.write_text(
        probation_feed.read_text().replace('"2026-06-30"', f'"{yesterday.isoformat()}"')
    )
    run_cli(*feeds[: feeds.index("--as-of")], cwd=tmp_path)

    (today,) = _lines(tmp_path, "ownership")
    (before,) = _lines(tmp_path, "ownership", "--as-of", yesterday.isoformat())

    assert (before["owner"], before["to"]) == ("probation", yesterday.isoformat())
    today_now = day_in_england(datetime.now(UTC))
    assert (today["owner"], today["rule"], today["to"]) == ("police", "POLICE-REGISTERED", None)
    assert today["from"] in {(yesterday + timedelta(days=1)).isoformat(), today_now.isoformat()}
