"""`arms-sync run` tells the operator which unknown fields it ignored, by name only.

feed-v1 ignores unknown fields, so a misspelt `end_date` on a registration
leaves it open-ended; the run still accepts the line, decides as if the field
were absent, and names the field in its summary so that someone notices.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.feed_records import Record, licence, person, registration, run_args, write_feeds

pytestmark = pytest.mark.e2e

PNC = "1990/0004242E"
# Field names a sender might fill with personal data: counted, never printed.
PERSONAL_NAMES = ("Jane Doe 02/01/1970", "doe_1970")


def _feeds(folder: Path, police_registration: Record, stray: bool) -> tuple[Path, Path]:
    """A person known to both agencies: on licence with probation, registered by the police
    (the police's person record with fields named like personal data when `stray`)."""
    folder.mkdir()
    probation = [
        person("probation", "W900000", pnc=PNC),
        licence("S-1", "W900000", "2018-03-01", "2019-02-28"),
    ]
    police = [
        person("police", "P-1", pnc=PNC, **dict.fromkeys(PERSONAL_NAMES if stray else (), "x")),
        police_registration,
    ]
    return write_feeds(folder, probation, police)


def _run_and_timeline(
    folder: Path, police_registration: Record, stray: bool = True
) -> tuple[str, list[dict[str, object]]]:
    """The run's output (stdout and stderr) and the timeline export of its ledger, without
    the subject ids (minted afresh in each ledger)."""
    ran = run_cli(*run_args(*_feeds(folder, police_registration, stray)), cwd=folder)
    exported = run_cli("export", "timeline", cwd=folder).stdout.splitlines()
    timeline = [{**json.loads(line), "subject_id": None} for line in exported]
    return ran.stdout + ran.stderr, timeline


def test_a_misspelt_field_is_named_in_the_summary_and_decided_as_absent(tmp_path: Path) -> None:
    """The line with `end_date` is accepted and decided as an open-ended registration;
    the summary names the field and counts the personal-looking names without them."""
    open_ended = registration("R-1", "P-1", "2019-01-01", None)
    misspelt = {k: v for k, v in open_ended.items() if k != "end"} | {"end_date": "2020-01-01"}
    ended = registration("R-1", "P-1", "2019-01-01", "2020-01-01")

    told, with_misspelling = _run_and_timeline(tmp_path / "misspelt", misspelt)
    _, without = _run_and_timeline(tmp_path / "open", open_ended)
    _, with_end = _run_and_timeline(tmp_path / "ended", ended)

    lines = told.splitlines()
    assert "police: read 2 records, accepted 2, rejected 0, with warnings 0" in lines
    assert (
        "police: unknown fields ignored: registration.end_date (1 line), 2 fields with other names"
    ) in lines
    assert not [line for line in lines if line.startswith("probation: unknown")]
    assert with_misspelling == without != with_end
    for name in PERSONAL_NAMES:
        assert name not in told
    assert "Jane" not in told


def test_a_feed_without_unknown_fields_has_no_such_line(tmp_path: Path) -> None:
    open_ended = registration("R-1", "P-1", "2019-01-01", None)
    told, _ = _run_and_timeline(tmp_path / "clean", open_ended, stray=False)
    assert "unknown fields" not in told
