"""The ledger's URL, checked before use, and failures to open the ledger in one sentence.

A ledger URL comes from `--db`, `ARMS_SYNC_DATABASE_URL` or the settings file
and may carry a password. A URL arms-sync cannot use at all (not a URL, an
unknown kind of database, a driver that is not installed, an SQLite file in a
folder that does not exist, a file that is not a database, a PostgreSQL
database its server does not hold or a login it refuses) is a configuration
error; a server that cannot be reached, or a disk too full for the ledger to
grow, is a ledger failure, as it may be passing. Messages name the kind of
database, its file or its host, never the user name or password.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from sync.errors import ArmsSyncError, ConfigurationError, LedgerError

PSYCOPG_DRIVER = "postgresql+psycopg"
PLAIN_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
USABLE = "use sqlite:///FILE or postgresql://HOST/NAME"
USABLE_BACKENDS = frozenset({"sqlite", "postgresql"})
SQLITE_NOT_A_DATABASE = "SQLITE_NOTADB"
SQLITE_CANNOT_OPEN = "SQLITE_CANTOPEN"
SQLITE_READ_ONLY = "SQLITE_READONLY"  # and its variants (_DIRECTORY, _DBMOVED, …)
SQLITE_FULL = "SQLITE_FULL"
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full
# SQLSTATEs of a server ending the session: admin_shutdown, crash_shutdown, cannot_connect_now.
POSTGRES_SESSION_ENDED = frozenset({"57P01", "57P02", "57P03"})
POSTGRES_CONNECTION_EXCEPTION = "08"  # the SQLSTATE class of a connection's failures
DISK_FULL_ADVICE = "its disk is full; free some space, then run the command again"
NOTHING_HALF_MADE = "no change was left half made"
SQLITE_CORRUPT = "SQLITE_CORRUPT"
DAMAGED = (
    "The ledger's SQLite file is damaged, so nothing more was read or changed; "
    'restore it from its latest backup (docs/operations.md, "Backups and restarts").'
)
MEMORY = ":memory:"
FILE_URI = "file:"
MEMORY_MODE = "memory"
SQLITE_FILE_NAME = re.compile(r"[^\s=@:]+\.(?:db|sqlite|sqlite3)", re.ASCII)
# Why a PostgreSQL server turned a connection away, read from its message: psycopg gives
# no SQLSTATE for a connection that failed (the server's and libpq's English words).
POSTGRES_NO_SUCH_DATABASE = re.compile(r'FATAL:\s+database ".*" does not exist')
POSTGRES_LOGIN_REFUSED = re.compile(
    r"password authentication failed|role \".*\" does not exist|no pg_hba\.conf entry"
    r"|no password supplied|authentication failed"
)
POSTGRES_NO_SERVER = re.compile(
    r"Connection refused|could not translate host name|Name or service not known"
    r"|No such file or directory|timeout expired|No route to host"
)


def parse_ledger_url(raw: str) -> URL:
    """The SQLAlchemy URL of a ledger URL (plain `postgresql://` uses psycopg 3)."""
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as error:
        raise ConfigurationError(
            f"The ledger URL is not a database URL; {_usable(raw)}."
        ) from error
    if url.drivername in PLAIN_POSTGRES_SCHEMES:
        url = url.set(drivername=PSYCOPG_DRIVER)
    _refuse_a_plain_sqlite_query(url)
    check_sqlite_file(url)
    return url


def _refuse_a_plain_sqlite_query(url: URL) -> None:
    """Refuse an SQLite URL with a query but no `uri=true`: SQLite would not see the
    query (`?mode=ro` would open the ledger for writing all the same)."""
    if url.get_backend_name() != "sqlite" or not url.query:
        return
    if str(url.query.get("uri", "")).lower() == "true":
        return
    names = ", ".join(sorted(url.query))
    raise ConfigurationError(
        f"The SQLite ledger URL's query ({names}) is read only in a URI: write "
        "sqlite:///file:PATH?...&uri=true, or give the file alone."
    )


def _usable(raw: str) -> str:
    """What to write instead of a value that is not a URL; an SQLite file name gets its URL.

    Only a value that is plainly a database file name (no spaces, `=`, `@` or
    `:`, ending `.db`, `.sqlite` or `.sqlite3`) is repeated back: anything
    else may be a mangled URL or connection string holding a password.
    """
    if SQLITE_FILE_NAME.fullmatch(raw):
        return f"for the SQLite file {raw} write sqlite:///{raw}, or use postgresql://HOST/NAME"
    return USABLE


def unusable_url(url: URL, error: Exception) -> ConfigurationError:
    """The configuration error for a URL whose engine cannot be built."""
    if isinstance(error, NoSuchModuleError):
        return ConfigurationError(
            f"The ledger URL names a kind of database arms-sync cannot use "
            f"({url.drivername}); {USABLE}."
        )
    if isinstance(error, ImportError) and url.get_backend_name() not in USABLE_BACKENDS:
        return ConfigurationError(
            f"A ledger is kept in SQLite or PostgreSQL, not {url.get_backend_name()}; {USABLE}."
        )
    if isinstance(error, ImportError):
        return ConfigurationError(
            f"The database driver for {url.drivername} ledger URLs is not installed; {USABLE}."
        )
    return ConfigurationError(f"The ledger URL has a setting arms-sync cannot use; {USABLE}.")


def is_memory_database(url: URL) -> bool:
    """Whether the URL names an SQLite database in memory (it dies with its process).

    Covers `sqlite://`, `sqlite:///:memory:` and the URI form
    `sqlite:///file:NAME?mode=memory&uri=true`.
    """
    if url.get_backend_name() != "sqlite":
        return False
    return _sqlite_file_name(url) in ("", MEMORY) or url.query.get("mode") == MEMORY_MODE


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite ledger, or None (another database, or one in memory).

    A URI (`sqlite:///file:PATH?uri=true`) names the file in its path.
    """
    if url.get_backend_name() != "sqlite" or is_memory_database(url):
        return None
    return Path(_sqlite_file_name(url))


