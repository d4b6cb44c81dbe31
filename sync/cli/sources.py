"""Turn a `--probation-feed`/`--police-feed` argument into a feed source."""

from __future__ import annotations

from pathlib import Path

from sync.app import App
from sync.errors import UsageError
from sync.feeds.files import PlainFileSource
from sync.ingest import FeedSource

URL_SCHEMES = ("http://", "https://")


def open_source(spec: str, agency: str, app: App) -> FeedSource:
    """A feed source for a file path (plain or sealed) or a gateway URL."""
    if spec.startswith(URL_SCHEMES):
        raise UsageError(f"The {agency} feed URL cannot be used: gateway sources are not configured.")
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"The {agency} feed file {path.name} does not exist or is not a file.")
    return PlainFileSource(path)
