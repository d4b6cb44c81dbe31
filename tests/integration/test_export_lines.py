"""The exports' lines byte for byte: key order, segment bounds, record and link order, values.

`cli.md` fixes the shape of each line and `docs/decisions.md` ("Order in the
exports") the order of lines, records and segments, so the same ledger always
gives the same bytes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sync.app import App
from sync.cycle import run_cycle
from sync.exports import export_links, export_ownership, export_timeline
from sync.settings import load_settings
from tests.feed_records import licence, person, write_sources

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 28)
PNC = "1996/0000018E"
LICENCE_START, LICENCE_END = date(2025, 3, 1), date(2027, 2, 28)
POLICY_ID = "pi-test-export"
SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.toml"
OWNERSHIP_KEYS = ["subject_id", "records", "owner", "rule", "mandatory", "from", "to", "policy"]
SEGMENT_KEYS = ["from", "to", "owner", "rule", "mandatory", "policy"]


def _policy_file(folder: Path) -> Path:
    """The shipped policy under another version id, so segments name the file's policy."""
    text = SHIPPED_POLICY.read_text().replace('id = "pi-15-2015"', f'id = "{POLICY_ID}"', 1)
    assert POLICY_ID in text
    path = folder / "policy.toml"
    path.write_text(text)
    return path


@pytest.fixture
def app(ledger_url: str, tmp_path: Path) -> Iterator[App]:
    """One subject of three records (two police, one probation) on a licence, and one alone."""
    settings = load_settings(database_url=ledger_url, policy_file=_policy_file(tmp_path))
    application = App(settings)
    probation: list[dict[str, object]] = [
        person("probation", "X000001", pnc=PNC),
        licence("S-1", "X000001", LICENCE_START.isoformat(), LICENCE_END.isoformat()),
    ]
    police = [
        person("police", "LAN-3", pnc=PNC),
        person("police", "LAN-1", pnc=PNC),
        person("police", "LAN-2", surname="SEPARATE", date_of_birth="1960-03-03"),
    ]
    run_cycle(application, write_sources(tmp_path, probation, police), AS_OF)
    yield application
    application.close()


def _lines(texts: Iterator[str]) -> list[dict[str, Any]]:
    """Each line parsed, after checking it is written as `cli.md` writes it."""
    parsed = []
    for text in texts:
        line = json.loads(text)
        assert text == json.dumps(line, ensure_ascii=False, separators=(", ", ": "))
        parsed.append(line)
    return parsed


def _licensed(lines: list[dict[str, Any]]) -> dict[str, Any]:
    (line,) = [line for line in lines if len(line["records"]) > 1]
    return line


def _alone(lines: list[dict[str, Any]]) -> dict[str, Any]:
    (line,) = [line for line in lines if len(line["records"]) == 1]
    return line


@pytest.mark.parametrize("day", [LICENCE_START, LICENCE_END], ids=["first-day", "last-day"])
def test_ownership_on_a_segments_first_or_last_day_gives_that_segment(app: App, day: date) -> None:
    line = _licensed(_lines(export_ownership(app.ledger, day)))

    assert (line["owner"], line["from"], line["to"]) == (
        "probation",
        LICENCE_START.isoformat(),
        LICENCE_END.isoformat(),
    )


def test_ownership_lines_have_the_cli_keys_in_order_sorted_by_subject(app: App) -> None:
    lines = _lines(export_ownership(app.ledger, AS_OF))

    assert [list(line) for line in lines] == [OWNERSHIP_KEYS] * 2
    assert [line["subject_id"] for line in lines] == sorted(line["subject_id"] for line in lines)
    assert [list(record) for line in lines for record in line["records"]] == [
        ["agency", "person_id"]
    ] * 4


def test_ownership_gives_the_segments_mandatory_flag_and_policy(app: App) -> None:
    lines = _lines(export_ownership(app.ledger, AS_OF))

    assert (_licensed(lines)["mandatory"], _licensed(lines)["policy"]) == (True, POLICY_ID)
    assert (_alone(lines)["owner"], _alone(lines)["mandatory"]) == ("none", False)
    assert _alone(lines)["policy"] == POLICY_ID


def test_records_list_probation_first_then_police_each_by_reference(app: App) -> None:
    expected = [
        ("probation", "X000001"),
        ("police", "LAN-1"),
        ("police", "LAN-3"),
    ]
    ownership = _licensed(_lines(export_ownership(app.ledger, AS_OF)))
    timeline = _licensed(_lines(export_timeline(app.ledger)))
    links = _licensed(_lines(export_links(app.ledger)))

    for line in (ownership, timeline, links):
        assert [(r["agency"], r["person_id"]) for r in line["records"]] == expected


def test_the_timeline_gives_every_segment_in_time_order_with_its_own_values(app: App) -> None:
    lines = _lines(export_timeline(app.ledger))
    assert [line["subject_id"] for line in lines] == sorted(line["subject_id"] for line in lines)
    segments = _licensed(lines)["segments"]

    assert all(list(segment) == SEGMENT_KEYS for segment in segments)
    assert {segment["policy"] for segment in segments} == {POLICY_ID}
    licensed = [s for s in segments if s["from"] == LICENCE_START.isoformat()]
    assert [(s["to"], s["owner"], s["mandatory"]) for s in licensed] == [
        (LICENCE_END.isoformat(), "probation", True)
    ]
    assert {segment["mandatory"] for segment in segments} == {True, False}
    starts = [segment["from"] for segment in segments]
    assert starts[0] is None
    assert starts[1:] == sorted(starts[1:])
    for earlier, later in itertools.pairwise(segments):
        assert earlier["to"] is not None
        assert date.fromisoformat(earlier["to"]) < date.fromisoformat(later["from"])


def test_links_carry_each_link_once_ordered_with_its_weight(app: App) -> None:
    lines = _lines(export_links(app.ledger))
    assert [line["subject_id"] for line in lines] == sorted(line["subject_id"] for line in lines)
    line = _licensed(lines)

    ends = [
        (
            (link["a"]["agency"], link["a"]["person_id"]),
            (link["b"]["agency"], link["b"]["person_id"]),
        )
        for link in line["links"]
    ]
    assert len(ends) >= 2
    assert all(a < b for a, b in ends)  # docs/matching.md: a link's `a < b`
    assert ends == sorted(ends)
    assert all(isinstance(link["weight"], float) for link in line["links"])
    weights = {r["person_id"]: r["weight"] for r in line["records"]}
    assert all(isinstance(weights[pid], float) for pid in ("X000001", "LAN-1", "LAN-3"))


def test_a_subject_of_one_record_has_no_links(app: App) -> None:
    line = _alone(_lines(export_links(app.ledger)))

    assert line["links"] == []
    assert [(r["person_id"], r["matched_by"], r["merged_into"]) for r in line["records"]] == [
        ("LAN-2", "NONE", None)
    ]
