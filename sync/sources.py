"""Turn a feed's name into a feed source: a plain or sealed file, or a gateway URL.

The name is a `--probation-feed`/`--police-feed` argument or a cycle's stored feed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sync.app import App
from sync.errors import InputRefused, UsageError
from sync.feeds.files import PlainFileSource, SealedFileSource, is_sealed_file
from sync.gateway_clients import check_gateway_url
from sync.ingest import FeedSource

URL_SCHEMES = ("http://", "https://")
# A name starting like a URL (`ftp://…`, `file:///…`): never a plain file name in practice.
OTHER_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


def open_source(spec: str, agency: str, app: App) -> FeedSource:
    """A feed source for a file path (plain or sealed, told apart by itself) or a gateway URL."""
    if spec.startswith(URL_SCHEMES):
        from sync.gateway_source import gateway_source

        return gateway_source(spec, agency, app)
    path = feed_file(spec, agency, app)
    if is_sealed_file(path):
        return SealedFileSource(path, app.require_keyring(), app.clock)
    return PlainFileSource(path)


def feed_file(spec: str, agency: str, app: App) -> Path:
    """The feed file `spec` names; refused in one sentence if it is missing, cannot be a
    feed (UTF-16, compressed, lines ended by carriage returns alone), or is unsealed where
    the deployment reads sealed feeds only."""
    path = Path(spec)
    shown = path.name or spec  # `.` or `/` has no last part to name
    other_url = OTHER_URL.match(spec)
    if other_url is not None and not _is_file(path):
        # The scheme only: the rest of a URL may hold a user name and password.
        raise UsageError(
            f"The {agency} feed names a URL of the scheme {other_url['scheme']}, which "
            "arms-sync cannot read; give a feed file or a gateway's https:// URL."
        )
    if not _is_file(path):
        if _is_folder(path):
            raise UsageError(f"The {agency} feed path {shown} is a folder, not a feed file.")
        if _looked_up(path.exists):
            raise UsageError(
                f"The {agency} feed path {shown} is not a regular file (a device or a pipe, "
                "say): a feed is read from a file, which may be read more than once."
            )
        raise UsageError(f"The {agency} feed file {shown} does not exist or is not a file.")
    sealed = is_sealed_file(path)  # reads its first line, and refuses a file no feed is
    if app.settings.sealed_feeds_only and not sealed:
        raise InputRefused(
            f"The {agency} feed file {shown} is not sealed, and this deployment reads "
            "sealed feeds only (the sealed_feeds_only setting)."
        )
    return path


def feed_for_workers(spec: str, agency: str, app: App) -> str:
    """A feed as a distributed cycle stores it for its workers: a gateway URL as given
    once a client could be built for it, a file checked here (as `run` checks it) and
    named by its absolute path, since the workers run in folders of their own."""
    if spec.startswith(URL_SCHEMES):
        check_gateway_url(app.settings, spec)
        return spec
    return str(feed_file(spec, agency, app).resolve())


def require_distinct_feeds(probation_feed: str, police_feed: str) -> None:
    """Refuse one file given as both agencies' feeds: a feed holds one agency's records."""
    if probation_feed.startswith(URL_SCHEMES) or police_feed.startswith(URL_SCHEMES):
        return
    try:
        same = Path(probation_feed).samefile(police_feed)
    except OSError:
        return  # a feed file that cannot be found is refused when it is opened
    if same:
        raise UsageError(
            f"The same file, {Path(police_feed).name}, is given as both the probation and "
            "the police feed; give each agency's own feed."
        )


def _is_folder(path: Path) -> bool:
    """Whether `path` names a folder (`_looked_up`)."""
    return _looked_up(path.is_dir)


def _is_file(path: Path) -> bool:
    """Whether `path` names a file (`_looked_up`)."""
    return _looked_up(path.is_file)


def _looked_up(test: Callable[[], bool]) -> bool:
    """A path's test; a name the system cannot look up (too long) names nothing."""
    try:
        return test()
    except OSError:
        return False
