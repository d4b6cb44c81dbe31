"""`arms-sync demo` as `spec/cli.md` describes it: synthetic data, two local gateways, a
full sync, the duplicate report written, a summary printed."""

from __future__ import annotations

import json
import secrets
import shlex
import sys
from pathlib import Path

import pytest

from sync.demo import this_program
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

PASSWORD = secrets.token_hex(8)  # made afresh: must never be shown
LOOK = "Look into it: "
REPORTS = ("duplicates-report.html", "duplicates-report.csv", "duplicates-report.json")


def test_the_demo_syncs_over_its_gateways_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_cli("demo", "--subjects", "20", "--out", str(out), cwd=tmp_path)

    assert "Syncing over HTTP with sealed envelopes" in result.stdout
    assert "subjects: 20" in result.stdout
    assert f"Ledger: file {out / 'arms-sync.db'}" in result.stdout
    assert all((out / name).is_file() for name in REPORTS)
    report = json.loads((out / "duplicates-report.json").read_text())
    assert report["summary"]["total"] == len(report["flags"])


def test_a_settings_file_naming_no_ledger_leaves_the_demo_ledger_in_its_folder(
    tmp_path: Path,
) -> None:
    settings = tmp_path / "settings.toml"
    settings.write_text("[arms_sync]\nwindow_days = 90\n", encoding="utf-8")
    out = tmp_path / "demo"
    result = run_cli(
        "--config", str(settings), "demo", "--subjects", "20", "--out", str(out), cwd=tmp_path
    )
    assert f"Ledger: file {out / 'arms-sync.db'}" in result.stdout
    assert not (tmp_path / "arms-sync.db").exists()


def test_the_command_the_demo_suggests_reads_its_ledger_from_another_folder(
    tmp_path: Path,
) -> None:
    out = tmp_path / "demo"
    result = run_cli("demo", "--subjects", "20", "--out", str(out), cwd=tmp_path)
    [suggested] = [
        line.removeprefix(LOOK) for line in result.stdout.splitlines() if line.startswith(LOOK)
    ]
    assignment, program, *args = shlex.split(suggested)
    name, keys_dir = assignment.split("=", 1)
    assert (name, program) == ("ARMS_SYNC_KEYS_DIR", "arms-sync")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listed = run_cli(*args, "--json", cwd=elsewhere, env={name: keys_dir})

    items = [json.loads(line) for line in listed.stdout.splitlines()]
    assert items, "the demo's ledger has open items to review"
    assert not (elsewhere / "arms-sync.db").exists()


def test_the_demo_never_prints_the_password_of_its_ledger(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    url = fresh_postgres_url.replace("://postgres@", f"://postgres:{PASSWORD}@")
    assert PASSWORD in url  # the server trusts the user; the password is only there to leak
    database = url.rsplit("/", 1)[1]

    result = run_cli(
        "demo", "--subjects", "10", "--out", str(tmp_path / "d"), "--db", url, cwd=tmp_path
    )

    assert PASSWORD not in result.stdout + result.stderr
    assert f"Ledger: database {database} on 127.0.0.1:5432" in result.stdout


@pytest.mark.parametrize(
    ("started", "named"),
    [
        (".venv/bin/arms-sync", ".venv/bin/arms-sync"),
        ("/opt/arms/bin/arms-sync", "/opt/arms/bin/arms-sync"),
        ("/srv/arms/sync/cli/__main__.py", "arms-sync"),
    ],
)
def test_the_suggested_command_runs_the_installation_the_demo_ran_from(
    monkeypatch: pytest.MonkeyPatch, started: str, named: str
) -> None:
    monkeypatch.setattr(sys, "argv", [started, "demo"])
    assert this_program() == named
