"""Audit calls for command-line consultations and disclosures (exports, reports, shows).

The actor is the operator when one is configured (`--operator`,
`ARMS_SYNC_OPERATOR`), else the operating-system account running the command.
A consultation is recorded before the data is shown; a disclosure once its
file is in place (a write that failed disclosed nothing), in the command
that wrote it, so a command never shows or writes without leaving its trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sync.app import App
from sync.audit.log import audit_log_for
from sync.audit.pipeline_hooks import audit_consultation, audit_file_written, cli_actor


def audit_cli_consultation(
    app: App,
    purpose: str,
    refs: Sequence[str] = (),
    detail: str | None = None,
    operator: str | None = None,
) -> None:
    """Log a consultation made from the command line."""
    actor = cli_actor(operator or app.settings.operator)
    audit_consultation(audit_log_for(app.ledger.engine), actor, purpose, refs, detail)


def audit_cli_disclosure(app: App, what: str, out: Path) -> None:
    """Log that a command wrote data to a file (the file is the recipient)."""
    log = audit_log_for(app.ledger.engine)
    audit_file_written(log, cli_actor(app.settings.operator), what, out)
