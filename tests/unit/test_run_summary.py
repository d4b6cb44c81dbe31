"""A run's summary: stored and read back whole, and told in full on the command line."""

from __future__ import annotations

from datetime import date

import pytest

from sync.cli.run_cmds import _report_run, print_summary
from sync.cycle import DELIVERING_ELSEWHERE, RunSummary
from sync.errors import ArmsSyncError
from sync.ingest import IngestCounts

REFUSED = "The police gateway at http://127.0.0.1:9 cannot be reached."


def full_summary() -> RunSummary:
    """A summary with every field away from its default."""
    return RunSummary(
        run_id=7,
        as_of=date(2026, 11, 28),
        feeds={"probation": IngestCounts(10, 8, 2, 1, 1)},
        changed={"probation": 8},
        subjects=5,
        owners_today={"probation": 4, "none": 1},
        open_flags={"duplicate": 2},
        orphans=1,
        feed_errors={"police": REFUSED},
        notice_batches=3,
        delivered={"probation": {"notices": 5, "delivered": 1, "pending": 0}},
        delivery_notes={"probation": DELIVERING_ELSEWHERE},
        window_days=180,
    )


def test_a_stored_summary_reads_back_as_it_was_written() -> None:
    summary = full_summary()
    assert RunSummary.from_dict(summary.as_dict()) == summary


def test_a_summary_stored_before_newer_fields_reads_back_with_their_defaults() -> None:
    stored = full_summary().as_dict()
    for newer in ("delivered", "delivery_notes", "window_days"):
        del stored[newer]
    again = RunSummary.from_dict(stored)
    assert (again.delivered, again.delivery_notes, again.window_days) == ({}, {}, None)


def test_a_gateway_failure_is_told_with_its_reason_and_fails_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = full_summary()
    summary.delivery_notes.clear()
    with pytest.raises(ArmsSyncError):
        _report_run(summary, as_json=False)
    assert f"police gateway: {REFUSED}\n" in capsys.readouterr().out


def test_notices_left_to_another_delivery_are_told_and_do_not_fail_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = full_summary()
    summary.feed_errors.clear()
    _report_run(summary, as_json=False)
    assert f"probation gateway: {DELIVERING_ELSEWHERE}\n" in capsys.readouterr().out


def test_the_plain_summary_names_every_part_of_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(full_summary())
    out = capsys.readouterr().out
    assert "probation: read 10 records, accepted 8, rejected 2, with warnings 1" in out
    assert "subjects: 5; orphans: 1" in out
    assert "notice batches queued: 3" in out


def test_two_failed_gateways_are_named_together() -> None:
    summary = full_summary()
    summary.feed_errors["probation"] = REFUSED
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(summary, as_json=True)
    assert str(failed.value).startswith("The police and probation gateways could not be read")
