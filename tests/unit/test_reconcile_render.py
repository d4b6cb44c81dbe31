"""What an act's output says becomes of its ownership changes: notices, or nothing sent."""

from __future__ import annotations

import pytest

from sync.reconcile.preview import ActOutcome, Preview
from sync.reconcile.render import outcome_lines

NOTHING = Preview(before=(), after=(), notices=())


@pytest.mark.parametrize(
    ("applied", "sends_notices", "title"),
    [
        (False, True, "Notices that will go out:"),
        (True, True, "Notices queued for the agencies:"),
        (False, False, "Ownership changes (no notices are sent: this deployment has no key "),
        (True, False, "Ownership changes (no notices are sent: this deployment has no key "),
    ],
)
def test_the_changes_are_titled_by_what_becomes_of_them(
    applied: bool, sends_notices: bool, title: str
) -> None:
    outcome = ActOutcome("OVR-1" if applied else None, NOTHING, applied, 7 if applied else None)

    lines = outcome_lines(outcome, "override", sends_notices=sends_notices)

    (heading,) = [line for line in lines if line.startswith(("Notices", "Ownership changes"))]
    assert heading.startswith(title)
