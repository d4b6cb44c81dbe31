"""Feed files on disk: plain JSON Lines or sealed (one envelope per page), told apart by themselves.

Either kind is read as one unit: everything in the file is applied together,
or, if any envelope is refused, nothing is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from sync.crypto.envelope import looks_like_envelope
from sync.crypto.keys import KeyRing
from sync.crypto.replay import ReplayGuard
from sync.crypto.sealed_file import PageSequence
from sync.errors import InputRefused, UsageError
from sync.feeds.jsonl import UTF8_BOM, FeedItem, PlacedLine, iter_lines, validate_stream
from sync.feeds.models import FeedContext
from sync.feeds.pages import PageOpener
from sync.ingest import Unit

# How an envelope's line opens (its first field, as any writer may order them), told apart
# from a feed record's, which opens with fields of its own (`{"type":`).
ENVELOPE_OPENING = re.compile(rb'\s*\{\s*"(?:header|ct|sig)"\s*:')

# A file saved as UTF-16 or UTF-32 starts with one of these; feeds are UTF-8.
WIDE_UNICODE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
# A compressed file starts with its format's signature (bzip2's: "BZh", a block size
# and the first block's magic number, so no text line is taken for one).
COMPRESSED_SIGNATURES = (
    (re.compile(rb"\x1f\x8b"), "gzip"),
    (re.compile(rb"PK\x03\x04"), "zip"),
    (re.compile(rb"BZh[1-9]1AY&SY"), "bzip2"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz"),
)
# One record's end and the next one's start parted by a carriage return alone: in
# JSON a `}` and a `{` can only be parted by a comma, so this is a line end of a file
# saved with old Mac line ends, where the whole file reads as one line.
RECORDS_PARTED_BY_CR = re.compile(rb"\}[ \t]*\r[ \t]*\{")


def _refuse_compressed(path: Path, first: bytes) -> None:
    """Refuse a feed file that is an archive: its bytes would only be read as bad lines."""
    for signature, kind in COMPRESSED_SIGNATURES:
        if signature.match(first):
            raise UsageError(
                f"The feed file {path.name} is compressed ({kind}); decompress it and give "
                "the JSON Lines file."
            )


def _open_lines(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
            if first.startswith(WIDE_UNICODE_BOMS):
                raise UsageError(
                    f"The feed file {path.name} is not UTF-8 text (it was saved as UTF-16 "
                    "or UTF-32); save it as UTF-8."
                )
            _refuse_compressed(path, first)
            if RECORDS_PARTED_BY_CR.search(first):
                raise UsageError(
                    f"The feed file {path.name} ends its lines with carriage returns alone; "
                    "save it with line feeds (or CR LF)."
                )
            if first:
                yield first.removeprefix(UTF8_BOM)
            yield from handle
    except FileNotFoundError as error:
        raise UsageError(f"The feed file {path.name} does not exist.") from error
    except IsADirectoryError as error:
        raise UsageError(f"The feed path {path.name} is a folder, not a file.") from error
    except PermissionError as error:
        raise UsageError(f"The feed file {path.name} cannot be read.") from error
    except OSError as error:  # a failing disk or network share, a file that cannot be read
        raise UsageError(
            f"The feed file {path.name} cannot be read: {read_failure(error)}."
        ) from error


def read_failure(error: OSError) -> str:
    """What the system said of a failed read, in lower case (`input/output error`)."""
    said = error.strerror or "the system refused the read"
    return said[:1].lower() + said[1:]


def is_sealed_file(path: Path) -> bool:
    """Whether the file's first non-blank line is an envelope.

    A first line that opens as an envelope does (`{"header":`, or another of its
    fields first) but is no whole envelope is refused: the file was cut short or
    damaged in its first page, and read as a plain feed it would be one rejected
    line, every record in it missing without a word.
    """
    for line in _open_lines(path):
        if not line.strip():
            continue
        if looks_like_envelope(line.strip()):
            return True
        if ENVELOPE_OPENING.match(line):
            raise InputRefused(
                f"The feed file {path.name} begins as a sealed envelope, but its first "
                "line is cut short or damaged; nothing from it was read: ask its agency "
                "for the file again."
            )
        return False
    return False


class _FileSource:
    """What every feed file shares: its path, its name, and that it is not live."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        """The file's name (never its folder: paths can say too much)."""
        return self.path.name

    @property
    def live(self) -> bool:
        """A file is not live: a refused file stops the run."""
        return False


class PlainFileSource(_FileSource):
    """A plain JSON Lines feed file: nothing in it says who wrote it."""

    sealed = False

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """The whole file as one unit."""
        yield Unit(iter_lines(_open_lines(self.path), context))


class SealedFileSource(_FileSource):
    """A sealed feed file: JSON Lines of envelopes from the agency to the hub."""

    sealed = True

    def __init__(self, path: Path, keyring: KeyRing, clock: Callable[[], datetime]) -> None:
        super().__init__(path)
        self.keyring = keyring
        self.clock = clock

    def units(self, context: FeedContext, guard: ReplayGuard) -> Iterator[Unit]:
        """The whole file as one unit, each envelope checked before its records count."""
        yield Unit(self._items(context, guard))

    def _items(self, context: FeedContext, guard: ReplayGuard) -> Iterator[FeedItem]:
        # One stream across pages, so a long sealed file is validated like a plain one.
        return validate_stream(self._placed_lines(context, guard), context)

    def _placed_lines(self, context: FeedContext, guard: ReplayGuard) -> Iterator[PlacedLine]:
        """Each opened page's lines, placed as "page N line M"; replayed pages add nothing."""
        opener = PageOpener(context.agency, self.path.name, self.keyring, self.clock, None, guard)
        sequence = PageSequence(self.path.name)
        for number, line in enumerate(_open_lines(self.path), start=1):
            if line.strip():
                yield from opener.placed_lines(line, number, sequence)
        sequence.finish()
