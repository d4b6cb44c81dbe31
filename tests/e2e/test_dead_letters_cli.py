"""`arms-sync dead-letters` lists the letters waiting for a retry; `--all` adds retried ones.

A retried letter drops out of the default listing and shows under `--all`,
saying when it was retried, in the table and in the JSON lines.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync.distributed.work import retry_dead_letter
from tests.e2e import test_workers as shared
from tests.e2e.test_workers import _a_dead_letter, _cli, service_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

close_apps = shared.close_apps
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
    assert total == "1 dead letters"
    code, output = _cli(fresh_postgres_url, "dead-letters", "--all", "--json")
    [letter] = [json.loads(text) for text in output.splitlines()]
    assert (code, letter["id"], letter["retried_at"]) == (0, letter_id, "2026-11-28T09:30:00+00:00")
