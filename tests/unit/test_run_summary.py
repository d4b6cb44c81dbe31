"""A run's summary: stored and read back whole, and told in full on the command line."""

from __future__ import annotations

import json
from datetime import date

import pytest

from sync.cli.run_cmds import _report_run, print_summary
from sync.cycle import DELIVERING_ELSEWHERE, RunSummary
from sync.errors import ArmsSyncError
from sync.ingest import IngestCounts

REFUSED = "The police gateway at http://127.0.0.1:9 cannot be reached."
NOT_TAKEN = "notices are still waiting for delivery"


def full_summary() -> RunSummary:
    """A summary with every field away from its default."""
    return RunSummary(
        run_id=7,
        as_of=date(2026, 11, 28),
        feeds={"probation": IngestCounts(10, 8, 2, 1, 1, other_agency=1)},
        changed={"probation": 8},
        subjects=5,
        owners_today={"probation": 4, "none": 1},
        open_flags={"duplicate": 2},
        orphans=1,
        feed_errors={"police": REFUSED},
        notice_batches=3,
        delivered={"probation": {"notices": 5, "delivered": 1, "pending": 0}},
        delivery_errors={"probation": NOT_TAKEN},
        delivery_notes={"probation": DELIVERING_ELSEWHERE},
        window_days=180,
        policy={"versions": [{"id": "pi-15-2015", "effective_from": None}]},
    )


def test_a_stored_summary_reads_back_as_it_was_written() -> None:
    summary = full_summary()
    assert RunSummary.from_dict(summary.as_dict()) == summary


def test_a_summary_stored_before_newer_fields_reads_back_with_their_defaults() -> None:
    stored = full_summary().as_dict()
    for newer in ("delivered", "delivery_errors", "delivery_notes", "window_days", "policy"):
        del stored[newer]
    again = RunSummary.from_dict(stored)
    assert (again.delivered, again.delivery_errors) == ({}, {})
    assert (again.delivery_notes, again.window_days, again.policy) == ({}, None, {})


def test_a_gateway_failure_is_told_with_its_reason_and_fails_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = full_summary()
    summary.delivery_notes.clear()
    summary.delivery_errors.clear()
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(summary, as_json=False)
    assert f"\n{REFUSED}\n" in capsys.readouterr().out  # the gateway named once
    assert str(failed.value) == (
        "The police gateway could not be read; the rest of the run completed and the "
        "next run resumes where this one stopped."
    )


def test_notices_a_gateway_did_not_take_are_told_apart_from_a_feed_it_failed_to_serve(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = full_summary()
    summary.feed_errors.clear()
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(summary, as_json=True)
    told = json.loads(capsys.readouterr().out)
    assert (told["feed_errors"], told["delivery_errors"]) == ({}, {"probation": NOT_TAKEN})
    assert str(failed.value) == (
        "The probation gateway did not take every notice batch; the rest of the run "
        "completed and the next run resumes where this one stopped."
    )


def test_a_feed_and_a_delivery_failure_are_named_in_one_sentence() -> None:
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(full_summary(), as_json=False)
    assert str(failed.value).startswith(
        "The police gateway could not be read and the probation gateway did not take "
        "every notice batch; "
    )


def test_notices_left_to_another_delivery_are_told_and_do_not_fail_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = full_summary()
    summary.feed_errors.clear()
    summary.delivery_errors.clear()
    _report_run(summary, as_json=False)
    assert f"probation gateway: {DELIVERING_ELSEWHERE}\n" in capsys.readouterr().out


def test_the_plain_summary_names_every_part_of_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(full_summary())
    out = capsys.readouterr().out
    assert "probation: read 10 records, accepted 8, rejected 2, with warnings 1" in out
    assert "records changed (new, updated or deleted): probation 8" in out
    assert "subjects: 5; orphans: 1" in out
    assert "notice batches queued: 3" in out


def test_a_summary_stored_before_other_agency_counts_reads_them_as_none() -> None:
    stored = full_summary().as_dict()
    del stored["feeds"]["probation"]["other_agency"]
    assert RunSummary.from_dict(stored).feeds["probation"].other_agency == 0


def test_only_a_feed_wholly_of_another_agencys_records_is_called_out() -> None:
    summary = full_summary()
    summary.feeds["police"] = IngestCounts(read=3, rejected=3, units=1, other_agency=3)
    summary.feeds["probation"] = IngestCounts(read=3, accepted=1, rejected=2, other_agency=2)
    called_out = [line for line in summary.lines() if "another agency's" in line]
    assert called_out == [
        "police: every record is another agency's and was kept as a reject; "
        "was the right file given?"
    ]


def test_a_feed_of_which_nothing_was_accepted_is_called_out() -> None:
    summary = full_summary()
    summary.feeds["police"] = IngestCounts(read=4, rejected=4, units=1, other_agency=1)
    summary.feeds["probation"] = IngestCounts(read=4, accepted=1, rejected=3)
    summary.feeds["empty"] = IngestCounts()
    called_out = [line for line in summary.lines() if "right file" in line]
    assert called_out == [
        "police: every line read was rejected, none accepted; was the right file given?"
    ]


def test_two_failed_gateways_are_named_together() -> None:
    summary = full_summary()
    summary.feed_errors["probation"] = REFUSED
    summary.delivery_errors.clear()
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(summary, as_json=True)
    assert str(failed.value).startswith("The police and probation gateways could not be read")


def test_the_plain_summary_counts_in_words_and_names_each_gateway_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = full_summary()
    summary.delivered = {"police": {"notices": 1, "delivered": 1, "pending": 2}}
    summary.delivery_errors = {"police": "the police gateway did not answer POST /notices."}
    summary.feed_errors = {}
    print_summary(summary)
    out = capsys.readouterr().out.splitlines()
    assert "police gateway: delivered 1 notice in 1 batch, 2 batches waiting" in out
    assert "The police gateway did not answer POST /notices." in out
