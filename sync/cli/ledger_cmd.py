"""`arms-sync ledger …`: upkeep of the ledger itself; `reencrypt` rotates its at-rest key,
`clear-wait` lets the next pull call a gateway that asked to be left alone.

`reencrypt` rewrites every encrypted value under a new at-rest key (plaintext
left from before encryption at rest was always on included) and prints one
sentence with the counts (and, on a terminal, which column it is rewriting).
The work is `sync.reencryption` and `sync.gateway_source.clear_feed_wait`; this
module parses and reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from sync.cli.context import AGENCY_CHOICE, KEYS_OPTION, CliState, is_terminal, pass_state
from sync.gateway_source import clear_feed_wait
from sync.ledger.reencrypt import Progress
from sync.reencryption import Reencrypted, counts_by_table, reencrypt_ledger


@click.group("ledger")
def ledger() -> None:
    """Upkeep of the ledger: re-encrypt it under a new at-rest key, clear a gateway's wait."""


@ledger.command("reencrypt")
@KEYS_OPTION
@click.option(
    "--operator", help="Who is acting (default: ARMS_SYNC_OPERATOR or the settings file)."
)
@pass_state
def reencrypt_cmd(state: CliState, keys_dir: Path | None, operator: str | None) -> None:
    """Rotate the at-rest key: rewrite every encrypted value (and plaintext) under a new one.

    The MAC key stays, so pseudonyms and subject ids do not change. The old key
    is kept beside the key file as `<key file>.old`. An interrupted run is
    finished by running the command again.
    """
    if keys_dir is not None:
        state.keys_dir = keys_dir
    name = state.operator(operator)
    with _progress() as show:
        outcome = reencrypt_ledger(state.app, operator=name, progress=show)
    click.echo(summary(outcome))


@ledger.command("clear-wait")
@click.argument("agency", type=AGENCY_CHOICE, metavar="AGENCY")
@click.option(
    "--operator", help="Who is acting (default: ARMS_SYNC_OPERATOR or the settings file)."
)
@pass_state
def clear_wait_cmd(state: CliState, agency: str, operator: str | None) -> None:
    """Call AGENCY's gateway for its feed at the next pull, before the time it asked for.

    A gateway's `Retry-After` longer than a call waits is kept in the ledger,
    and no pull calls it before that time (`arms-sync status` shows it). Once
    the gateway's team says it is back, this clears the wait; the act is
    recorded in the audit log.
    """
    name = state.operator(operator)
    until = clear_feed_wait(state.app, agency, name)
    if until is None:
        click.echo(f"The {agency} gateway's feed has no wait that still lasts; nothing to clear.")
        return
    click.echo(
        f"Cleared the {agency} gateway's wait (it asked not to be called for its feed before "
        f"{until:%Y-%m-%d %H:%M:%S} UTC): the next run or pull calls it."
    )


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """Which column is being rewritten, on a terminal; nothing when piped."""
    if not is_terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as Bar

    with Bar(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("re-encrypting", total=None)

        def show(column: str, batches: int) -> None:
            bar.update(task, description=f"re-encrypting {column}, batch {batches:,}")

        yield show


def summary(outcome: Reencrypted) -> str:
    """One sentence: what was rewritten, in which tables, and where the keys are."""
    rewritten = outcome.rewritten
    finished = "Finished re-encrypting" if outcome.resumed else "Re-encrypted"
    return (
        f"{finished} the ledger under a new at-rest key: {rewritten.total:,} values rewritten "
        f"({counts_by_table(rewritten)}), {rewritten.plaintext:,} of them from plaintext; "
        f"the new key is in {outcome.key_file.name} and the old one is kept as "
        f"{outcome.previous_key_file.name} until you remove it."
    )
