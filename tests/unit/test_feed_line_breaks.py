"""A feed reads the same as a plain file, as a sealed file and from a gateway's pages.

A carriage return is JSON whitespace inside a record and part of a CRLF line
end, and a UTF-8 byte order mark may start the text: none of them may split a
record or spoil the first one, whichever way the feed arrives. Real keys and
real envelopes; the reference gateway's page reader on a real file.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sync.crypto.header import CONTENT_TYPE_FEED
from sync.crypto.keyring import generate_party, load_keyring
from sync.crypto.keys import Party
from sync.crypto.replay import InMemoryReplayGuard
from sync.crypto.sealed_file import seal_lines
from sync.feeds.files import PlainFileSource, SealedFileSource
from sync.feeds.jsonl import UTF8_BOM, Accepted, FeedItem
from sync.feeds.models import FeedContext
from sync.feeds.pages import PageOpener
from sync.gateway.feed import FeedFile
from tests.feed_records import person

CONTEXT = FeedContext("probation", date(2026, 11, 28))
NOW = datetime.now(UTC)
# Three records: one with a bare carriage return as whitespace, one ending CRLF.
TEXT = (
    UTF8_BOM
    + json.dumps(person("probation", "X000001")).encode().replace(b", ", b",\r ", 1)
    + b"\n"
    + json.dumps(person("probation", "X000002")).encode()
    + b"\r\n"
    + json.dumps(person("probation", "X000003")).encode()
    + b"\n"
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A key directory with the hub's and probation's keys."""
    directory = tmp_path_factory.mktemp("keys")
    for party in (Party.HUB, Party.PROBATION):
        generate_party(directory, party)
    return directory


def accepted_ids(items: list[FeedItem]) -> list[str]:
    """The ids of the accepted records, failing on any rejected line."""
    rejected = [item.reason for item in items if not isinstance(item, Accepted)]
    assert not rejected, rejected  # reasons only: the lines hold synthetic people
    return [item.version.rid for item in items if isinstance(item, Accepted)]


def test_a_plain_file_reads_three_records(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(TEXT)
    (unit,) = PlainFileSource(path).units(CONTEXT, InMemoryReplayGuard())
    assert accepted_ids(list(unit.items)) == ["X000001", "X000002", "X000003"]


def sealed(keys: Path, lines: list[bytes], page_lines: int) -> list[bytes]:
    """Probation's envelopes of `lines` to the hub, `page_lines` records a page."""
    wires = seal_lines(
        lines,
        sender=Party.PROBATION,
        recipient=Party.HUB,
        keyring=load_keyring(keys, Party.PROBATION),
        content_type=CONTENT_TYPE_FEED,
        now=NOW,
        page_lines=page_lines,
    )
    return list(wires)


def test_a_sealed_file_reads_as_the_plain_file(keys: Path, tmp_path: Path) -> None:
    path = tmp_path / "feed.sealed.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in sealed(keys, TEXT.split(b"\n"), 2)))
    source = SealedFileSource(path, load_keyring(keys, Party.HUB), lambda: NOW)
    (unit,) = source.units(CONTEXT, InMemoryReplayGuard())
    assert accepted_ids(list(unit.items)) == ["X000001", "X000002", "X000003"]


def test_gateway_pages_read_as_the_plain_file(keys: Path, tmp_path: Path) -> None:
    path = tmp_path / "served.jsonl"
    path.write_bytes(TEXT)
    served = FeedFile(path)
    pages = [b"".join(served.page(offset, 2)) for offset in range(0, len(served), 2)]
    assert len(served) == 3
    wires = [sealed(keys, [page], 100)[0] for page in pages]
    opener = PageOpener(
        "probation",
        "gateway",
        load_keyring(keys, Party.HUB),
        lambda: NOW,
        None,
        InMemoryReplayGuard(),
    )
    lines = [
        line for number, wire in enumerate(wires, 1) for line in opener.placed_lines(wire, number)
    ]
    assert [position for position, _raw in lines] == [
        "page 1 line 1",
        "page 1 line 2",
        "page 2 line 1",
    ]
