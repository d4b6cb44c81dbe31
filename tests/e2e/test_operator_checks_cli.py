"""Every command naming an operator checks the name the same way, before it does anything.

The operator comes from `--operator`, ARMS_SYNC_OPERATOR or the settings
file. A name the audit log could not hold (too long, a control character,
shaped like a PNC or CRO number) is bad usage, exit 2, in one sentence
saying where it came from and never repeating it; the audit log gains no
entry and nothing is shown, written or changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from itertools import cycle
from pathlib import Path

import pytest

from tests.e2e.test_reconcile_cli import AS_OF, REASON, arms_sync, subjects, synced

pytestmark = pytest.mark.e2e

LONGEST = "o" * 80
TOO_LONG = "p" * 85  # over the limit, yet within the audit log's actor field
FAR_TOO_LONG = "q" * 95  # longer than the audit log's actor field with its prefix
CONTROL = "j\x1bsmith"
BAD_NAMES = (TOO_LONG, FAR_TOO_LONG, CONTROL)
PLAIN_TEXT = "must be plain text of at most 80 characters."
FROM_OPTION = f"Error: The operator given with --operator {PLAIN_TEXT}\n"
FROM_VARIABLE = f"Error: The operator set in ARMS_SYNC_OPERATOR {PLAIN_TEXT}\n"
FROM_FILE = f"Error: The operator named in the settings file {PLAIN_TEXT}\n"
# Commands that take the operator from ARMS_SYNC_OPERATOR or the settings file only.
CONFIGURED_ONLY = (
    ("export", "ownership", "--as-of", AS_OF),
    ("export", "timeline"),
    ("export", "links"),
    ("report", "duplicates", "--format", "html"),
    ("rejects",),
    ("rejects", "--warnings"),
    ("audit", "export"),
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger after one run of the test feeds (made once for this module)."""
    return synced(tmp_path_factory.mktemp("operator-checks"))


@pytest.fixture
def ledger(pristine: Path, tmp_path: Path) -> Path:
    """This test's own copy of that ledger."""
    return Path(shutil.copytree(pristine, tmp_path / "ledger"))


def _acts(ledger: Path) -> list[tuple[str, ...]]:
    """A command line of every reconcile command that takes `--operator`."""
    subject = subjects(ledger)["P100001"]
    pair = ("probation:P100001", "police:LAN-1")
    return [
        ("reconcile", "list"),
        ("reconcile", "show", subject),
        ("reconcile", "link", *pair, *REASON),
        ("reconcile", "unlink", *pair, *REASON, "--apply"),
        ("reconcile", "assign", subject, "--owner", "police", "--from", "2025-06-01", *REASON),
        ("reconcile", "revoke", "OVR-0000000000000000", *REASON),
        ("reconcile", "resolve", "duplicate|police|PA-1", *REASON),
        ("reconcile", "reopen", "duplicate|police|PA-1", *REASON),
        ("ledger", "reencrypt"),
        ("dead-letters", "abandon", "1", "--apply"),
    ]


def _refused(result: subprocess.CompletedProcess[str], name: str) -> tuple[int, str, str]:
    """The exit status, output and error, the error checked to hold nothing of the name."""
    assert name not in result.stderr
    return result.returncode, result.stdout, result.stderr


def _head(ledger: Path) -> str:
    return arms_sync("audit", "head", cwd=ledger).stdout


def test_every_command_refuses_a_bad_operator_given_with_the_option(ledger: Path) -> None:
    """The same sentence and exit 2 from a listing, a showing, each act and the upkeep acts."""
    acts = _acts(ledger)
    timeline = arms_sync("export", "timeline", cwd=ledger).stdout
    head = _head(ledger)
    for command, name in zip(acts, cycle(BAD_NAMES), strict=False):
        result = arms_sync(*command, "--operator", name, cwd=ledger, check=False)
        assert _refused(result, name) == (2, "", FROM_OPTION), command
    assert _head(ledger) == head  # nothing logged, so nothing consulted or changed
    assert arms_sync("export", "timeline", cwd=ledger).stdout == timeline
    assert not list(ledger.glob("*.old"))  # the at-rest key was never rotated


def test_every_command_refuses_a_bad_operator_from_the_environment(ledger: Path) -> None:
    """Consultations that name the configured operator refuse it as the acts do."""
    commands = (*CONFIGURED_ONLY, *_acts(ledger))
    head = _head(ledger)
    out = ledger / "out.html"
    for command, name in zip(commands, cycle(BAD_NAMES), strict=False):
        argv = (*command, "--out", str(out)) if command[0] == "report" else command
        result = arms_sync(*argv, cwd=ledger, env={"ARMS_SYNC_OPERATOR": name}, check=False)
        assert _refused(result, name) == (2, "", FROM_VARIABLE), command
    assert _head(ledger) == head
    assert not out.exists()


def test_a_bad_operator_in_the_settings_file_is_refused_naming_the_file(ledger: Path) -> None:
    settings = ledger / "settings.toml"
    settings.write_text(f'[arms_sync]\noperator = "{TOO_LONG}"\n')
    for command in (("export", "timeline"), ("reconcile", "list")):
        result = arms_sync(*command, "--config", str(settings), cwd=ledger, check=False)
        assert _refused(result, TOO_LONG) == (2, "", FROM_FILE)


def test_the_option_wins_over_the_environment_and_is_the_one_checked(ledger: Path) -> None:
    env = {"ARMS_SYNC_OPERATOR": TOO_LONG}
    assert arms_sync("reconcile", "list", "--operator", "jsmith", cwd=ledger, env=env).stdout
    result = arms_sync(
        "reconcile", "list", "--operator", TOO_LONG, cwd=ledger, env={"ARMS_SYNC_OPERATOR": "a"},
        check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (2, FROM_OPTION)


def test_a_blank_option_leaves_the_configured_operator_to_be_checked(ledger: Path) -> None:
    """`--operator " "` is as if left out: the configured name is used, and checked as such."""
    env = {"ARMS_SYNC_OPERATOR": FAR_TOO_LONG}
    result = arms_sync("reconcile", "list", "--operator", " ", cwd=ledger, env=env, check=False)
    assert (result.returncode, result.stderr) == (2, FROM_VARIABLE)


def test_the_longest_name_is_taken_by_a_listing_and_an_export_alike(ledger: Path) -> None:
    arms_sync("reconcile", "list", "--operator", LONGEST, cwd=ledger)
    arms_sync("export", "links", cwd=ledger, env={"ARMS_SYNC_OPERATOR": LONGEST})
    lines = arms_sync("audit", "export", cwd=ledger).stdout.splitlines()
    actors = [json.loads(line)["actor"] for line in lines]
    assert actors.count(f"operator:{LONGEST}") == 2


def test_the_demo_refuses_a_bad_operator_before_it_runs(tmp_path: Path) -> None:
    """The demo's report is disclosed under the operator: refused before the sync, not after."""
    env = {"ARMS_SYNC_OPERATOR": FAR_TOO_LONG}
    result = arms_sync("demo", "--out", "demo", cwd=tmp_path, env=env, check=False)
    assert (result.returncode, result.stderr) == (2, FROM_VARIABLE)
    assert not (tmp_path / "demo" / "arms-sync.db").exists()
