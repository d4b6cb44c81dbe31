"""Feed files on disk: plain JSON Lines, streamed one line at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sync.errors import UsageError
from sync.feeds.jsonl import FeedItem, iter_lines
from sync.feeds.models import FeedContext


class PlainFileSource:
    """A plain JSON Lines feed file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        """The file's name (never its folder: paths can say too much)."""
        return self.path.name

    def iter_items(self, context: FeedContext) -> Iterator[FeedItem]:
        """Every line of the file, validated or rejected."""
        try:
            with self.path.open("rb") as handle:
                yield from iter_lines(handle, context)
        except FileNotFoundError as error:
            raise UsageError(f"The feed file {self.path.name} does not exist.") from error
        except IsADirectoryError as error:
            raise UsageError(f"The feed path {self.path.name} is a folder, not a file.") from error
        except PermissionError as error:
            raise UsageError(f"The feed file {self.path.name} cannot be read.") from error
