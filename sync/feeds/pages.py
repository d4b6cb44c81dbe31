"""Opening one sealed feed page, for sealed files and gateway pages alike.

A page is an envelope from the agency whose feed it is, with the feed content
type; its records are its plaintext's lines. A page of a file seen before (the
very same envelope) adds nothing. A gateway page seen before is refused: the
hub stores each page with the cursor after it, so a gateway that serves an
old page where a new one belongs would make the pull skip the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.crypto.envelope import open_envelope
from sync.crypto.header import CONTENT_TYPE_FEED
from sync.crypto.keys import KeyRing
from sync.crypto.replay import ReplayGuard, ReplayVerdict
from sync.crypto.sealed_file import PageSequence, page_of
from sync.errors import CryptoError, InputRefused
from sync.feeds.jsonl import PlacedLine, place_lines, split_lines


@dataclass(frozen=True, slots=True)
class PageOpener:
    """How a source opens its pages: its agency and name, the hub's keys, clock and skew window.

    `max_skew` is `None` for files (not live) and the settings' window for
    gateway pages, which also refuse a page seen before (`refuse_replayed`).
    """

    agency: str
    source: str
    keyring: KeyRing
    clock: Callable[[], datetime]
    max_skew: timedelta | None
    guard: ReplayGuard
    refuse_replayed: bool = False

    def placed_lines(
        self, wire: bytes, number: int, sequence: PageSequence | None = None
    ) -> Iterator[PlacedLine]:
        """Page `number`'s lines, placed as "page N line M"; a replayed page has none.

        The page is opened when the first line is asked for, so that the replay
        guard records it inside the unit that applies it. A sealed file's
        `sequence` checks the page's place in the file.
        """
        try:
            opened = open_envelope(
                wire,
                keyring=self.keyring,
                now=self.clock(),
                max_skew=self.max_skew,
                replay_guard=self.guard,
            )
        except CryptoError as error:
            # The check that failed, with the page and the source it failed in.
            refusal = f"Page {number} of {self.source} cannot be opened: {error}"
            raise InputRefused(refusal) from error
        sender = opened.header.sender.value
        if sender != self.agency:
            raise InputRefused(
                f"Page {number} of {self.source} was sealed by {sender}, not by {self.agency}."
            )
        if page_of(opened.header.content_type)[0] != CONTENT_TYPE_FEED:
            raise InputRefused(f"Page {number} of {self.source} is not a feed page.")
        replayed = opened.verdict is ReplayVerdict.SAME
        if replayed and self.refuse_replayed:
            raise InputRefused(
                f"Page {number} of {self.source} is a page already applied, served again "
                "where a new one belongs; the pull stops there and resumes from the same "
                "place next time."
            )
        if sequence is not None:
            sequence.see(opened.header.content_type, replayed)
        if not replayed:
            yield from place_lines(split_lines(opened.plaintext), prefix=f"page {number} ")
