"""`arms-sync envelope …`: seal a JSON Lines file per page, open a sealed file, or verify one.

`seal` reads plain JSON Lines and writes one envelope per page of N lines;
`open` checks every envelope and writes the plaintext records; `verify` checks
who sealed each envelope, for a relay, with public keys only and without
decrypting anything. Output is written to a temporary file and moved into
place only when every page succeeded, so a refused input leaves nothing behind.
Opened output holds personal data and is created readable by its owner only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import click

from sync.cli.context import writing
from sync.cli.keys_cmd import PARTY_CHOICE, key_dir_option, resolve_key_dir
from sync.crypto.envelope import verify_outer
from sync.crypto.header import CONTENT_TYPE_FEED
from sync.crypto.keyring import load_keyring, load_public_ring, private_parties
from sync.crypto.keys import Party
from sync.crypto.sealed_file import DEFAULT_PAGE_LINES, open_lines, seal_lines
from sync.errors import CryptoError, InputRefused
from sync.owner_only_files import owner_only_file
from sync.wording import counted

STDIO = "-"


@contextmanager
def _input(path: str) -> Iterator[BinaryIO]:
    if path == STDIO:
        yield sys.stdin.buffer
        return
    if not Path(path).is_file():
        raise InputRefused(f"the input file {path} does not exist or is not a file.")
    with Path(path).open("rb") as stream:
        yield stream


@contextmanager
def _output(path: str) -> Iterator[BinaryIO]:
    if path == STDIO:
        yield sys.stdout.buffer
        return
    target = Path(path)
    with writing(target), owner_only_file(target) as stream:
        yield stream


def _named(path: str) -> str:
    """How a refusal names the input: its file name, or standard input."""
    return "read from standard input" if path == STDIO else Path(path).name


def _my_party(key_dir: Path, chosen: str | None) -> Party:
    if chosen is not None:
        return Party(chosen)
    parties = private_parties(key_dir)
    if not parties:
        raise click.UsageError(f"the key directory {key_dir} holds no private keys.")
    if len(parties) != 1:
        raise click.UsageError("the key directory holds keys of several parties; pass --as.")
    return parties[0]


@click.group("envelope")
def envelope() -> None:
    """Seal files for another party, or open files sealed for you."""


@envelope.command("seal", params=[key_dir_option("--keys")])
@click.option("--from", "sender", type=PARTY_CHOICE, required=True, help="Sealing party.")
@click.option("--to", "recipient", type=PARTY_CHOICE, required=True, help="Receiving party.")
@click.option(
    "--content-type",
    default=CONTENT_TYPE_FEED,
    show_default=True,
    help="What the envelopes hold, as their header names it.",
)
@click.option(
    "--page-lines",
    type=click.IntRange(min=1),
    default=DEFAULT_PAGE_LINES,
    show_default=True,
    help="Records per envelope.",
)
@click.argument("source", metavar="IN")
@click.argument("destination", metavar="OUT")
def seal_cmd(
    *,
    sender: str,
    recipient: str,
    content_type: str,
    page_lines: int,
    source: str,
    destination: str,
    key_dir: Path | None,
) -> None:
    """Seal JSON Lines IN into OUT, one envelope per page of records."""
    keyring = load_keyring(resolve_key_dir(key_dir), Party(sender))
    pages = 0
    with _input(source) as lines, _output(destination) as out:
        for wire in seal_lines(
            lines,
            sender=Party(sender),
            recipient=Party(recipient),
            keyring=keyring,
            content_type=content_type,
            now=datetime.now(UTC),
            page_lines=page_lines,
        ):
            out.write(wire + b"\n")
            pages += 1
    click.echo(f"Sealed {counted(pages, 'page')} from {sender} to {recipient}.", err=True)


@envelope.command("open", params=[key_dir_option("--keys")])
@click.option("--as", "me", type=PARTY_CHOICE, default=None, help="Receiving party.")
@click.argument("source", metavar="IN")
@click.argument("destination", metavar="OUT")
def open_cmd(*, me: str | None, source: str, destination: str, key_dir: Path | None) -> None:
    """Check and open the sealed file IN, writing its records to OUT."""
    directory = resolve_key_dir(key_dir)
    keyring = load_keyring(directory, _my_party(directory, me))
    pages: list[str] = []
    sender = ""
    with _input(source) as lines, _output(destination) as out:
        for opened in open_lines(
            lines, keyring=keyring, now=datetime.now(UTC), source=_named(source)
        ):
            out.write(opened.plaintext)
            pages.append(opened.header.sealed_at)
            sender = opened.header.sender.value
    if not pages:
        click.echo("The sealed file holds no envelopes.", err=True)
        return
    click.echo(
        f"Opened {counted(len(pages), 'page')} from {sender}, sealed {min(pages)} to {max(pages)}.",
        err=True,
    )


@envelope.command("verify", params=[key_dir_option("--keys")])
@click.argument("source", metavar="IN")
def verify_cmd(*, source: str, key_dir: Path | None) -> None:
    """Check who sealed each envelope of IN, without decrypting (a relay's check).

    Needs only the parties' public keys (a ring of imported keys will do). Every
    outer signature must verify under a key that is neither revoked nor past its
    grace period; the first that does not is named and the command exits 2.
    """
    keyring = load_public_ring(resolve_key_dir(key_dir))
    now = datetime.now(UTC)
    routes: set[tuple[str, str]] = set()
    count = 0
    with _input(source) as lines:
        for number, line in enumerate(filter(None, (raw.strip() for raw in lines)), start=1):
            try:
                header = verify_outer(line, keyring, now=now)
            except CryptoError as error:
                raise InputRefused(f"Envelope {number} of {source} is refused: {error}") from error
            routes.add((header.sender.value, header.recipient.value))
            count = number
    if not count:
        raise InputRefused(f"The file {source} holds no envelopes, so no signature can be checked.")
    described = "; ".join(
        f"sealed by {sender} to {recipient}" for sender, recipient in sorted(routes)
    )
    click.echo(f"{counted(count, 'envelope')}, {described}: every outer signature verifies.")
