"""Sealed JSON Lines files: one envelope per page of records, one envelope per line.

`seal_lines` groups plain JSON Lines into pages and seals each page; `open_lines`
opens a sealed file page by page. A sealed file comes from one sender with one
content type; the same envelope twice in a file is opened once.

Each page's content type carries the file's random id and the page's number,
and the last page says it is the last (`…; file=9f…; page=3; last=true`),
inside the signed header. `PageSequence` checks a file's pages against them,
so a file missing a page, cut short after a whole page, or with a page spliced
in from another sealed file, is refused rather than read as a smaller feed. A
file whose pages carry no numbers (sealed before they did) is read as it is;
one whose pages carry numbers but no file id is checked for its numbers only.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from sync.crypto.envelope import Opened, open_envelope, seal
from sync.crypto.keys import KeyRing, Party
from sync.crypto.replay import InMemoryReplayGuard, ReplayGuard, ReplayVerdict
from sync.errors import CryptoError, InputRefused

DEFAULT_PAGE_LINES = 1000
FILE_PARAMETER = "file"
PAGE_PARAMETER = "page"
LAST_PARAMETER = "last"
FILE_ID_BYTES = 8
_PARAMETER_RE = re.compile(
    r"(?:\s*;\s*file=([0-9a-f]{16,64}))?\s*;\s*page=([1-9][0-9]{0,8})(?:\s*;\s*(last)=true)?\s*",
    re.ASCII,
)


def new_file_id() -> str:
    """A random id naming one sealed file in each of its pages."""
    return secrets.token_hex(FILE_ID_BYTES)


def paged_content_type(base: str, number: int, last: bool, file_id: str | None = None) -> str:
    """The content type of page `number` of a sealed file (its id given, the last marked)."""
    named = "" if file_id is None else f"; {FILE_PARAMETER}={file_id}"
    marked = f"; {LAST_PARAMETER}=true" if last else ""
    return f"{base}{named}; {PAGE_PARAMETER}={number}{marked}"


def page_of(content_type: str) -> tuple[str, int | None, bool]:
    """A page's content type split: the base type, its page number (None if it has
    none) and whether it is the last page."""
    base, number, last, _file_id = _split(content_type)
    return base, number, last


def file_of(content_type: str) -> str | None:
    """The id of the sealed file a page's content type names (None if it names none)."""
    return _split(content_type)[3]


def _split(content_type: str) -> tuple[str, int | None, bool, str | None]:
    for start in range(len(content_type)):
        if content_type[start] != ";":
            continue
        found = _PARAMETER_RE.fullmatch(content_type, start)
        if found is not None:
            base = content_type[:start].rstrip()
            return base, int(found.group(2)), found.group(3) is not None, found.group(1)
    return content_type, None, False, None


class PageSequence:
    """Checks that a sealed file's pages come whole: 1, 2, … with the last marked last.

    The very same page seen again (a repeated line, a file read twice) is let
    through; a missing, extra or out-of-order page, a page naming another file,
    or a file that ends before its last page, refuses the file. A file with no
    page numbers is unchecked.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.numbered: bool | None = None
        self.file_id: str | None = None
        self.expected = 1
        self.ended = False

    def see(self, content_type: str, repeated: bool) -> None:
        """Check the next page of the file, by its content type."""
        _base, number, last, file_id = _split(content_type)
        if self.numbered is None:
            self.numbered = number is not None
            self.file_id = file_id
        if self.numbered != (number is not None):
            raise InputRefused(
                f"The sealed file {self.source} mixes numbered and unnumbered pages."
            )
        if file_id != self.file_id:
            raise InputRefused(
                f"The sealed file {self.source} holds a page of another sealed file."
            )
        if number is None or (repeated and number < self.expected):
            return
        if self.ended or number != self.expected:
            raise InputRefused(
                f"The sealed file {self.source} has page {number} where page "
                f"{self.expected} should be: a page is missing or out of order."
            )
        self.expected += 1
        self.ended = last

    def finish(self) -> None:
        """Refuse a numbered file that ended before its last page."""
        if self.numbered and not self.ended:
            raise InputRefused(
                f"The sealed file {self.source} ends after page {self.expected - 1}, "
                "which is not its last: the file was cut short."
            )


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
    """Wire lines (without newline), one per page of `page_lines` non-blank records.

    Each page's content type is numbered and the last is marked
    (`paged_content_type`), so a reader can tell a page is missing.
    """
    if page_lines < 1:
        raise ValueError("page_lines must be at least 1.")
    records = _records(lines)
    file_id = new_file_id()
    page, number = list(islice(records, page_lines)), 1
    while page:
        following = list(islice(records, page_lines))
        yield seal(
            b"".join(page),
            sender=sender,
            recipient=recipient,
            keyring=keyring,
            content_type=paged_content_type(content_type, number, not following, file_id),
            now=now,
        )
        page, number = following, number + 1


def open_lines(
    lines: Iterable[bytes],
    *,
    keyring: KeyRing,
    now: datetime,
    replay_guard: ReplayGuard | None = None,
    source: str = "given",
) -> Iterator[Opened]:
    """Open every envelope of a sealed file, skipping repeats of the very same envelope.

    `source` names the file in a refusal; its pages are checked (`PageSequence`).

    No clock-skew check (a file is not live); the header's `sealed_at` tells the
    caller when each page was sealed. A line that is not an envelope, or a
    change of sender or content type part-way, refuses the file.
    """
    guard = replay_guard if replay_guard is not None else InMemoryReplayGuard()
    first: Opened | None = None
    pages = PageSequence(source)
    envelopes = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        envelopes += 1
        try:
            opened = open_envelope(
                line, keyring=keyring, now=now, max_skew=None, replay_guard=guard
            )
        except CryptoError as error:
            refusal = f"envelope {envelopes} of the sealed file {source} cannot be opened: {error}"
            raise InputRefused(refusal) from error
        if first is None:
            first = opened
        elif (opened.header.sender, page_of(opened.header.content_type)[0]) != (
            first.header.sender,
            page_of(first.header.content_type)[0],
        ):
            raise InputRefused(f"line {number} of the sealed file changes sender or content type.")
        repeated = opened.verdict is ReplayVerdict.SAME
        pages.see(opened.header.content_type, repeated)
        if not repeated:
            yield opened
    pages.finish()
