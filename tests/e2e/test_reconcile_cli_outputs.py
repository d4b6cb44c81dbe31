"""`arms-sync reconcile`: what list, resolve and reopen print, whose name acts, and bad usage."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, update

from sync.ledger import schema
from tests.e2e.test_reconcile_cli import (
    OPERATOR,
    REASON,
    arms_sync,
    owner_on,
    subjects,
    synced,
)

pytestmark = pytest.mark.e2e

KEPT_OPEN = "assessed_by_non_owner|police|LA-1"
RESOLVED = ("duplicate|police|LA-1", "duplicate|probation|PA-1")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after one run of the test feeds (made once for this module)."""
    return synced(tmp_path_factory.mktemp("reconcile-outputs"))


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


def _last_entry(ledger: Path) -> dict[str, object]:
    entry: dict[str, object] = json.loads(
        arms_sync("audit", "export", cwd=ledger).stdout.splitlines()[-1]
    )
    return entry


def test_resolve_and_reopen_each_say_what_the_flag_is_now(ledger: Path) -> None:
    """Each prints one line naming the flag, by the key `reconcile list` shows, and its new
    state."""
    flag = RESOLVED[0]
    resolved = arms_sync("reconcile", "resolve", flag, *REASON, cwd=ledger, env=OPERATOR)
    reopened = arms_sync("reconcile", "reopen", flag, *REASON, cwd=ledger, env=OPERATOR)

    assert resolved.stdout == "The flag duplicate|police|LA-1 is now resolved.\n"
    assert reopened.stdout == "The flag duplicate|police|LA-1 is now open.\n"


def test_the_listing_dates_an_item_by_the_day_in_england_it_was_found(ledger: Path) -> None:
    """Found at 23:30 UTC on a summer evening: 00:30 the next day in England."""
    engine = create_engine(f"sqlite:///{ledger / 'arms-sync.db'}")
    with engine.begin() as conn:
        conn.execute(
            update(schema.flags)
            .where(schema.flags.c.key == KEPT_OPEN)
            .values(first_seen=datetime(2026, 7, 1, 23, 30, tzinfo=UTC))
        )
    engine.dispose()

    listed = arms_sync("reconcile", "list", cwd=ledger).stdout.splitlines()

    assert listed[0].split()[:2] == ["2026-07-02", "flag"]


def test_the_listing_shows_each_item_on_a_line_and_counts_them_in_words(ledger: Path) -> None:
    """Lines give the day opened, kind, state, key, subject and records; the count says
    `1 item` for one and `N items` otherwise."""
    for flag in RESOLVED:
        arms_sync("reconcile", "resolve", flag, *REASON, cwd=ledger, env=OPERATOR)
    subject = subjects(ledger)["LAN-1"]

    open_only = arms_sync("reconcile", "list", cwd=ledger).stdout.splitlines()
    everything = arms_sync("reconcile", "list", "--all", cwd=ledger).stdout.splitlines()

    [line, count] = open_only
    assert count == "1 item"
    day, kind, state, key, shown_subject, record, detail = line.split()
    assert date.fromisoformat(day)
    assert (kind, state, key) == ("flag", "[open]", KEPT_OPEN)
    assert (shown_subject, record, detail) == (subject, "police/LAN-1", "assessed_by_non_owner")
    assert everything[-1] == "3 items"
    assert sum("[resolved]" in listed for listed in everything) == len(RESOLVED)


def test_the_operator_option_wins_over_the_environment(ledger: Path) -> None:
    """`--operator` names who acts and who looks even when ARMS_SYNC_OPERATOR is set."""
    arms_sync(
        "reconcile", "resolve", RESOLVED[0], *REASON, "--operator", "REVIEWER",
        cwd=ledger, env=OPERATOR,
    )  # fmt: skip
    acted = _last_entry(ledger)
    subject = subjects(ledger)["LAN-1"]
    arms_sync("reconcile", "show", subject, "--operator", "REVIEWER", cwd=ledger, env=OPERATOR)
    looked = _last_entry(ledger)

    assert (acted["kind"], acted["actor"]) == ("alteration", "operator:REVIEWER")
    assert (looked["purpose"], looked["actor"]) == ("reconcile show", "operator:REVIEWER")


def test_an_override_can_give_a_subject_to_probation(ledger: Path) -> None:
    """`assign --owner probation` makes probation the owner (rule MANUAL) for the days given."""
    subject = subjects(ledger)["LAN-2"]
    assert owner_on(ledger, "2024-06-15", "LAN-2") == ("police", "POLICE-REGISTERED")

    arms_sync(
        "reconcile", "assign", subject, "--owner", "probation", "--from", "2024-06-01",
        "--to", "2024-06-30", *REASON, "--apply",
        cwd=ledger, env=OPERATOR,
    )  # fmt: skip

    assert owner_on(ledger, "2024-06-15", "LAN-2") == ("probation", "MANUAL")
    assert owner_on(ledger, "2024-07-01", "LAN-2") == ("police", "POLICE-REGISTERED")


@pytest.mark.parametrize("missing", ["--owner", "--from"])
def test_an_override_without_its_owner_or_first_day_is_bad_usage(
    ledger: Path, missing: str
) -> None:
    """`assign` refuses, naming the missing option, and changes nothing."""
    subject = subjects(ledger)["LAN-2"]
    given = {"--owner": "probation", "--from": "2024-06-01"}
    options = [part for name, value in given.items() if name != missing for part in (name, value)]
    before = arms_sync("export", "timeline", cwd=ledger).stdout

    result = arms_sync(
        "reconcile", "assign", subject, *options, *REASON, "--apply",
        cwd=ledger, env=OPERATOR, check=False,
    )  # fmt: skip

    assert result.returncode == 2
    assert f"Missing option '{missing}'" in result.stderr
    assert "Traceback" not in result.stderr
    assert arms_sync("export", "timeline", cwd=ledger).stdout == before


def test_an_unknown_item_kind_is_bad_usage(ledger: Path) -> None:
    """`list --kind` takes only the item kinds there are; a typo is refused, not an empty list."""
    result = arms_sync("reconcile", "list", "--kind", "flags", cwd=ledger, check=False)

    assert result.returncode == 2
    assert "--kind" in result.stderr
    assert result.stdout == ""


def test_a_link_preview_says_so_and_links_nothing(ledger: Path) -> None:
    """`link` without `--apply` prints a preview of link and leaves the two subjects apart."""
    before = subjects(ledger)

    preview = arms_sync(
        "reconcile", "link", "probation:P100002", "police:LAN-2", *REASON,
        cwd=ledger, env=OPERATOR,
    )  # fmt: skip

    assert preview.stdout.startswith("Preview of link: nothing has changed")
    assert subjects(ledger) == before
