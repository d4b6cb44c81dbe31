"""Sealed JSON Lines files: one envelope per page of records, one envelope per line.

`seal_lines` groups plain JSON Lines into pages and seals each page; `open_lines`
opens a sealed file page by page. A sealed file comes from one sender with one
content type; the same envelope twice in a file is opened once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from sync.crypto.envelope import Opened, open_envelope, seal
from sync.crypto.keys import KeyRing, Party
from sync.crypto.replay import InMemoryReplayGuard, ReplayGuard, ReplayVerdict
from sync.errors import InputRefused

DEFAULT_PAGE_LINES = 1000


def _records(lines: Iterable[bytes]) -> Iterator[bytes]:
    for line in lines:
        record = line.strip()
        if record:
            yield record + b"\n"


def seal_lines(
    lines: Iterable[bytes],
    *,
    sender: Party,
    recipient: Party,
    keyring: KeyRing,
    content_type: str,
    now: datetime,
    page_lines: int = DEFAULT_PAGE_LINES,
) -> Iterator[bytes]:
    """Wire lines (without newline), one per page of `page_lines` non-blank records."""
    if page_lines < 1:
        raise ValueError("page_lines must be at least 1.")
    records = _records(lines)
    while page := list(islice(records, page_lines)):
        yield seal(
            b"".join(page),
            sender=sender,
            recipient=recipient,
            keyring=keyring,
            content_type=content_type,
            now=now,
        )


def open_lines(
    lines: Iterable[bytes],
    *,
    keyring: KeyRing,
    now: datetime,
    replay_guard: ReplayGuard | None = None,
) -> Iterator[Opened]:
    """Open every envelope of a sealed file, skipping repeats of the very same envelope.

    No clock-skew check (a file is not live); the header's `sealed_at` tells the
    caller when each page was sealed. A line that is not an envelope, or a
    change of sender or content type part-way, refuses the file.
    """
    guard = replay_guard if replay_guard is not None else InMemoryReplayGuard()
    first: Opened | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        opened = open_envelope(line, keyring=keyring, now=now, max_skew=None, replay_guard=guard)
        if first is None:
            first = opened
        elif (opened.header.sender, opened.header.content_type) != (
            first.header.sender,
            first.header.content_type,
        ):
            raise InputRefused(f"line {number} of the sealed file changes sender or content type.")
        if opened.verdict is not ReplayVerdict.SAME:
            yield opened
