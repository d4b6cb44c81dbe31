"""`arms-sync dead-letters` lists the letters waiting for a retry; `--all` adds the others.

A retried letter drops out of the default listing and shows under `--all`,
saying when it was retried, in the table and in the JSON lines. `abandon
CYCLE` previews giving up a blocked cycle, and with `--apply` does it: the
cycle's letter stops waiting (and says why under `--all`), `status` stops
counting it, and the act is audited under the operator's name.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.audit.log import audit_log_for
from sync.distributed.abandon import AUDIT_PURPOSE
from sync.distributed.cycles import start_cycle
from sync.distributed.work import CycleRules, claim, fail, retry_dead_letter
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import TODAY, _a_dead_letter, _cli, _cli_run, service_app
from tests.integration.test_cycle_abandonment import run_until_blocked

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

close_apps = shared.close_apps
small_feeds = shared.small_feeds
RETRIED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def test_a_retried_letter_is_listed_only_with_all_and_says_when_it_was_retried(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """The default listing is what waits; `--all` is the history."""
    app = service_app(fresh_postgres_url)
    letter_id = _a_dead_letter(app, tmp_path)
    assert retry_dead_letter(app.ledger.engine, letter_id, RETRIED) is not None

    assert _cli(fresh_postgres_url, "dead-letters") == (0, "0 dead letters\n")
    code, output = _cli(fresh_postgres_url, "dead-letters", "--all")
    assert code == 0
    line, total = output.splitlines()
    assert line.startswith(f"{letter_id}: cycle ")
    assert "probe:poison attempts 1 last error RuntimeError" in line
    assert line.endswith(" retried 2026-11-28T09:30:00+00:00")
    assert total == "1 dead letter, 0 waiting for a retry"
    code, output = _cli(fresh_postgres_url, "dead-letters", "--all", "--json")
    [letter] = [json.loads(text) for text in output.splitlines()]
    assert (code, letter["id"], letter["retried_at"]) == (0, letter_id, "2026-11-28T09:30:00+00:00")


def test_a_blocked_cycle_is_previewed_then_abandoned_and_its_letter_stops_waiting(
    fresh_postgres_url: str, small_feeds: Path
) -> None:
    """Abandoning twice is refused in one sentence (exit 2)."""
    url = fresh_postgres_url
    app = service_app(url)
    cycle = run_until_blocked(app, small_feeds)

    code, preview = _cli(url, "dead-letters", "abandon", str(cycle))
    assert code == 0
    assert preview.startswith(f"Cycle {cycle} would be abandoned at its decide stage (1 dead ")
    assert preview.endswith("decides over them; give --apply to abandon it.\n")
    assert _cli(url, "dead-letters")[1].endswith("\n1 dead letter\n")
    status = json.loads(_cli(url, "status", "--json")[1])
    assert status["dead_letters"] == 1
    assert (
        f"cycle {cycle} is blocked at its decide stage and holds back every later cycle: "
        "retry its letter once the cause is mended, or abandon it"
    ) in status["problems"]

    applied = ["dead-letters", "abandon", str(cycle), "--apply", "--operator", "duty-officer"]
    code, done = _cli(url, *applied)
    assert (code, done) == (
        0,
        preview.replace("would be abandoned", "abandoned").replace(
            "; give --apply to abandon it.", "."
        ),
    )
    assert _cli(url, "dead-letters") == (0, "0 dead letters\n")
    status = json.loads(_cli(url, "status", "--json")[1])
    assert (status["dead_letters"], status["open_cycles"]) == (0, [])
    assert not [problem for problem in status["problems"] if "blocked" in problem]
    code, listed = _cli(url, "dead-letters", "--all")
    assert listed.splitlines()[0].endswith(" (its cycle was abandoned)")
    [entry] = [e for e in audit_log_for(app.ledger.engine).entries() if e.purpose == AUDIT_PURPOSE]
    assert entry.actor == "operator:duty-officer"

    again = _cli_run(url, *applied)
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr == (
        f"Error: Cycle {cycle} is not blocked (it was abandoned already): only a cycle "
        "stopped on a dead letter can be abandoned.\n"
    )


def test_an_ingest_letter_names_the_feed_its_retry_reads(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    """Where to put a lost feed file back, as the cycle stored it; a gateway by host and port,
    never the credentials or path its URL held."""
    app = service_app(fresh_postgres_url)
    probation = tmp_path / "exports" / "probation.jsonl"
    feeds = {"probation": str(probation), "police": "https://hub:pw@gw.police.test:8443/v1"}
    _, ingests = start_cycle(app, feeds, {}, TODAY)
    rules = CycleRules(max_attempts=1)
    for ref in ingests:
        claim(app.ledger.engine, ref, "test", rules, app.clock())
        fail(app.ledger.engine, ref, "UsageError", rules, app.clock())

    code, output = _cli(fresh_postgres_url, "dead-letters")
    police, probation_line, _ = output.splitlines()
    assert code == 0
    assert "ingest:police " in police
    assert police.endswith(" feed gateway gw.police.test:8443")
    assert "ingest:probation " in probation_line
    assert probation_line.endswith(f" feed {probation}")
    code, output = _cli(fresh_postgres_url, "dead-letters", "--json")
    named = {json.loads(line)["task_key"]: json.loads(line)["feed"] for line in output.splitlines()}
    assert named == {
        "ingest:police": "gateway gw.police.test:8443",
        "ingest:probation": str(probation),
    }