def _sqlite_file_name(url: URL) -> str:
    """The SQLite database named in the URL, with a URI's `file:` and query removed."""
    database = url.database or ""
    if database.startswith(FILE_URI):
        return urlsplit(database).path
    return database


def check_sqlite_file(url: URL) -> None:
    """Refuse an SQLite ledger that is a folder or lies in a folder that does not exist."""
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise ConfigurationError(f"The ledger file {path} is a folder.")
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise ConfigurationError(
            f"The ledger file {path} cannot be made: {folder} is not a folder."
        )
    if not folder.exists():
        raise ConfigurationError(
            f"The ledger file {path} cannot be made: the folder {folder} does not exist."
        )


def ledger_place(url: URL) -> str:
    """Where a ledger is, for a message: its file, or its database and host."""
    path = sqlite_path(url)
    if path is not None:
        return f"file {path}"
    if url.get_backend_name() == "sqlite":
        return "SQLite database"
    port = f":{url.port}" if url.port else ""
    return f"database {url.database or '(default)'} on {url.host or 'the local socket'}{port}"


def open_failure(url: URL, error: DatabaseError) -> ArmsSyncError | None:
    """The one-sentence error for a failure to open or upgrade the ledger, or None if other
    (a damaged file among them: `ledger_failure` names it, wherever it is found)."""
    name = getattr(error.orig, "sqlite_errorname", None)
    place = ledger_place(url)
    if name == SQLITE_NOT_A_DATABASE:
        return ConfigurationError(f"The ledger {place} is not an SQLite database.")
    if name == SQLITE_CANNOT_OPEN:
        return ConfigurationError(f"The ledger {place} cannot be opened; check its permissions.")
    if _is_read_only(name):
        return ConfigurationError(
            f"The ledger {place} cannot be written; check the permissions of its file and folder."
        )
    if is_disk_full(error):
        return LedgerError(f"The ledger {place} cannot grow: {DISK_FULL_ADVICE}.")
    if isinstance(error, OperationalError):
        turned_away = _postgres_turned_away(url, place, str(error.orig))
        return turned_away or LedgerError(
            f"The ledger {place} cannot be reached, opened or upgraded."
        )
    return None


def _postgres_turned_away(url: URL, place: str, message: str) -> ArmsSyncError | None:
    """Why a PostgreSQL server turned the ledger's connection away (`place`), when its
    message says: no such database or a login refused (configuration), or no server
    answering (a failure that may pass); None otherwise. Never names the user."""
    if url.get_backend_name() != "postgresql":
        return None
    if POSTGRES_NO_SUCH_DATABASE.search(message):
        return ConfigurationError(
            f"The ledger {place} does not exist; create that database, or correct its name "
            "in the URL."
        )
    if POSTGRES_LOGIN_REFUSED.search(message):
        return ConfigurationError(
            f"The ledger {place} refused the login; check the user name and password in the URL."
        )
    if POSTGRES_NO_SERVER.search(message):
        return LedgerError(
            f"No database server answers for the ledger {place}; start it, or correct the "
            "host and port in the URL."
        )
    return None


def ledger_failure(error: BaseException) -> ArmsSyncError | None:
    """The one-sentence error for a ledger failing under a command already running, or None
    for any other failure: an SQLite file or folder made read-only, a disk that filled up,
    or a connection the database server ended.

    Every write is a transaction of its own, so such a failure leaves no change half
    made: what the command stored before stays, and running it again carries on from there.
    """
    if not isinstance(error, DatabaseError):
        return None
    if is_damaged(error):
        return LedgerError(DAMAGED)
    if is_disk_full(error):
        return LedgerError(f"The ledger cannot grow: {DISK_FULL_ADVICE} ({NOTHING_HALF_MADE}).")
    if is_connection_lost(error):
        return LedgerError(
            "The connection to the ledger was lost (its server restarted or ended the "
            f"session); run the command again ({NOTHING_HALF_MADE})."
        )
    if not _is_read_only(getattr(error.orig, "sqlite_errorname", None)):
        return None
    return ConfigurationError(
        "The ledger cannot be written; check the permissions of its file and folder."
    )


def is_damaged(error: DatabaseError) -> bool:
    """Whether SQLite found the ledger's file damaged (pages that do not read back as
    a database: overwritten, cut short, or copied while it was being written)."""
    name = getattr(error.orig, "sqlite_errorname", None) or ""
    return name.startswith(SQLITE_CORRUPT)


def is_connection_lost(error: DatabaseError) -> bool:
    """Whether the database server ended the connection a command was using."""
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None) or ""
    return state in POSTGRES_SESSION_ENDED or state.startswith(POSTGRES_CONNECTION_EXCEPTION)


def is_disk_full(error: DatabaseError) -> bool:
    """Whether the database refused to grow: SQLite's disk or page limit, PostgreSQL's disk."""
    original = error.orig
    return (
        getattr(original, "sqlite_errorname", None) == SQLITE_FULL
        or getattr(original, "sqlstate", None) == POSTGRES_DISK_FULL
    )


def _is_read_only(sqlite_errorname: str | None) -> bool:
    """Whether SQLite refused because the database (or its folder) is read-only."""
    return sqlite_errorname is not None and sqlite_errorname.startswith(SQLITE_READ_ONLY)
