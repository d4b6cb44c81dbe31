"""A run's summary on the command line reads the same whatever order the run counted in."""

from __future__ import annotations

import json

import pytest

from sync.cli.run_cmds import _report_run
from sync.cycle import RunSummary
from sync.errors import ArmsSyncError
from sync.ingest import IngestCounts
from tests.unit.test_run_summary import REFUSED, full_summary


def _succeeded() -> RunSummary:
    """A summary of a run no gateway let down, counting both agencies."""
    summary = full_summary()
    summary.feed_errors.clear()
    summary.delivery_errors.clear()
    summary.feeds["police"] = IngestCounts(read=4, accepted=4, warnings=1)
    summary.changed["police"] = 4
    summary.owners_today["police"] = 2
    summary.open_flags["assessed_by_non_owner"] = 1
    return summary


def _reversed(summary: RunSummary) -> RunSummary:
    """The same summary with every count listed in the opposite order."""
    again = RunSummary.from_dict(summary.as_dict())
    for name in ("feeds", "changed", "owners_today", "open_flags", "delivered", "delivery_notes"):
        counts = getattr(again, name)
        setattr(again, name, dict(reversed(list(counts.items()))))
    return again


def test_the_json_summary_is_the_same_bytes_whatever_order_the_run_counted_in(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`run --json` prints one line whose keys do not depend on which agency was counted first."""
    summary = _succeeded()
    _report_run(summary, as_json=True)
    first = capsys.readouterr().out
    _report_run(_reversed(summary), as_json=True)
    assert capsys.readouterr().out == first
    assert json.loads(first) == json.loads(json.dumps(summary.as_dict()))


def test_two_failed_gateways_are_named_in_alphabetical_order_whichever_failed_first() -> None:
    """Probation's feed failing before police's still reads 'police and probation gateways'."""
    summary = full_summary()
    summary.delivery_errors.clear()
    summary.feed_errors = {"probation": REFUSED, "police": REFUSED}
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(summary, as_json=True)
    assert str(failed.value).startswith("The police and probation gateways could not be read;")


def test_two_gateways_that_did_not_take_their_notices_are_named_in_alphabetical_order() -> None:
    """The delivery failure names the gateways in the same order as a feed failure does."""
    summary = full_summary()
    summary.feed_errors.clear()
    summary.delivery_errors = {"probation": "not taken", "police": "not taken"}
    with pytest.raises(ArmsSyncError) as failed:
        _report_run(summary, as_json=False)
    assert str(failed.value).startswith(
        "The police and probation gateways did not take every notice batch;"
    )
