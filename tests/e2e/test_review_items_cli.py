"""Link-review items follow the data: they lapse when the pair is no longer uncertain.

Day 1 holds a probation and a police record whose details agree but whose PNCs
differ: a pair for a person to review. A later day that links the two by one
PNC, or deletes the police record, leaves nothing to review: the item lapses
(closed by arms-sync, kept, listed with `--all` as `lapsed`, not as resolved
by a person). Bringing the conflict back
opens it again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PROBATION = {
    "type": "person",
    "agency": "probation",
    "id": "X100001",
    "pnc": "2002/0073319Z",
    "surname": "EXAMPLE",
    "forenames": "Review",
    "date_of_birth": "1975-04-12",
    "gender": "M",
    "area": "NW",
    "updated_at": "2026-01-02T09:00:00Z",
}
POLICE = {**PROBATION, "agency": "police", "id": "LAN-1", "pnc": "1979/0163001B", "area": "LANC"}
PAIR = ["police/LAN-1", "probation/X100001"]


def _day(
    url: str, folder: Path, name: str, police: list[dict[str, Any]], as_of: str
) -> list[dict[str, Any]]:
    """Run one day's feeds (the probation record every day); the open review items after it."""
    probation_feed, police_feed = (
        folder / f"{name}-probation.jsonl",
        folder / f"{name}-police.jsonl",
    )
    probation_feed.write_text(json.dumps(PROBATION) + "\n")
    police_feed.write_text("".join(json.dumps(record) + "\n" for record in police))
    run_cli(
        "--db", url, "run", "--probation-feed", str(probation_feed),
        "--police-feed", str(police_feed), "--as-of", as_of, cwd=folder,
    )  # fmt: skip
    return _reviews(url, folder)


def _reviews(url: str, folder: Path, *extra: str) -> list[dict[str, Any]]:
    listing = run_cli(
        "--db", url, "reconcile", "list", "--kind", "link-review", "--json", *extra, cwd=folder
    )
    return [json.loads(line) for line in listing.stdout.splitlines()]


@pytest.mark.parametrize(
    "second_day",
    [
        {**POLICE, "pnc": PROBATION["pnc"], "updated_at": "2026-01-06T09:00:00Z"},
        {"type": "person", "agency": "police", "id": "LAN-1", "deleted": True,
         "updated_at": "2026-01-06T09:00:00Z"},
    ],
    ids=["linked-by-pnc", "deleted"],
)  # fmt: skip
def test_an_item_lapses_when_its_pair_is_no_longer_uncertain_and_opens_again_when_it_is(
    ledger_url: str, tmp_path: Path, second_day: dict[str, Any]
) -> None:
    first = _day(ledger_url, tmp_path, "day1", [POLICE], "2026-01-10")
    assert [item["refs"] for item in first] == [PAIR]

    assert _day(ledger_url, tmp_path, "day2", [second_day], "2026-01-20") == []
    [lapsed] = _reviews(ledger_url, tmp_path, "--all")
    assert (lapsed["key"], lapsed["state"]) == (first[0]["key"], "lapsed")

    conflict_again = {**POLICE, "updated_at": "2026-01-08T09:00:00Z"}
    [reopened] = _day(ledger_url, tmp_path, "day3", [conflict_again], "2026-01-24")
    assert (reopened["key"], reopened["refs"], reopened["state"]) == (first[0]["key"], PAIR, "open")
