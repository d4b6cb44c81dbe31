"""What `arms-sync reconcile` shows an operator before and after an act: the flags the act
closes or raises, and only act ids that exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_reconcile_cli import OPERATOR, REASON, act_id, arms_sync, subjects
from tests.e2e.test_run_cli import _worked_example
from tests.feed_records import licence, person, run_args, write_feeds

pytestmark = pytest.mark.e2e

WORKED_EXAMPLE_FLAGS = [
    "  assessed_by_non_owner|police|WPA-0",
    "  duplicate|police|WPA-0",
    "  duplicate|probation|WA-0",
]


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """Worked example 1 synced: the police assessment of 2025-05-10 is redundant."""
    arms_sync(*run_args(*_worked_example(tmp_path, "2025-05-10", custody=False)), cwd=tmp_path)
    return tmp_path


def _assign(ledger: Path, *extra: str) -> list[str]:
    """Police made owner for May 2025, when the police completed their assessment."""
    subject = subjects(ledger)["WEX-0"]
    window = ("--from", "2025-05-01", "--to", "2025-05-31")
    done = arms_sync(
        "reconcile", "assign", subject, "--owner", "police", *window, *REASON, *extra,
        cwd=ledger, env=OPERATOR,
    )  # fmt: skip
    return done.stdout.splitlines()


def _section(lines: list[str], title: str) -> list[str]:
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def test_a_preview_lists_the_flags_the_act_would_close(ledger: Path) -> None:
    preview = _assign(ledger)

    assert _section(preview, "Flags that will close:") == WORKED_EXAMPLE_FLAGS
    assert _section(preview, "Flags that will be raised:") == ["  none"]
    listed = arms_sync("reconcile", "list", "--kind", "flag", cwd=ledger).stdout
    assert listed.count("[open]") == len(WORKED_EXAMPLE_FLAGS)  # the preview closed nothing


def test_an_applied_act_lists_the_flags_it_closed(ledger: Path) -> None:
    applied = _assign(ledger, "--apply")

    assert _section(applied, "Flags closed:") == WORKED_EXAMPLE_FLAGS
    assert "0 items" in arms_sync("reconcile", "list", "--kind", "flag", cwd=ledger).stdout


def test_revoking_lists_the_flags_raised_again(ledger: Path) -> None:
    override = act_id("\n".join(_assign(ledger, "--apply")))
    revoked = arms_sync(
        "reconcile", "revoke", override, *REASON, cwd=ledger, env=OPERATOR
    ).stdout.splitlines()

    assert _section(revoked, "Flags that will be raised:") == WORKED_EXAMPLE_FLAGS
    assert _section(revoked, "Flags that will close:") == ["  none"]


def test_a_preview_names_no_act_id_that_will_never_exist(ledger: Path) -> None:
    """The id a preview showed was not the one the act got, so it could not be revoked."""
    preview = _assign(ledger)[0]
    assert preview == "Preview of override: nothing has changed; add --apply to make it."
    assert "OVR-" not in arms_sync("audit", "export", cwd=ledger).stdout

    override = act_id("\n".join(_assign(ledger, "--apply")))
    revoke = arms_sync("reconcile", "revoke", override, *REASON, cwd=ledger, env=OPERATOR)
    assert revoke.stdout.splitlines()[0].startswith(f"Preview of revocation {override}:")


def test_a_notice_that_changes_only_whether_arms_is_mandatory_says_so(tmp_path: Path) -> None:
    """Two CRNs of one man: linked, the earlier licence (begun before the roll-out) governs."""
    other = {"surname": "OTHERNAME", "forenames": "PETER", "date_of_birth": "1981-05-05"}
    probation = [
        person("probation", "D000001"),
        licence("S-1", "D000001", "2015-01-01", "2030-01-01"),
        person("probation", "D000002", **other),
        licence("S-2", "D000002", "2016-03-01", "2030-01-01"),
    ]
    arms_sync(*run_args(*write_feeds(tmp_path, probation, [])), cwd=tmp_path)

    pair = ("probation:D000001", "probation:D000002")
    preview = arms_sync("reconcile", "link", *pair, *REASON, cwd=tmp_path, env=OPERATOR).stdout

    assert (
        "to probation about probation:D000002: from 2016-03-01 to 2030-01-01 the owner becomes "
        "probation (PROB-SEXUAL, discretionary), was probation (PROB-SEXUAL, mandatory)"
    ) in preview


def test_records_can_be_given_as_reconcile_list_shows_them(tmp_path: Path) -> None:
    """Two CRNs of one man, linked on their PNC: the item's records, pasted into unlink."""
    pnc = {"pnc": "1990/0004242E"}
    probation = [person("probation", "D000001", **pnc), person("probation", "D000002", **pnc)]
    arms_sync(*run_args(*write_feeds(tmp_path, probation, [])), cwd=tmp_path)
    listed = arms_sync(
        "reconcile", "list", "--kind", "duplicate-person-record", "--json", cwd=tmp_path
    ).stdout
    (item,) = [json.loads(line) for line in listed.splitlines()]
    assert item["refs"] == ["probation/D000001", "probation/D000002"]

    unlink = arms_sync("reconcile", "unlink", *item["refs"], *REASON, cwd=tmp_path, env=OPERATOR)

    assert "  duplicate_person_record|probation|D000001,D000002" in _section(
        unlink.stdout.splitlines(), "Flags that will close:"
    )
