"""Ledger URLs checked before use, and failures to open a ledger told in one sentence.

A URL that is not a database URL, names an SQLite file in a folder that is
not there, or a driver arms-sync cannot use is a configuration error that
never repeats what may be a password; a failure of SQLite itself (not a
database, cannot be opened, read-only) is told as such, naming only the
kind of database, its file or its host.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError, NoSuchModuleError, OperationalError

from sync.errors import ConfigurationError, LedgerError
from sync.ledger.location import (
    PSYCOPG_DRIVER,
    is_memory_database,
    ledger_failure,
    ledger_place,
    open_failure,
    parse_ledger_url,
    sqlite_path,
    unusable_url,
)

USABLE = "use sqlite:///FILE or postgresql://HOST/NAME"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"], ids=["long", "short"])
def test_a_plain_server_url_uses_psycopg(scheme: str) -> None:
    """`postgresql://` and `postgres://` both open with psycopg 3."""
    assert parse_ledger_url(f"{scheme}://h/ledger").drivername == PSYCOPG_DRIVER


def test_an_sqlite_file_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    """The folder that does not exist is named, and nothing is made."""
    folder = tmp_path / "missing"
    with pytest.raises(ConfigurationError) as caught:
        parse_ledger_url(f"sqlite:///{folder / 'ledger.db'}")
    assert str(caught.value) == (
        f"The ledger file {folder / 'ledger.db'} cannot be made: "
        f"the folder {folder} does not exist."
    )
    assert not folder.exists()


def test_an_sqlite_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    """A folder given as the ledger file is refused as a folder."""
    with pytest.raises(ConfigurationError) as caught:
        parse_ledger_url(f"sqlite:///{tmp_path}")
    assert str(caught.value) == f"The ledger file {tmp_path} is a folder."


def test_an_sqlite_file_under_a_file_is_refused(tmp_path: Path) -> None:
    """A ledger file whose folder is a file cannot be made."""
    plain = tmp_path / "notes.txt"
    plain.write_text("SAMPLE")
    with pytest.raises(ConfigurationError) as caught:
        parse_ledger_url(f"sqlite:///{plain / 'ledger.db'}")
    assert str(caught.value) == (
        f"The ledger file {plain / 'ledger.db'} cannot be made: {plain} is not a folder."
    )


@pytest.mark.parametrize(
    "raw",
    [
        "ledger.db password=secret",
        "user:secret@ledger.db",
        "secret@ledger.db",
        "postgresql://user:secret@h:notaport/ledger",
    ],
    ids=["words", "user-and-password", "user", "server-url-with-a-bad-port"],
)
def test_a_value_that_is_not_a_url_is_not_repeated(raw: str) -> None:
    """Anything but a plain file name may hold a password, so it is never echoed."""
    with pytest.raises(ConfigurationError) as caught:
        parse_ledger_url(raw)
    assert str(caught.value) == f"The ledger URL is not a database URL; {USABLE}."


def test_a_bare_sqlite_file_name_is_given_its_url() -> None:
    """A plain database file name gets the SQLite URL to write instead."""
    with pytest.raises(ConfigurationError) as caught:
        parse_ledger_url("ledger.sqlite3")
    assert "write sqlite:///ledger.sqlite3" in str(caught.value)


def test_an_unknown_kind_of_database_and_a_missing_driver_are_told_apart() -> None:
    """No such dialect, no driver installed, and any other setting each say which."""
    url = parse_ledger_url("postgresql://user:secret@h/ledger")
    errors: list[Exception] = []
    for raw in ("nosuchdb://h/ledger", "mysql://h/ledger"):
        try:
            create_engine(raw)
        except (NoSuchModuleError, ImportError) as error:
            errors.append(error)
    unknown, no_driver = errors
    assert isinstance(unknown, NoSuchModuleError)
    assert str(unusable_url(url, unknown)) == (
        f"The ledger URL names a kind of database arms-sync cannot use ({PSYCOPG_DRIVER}); "
        f"{USABLE}."
    )
    assert str(unusable_url(url, no_driver)) == (
        f"The database driver for {PSYCOPG_DRIVER} ledger URLs is not installed; {USABLE}."
    )
    mysql = parse_ledger_url("mysql://user:secret@h/ledger")
    assert str(unusable_url(mysql, no_driver)) == (
        f"A ledger is kept in SQLite or PostgreSQL, not mysql; {USABLE}."
    )
    assert str(unusable_url(url, TypeError("x"))) == (
        f"The ledger URL has a setting arms-sync cannot use; {USABLE}."
    )


@pytest.mark.parametrize(
    ("raw", "place"),
    [
        ("postgresql:///ledger", "database ledger on the local socket"),
        ("postgresql://h", "database (default) on h"),
        ("postgresql://user:secret@h:6543/ledger", "database ledger on h:6543"),
    ],
    ids=["local-socket", "default-database", "host-and-port"],
)
def test_a_server_ledger_is_named_by_database_and_host_only(raw: str, place: str) -> None:
    """Defaults are named as such, and no user name or password appears."""
    assert ledger_place(parse_ledger_url(raw)) == place


@pytest.mark.parametrize(
    "raw",
    ["postgresql://h", "postgresql://h/ledger?mode=memory"],
    ids=["default-database", "mode-in-the-query"],
)
def test_a_server_ledger_without_a_database_name_is_not_in_memory(raw: str) -> None:
    """Only SQLite has databases in memory; a server's default database is kept."""
    url = parse_ledger_url(raw)
    assert not is_memory_database(url)
    assert sqlite_path(url) is None


def _failure(raw: str, *statements: str) -> DatabaseError:
    engine = create_engine(raw)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except DatabaseError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError("the statement was expected to fail")


def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    """SQLite refusing a file that is not a database says so, naming the file."""
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_bytes(b"SAMPLE " * 200)
    url = parse_ledger_url(f"sqlite:///{not_a_database}")
    failure = open_failure(url, _failure(str(url), "SELECT * FROM sqlite_master"))
    assert isinstance(failure, ConfigurationError)
    assert str(failure) == f"The ledger file {not_a_database} is not an SQLite database."


def test_a_file_that_cannot_be_opened_is_a_configuration_error(tmp_path: Path) -> None:
    """SQLite unable to open the file asks for its permissions to be checked."""
    missing = tmp_path / "absent.db"
    url = parse_ledger_url(f"sqlite:///file:{missing}?mode=ro&uri=true")
    failure = open_failure(url, _failure(str(url), "SELECT 1"))
    assert isinstance(failure, ConfigurationError)
    assert str(failure) == f"The ledger file {missing} cannot be opened; check its permissions."


def _read_only_failure(tmp_path: Path) -> tuple[str, DatabaseError]:
    """SQLite refusing a write to a ledger opened read-only."""
    ledger = tmp_path / "ledger.db"
    sqlite3.connect(ledger).close()
    raw = f"sqlite:///file:{ledger}?mode=ro&uri=true"
    return raw, _failure(raw, "CREATE TABLE sample (x)")


def _moved_failure(tmp_path: Path) -> tuple[str, DatabaseError]:
    """SQLite refusing a write to a ledger file moved away while open (a read-only variant)."""
    ledger = tmp_path / "ledger.db"
    raw = f"sqlite:///{ledger}"
    engine = create_engine(raw)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE sample (x)"))
            conn.commit()
            conn.execute(text("SELECT * FROM sample")).all()
            ledger.rename(tmp_path / "moved.db")
            try:
                conn.execute(text("INSERT INTO sample VALUES (1)"))
                conn.commit()
            except DatabaseError as error:
                return raw, error
    finally:
        engine.dispose()
    raise AssertionError("the write was expected to fail")


@pytest.mark.parametrize("make", [_read_only_failure, _moved_failure], ids=["read-only", "moved"])
def test_a_ledger_sqlite_will_not_write_is_a_configuration_error(
    tmp_path: Path, make: Callable[[Path], tuple[str, DatabaseError]]
) -> None:
    """A ledger SQLite will not write is told as a matter of permissions."""
    raw, error = make(tmp_path)
    failure = open_failure(parse_ledger_url(raw), error)
    assert isinstance(failure, ConfigurationError)
    assert str(failure) == (
        f"The ledger file {tmp_path / 'ledger.db'} cannot be written; "
        "check the permissions of its file and folder."
    )
    refusal = ledger_failure(error)
    assert isinstance(refusal, ConfigurationError)
    assert str(refusal) == (
        "The ledger cannot be written; check the permissions of its file and folder."
    )


def test_other_failures_are_not_told_as_permissions(tmp_path: Path) -> None:
    """Another operational failure is a ledger failure; anything else is left as it is."""
    ledger = tmp_path / "ledger.db"
    url = parse_ledger_url(f"sqlite:///{ledger}")
    missing_table = _failure(str(url), "SELECT * FROM no_such_table")
    assert isinstance(missing_table, OperationalError)
    failure = open_failure(url, missing_table)
    assert isinstance(failure, LedgerError)
    assert str(failure) == f"The ledger file {ledger} cannot be reached, opened or upgraded."
    constraint = _failure(
        str(url), "CREATE TABLE t (x PRIMARY KEY)", "INSERT INTO t VALUES (1), (1)"
    )
    assert open_failure(url, constraint) is None
    assert ledger_failure(missing_table) is None
    assert ledger_failure(ValueError("SAMPLE")) is None


def _full_failure(raw: str) -> DatabaseError:
    """SQLite refusing to grow a database past its page limit: the error of a full disk."""
    return _failure(
        raw,
        "PRAGMA max_page_count = 2",
        "CREATE TABLE sample (x)",
        "INSERT INTO sample VALUES (zeroblob(100000))",
    )


def test_a_full_sqlite_disk_is_told_as_such_when_opening_and_later(tmp_path: Path) -> None:
    """A ledger that cannot grow asks for space, naming its file where the URL is known."""
    ledger = tmp_path / "ledger.db"
    url = parse_ledger_url(f"sqlite:///{ledger}")
    error = _full_failure(str(url))
    failure = open_failure(url, error)
    assert isinstance(failure, LedgerError)
    assert str(failure) == (
        f"The ledger file {ledger} cannot grow: its disk is full; "
        "free some space, then run the command again."
    )
    refusal = ledger_failure(error)
    assert isinstance(refusal, LedgerError)
    assert refusal.exit_code == 1
    assert str(refusal) == (
        "The ledger cannot grow: its disk is full; free some space, "
        "then run the command again (no change was left half made)."
    )


def test_a_full_postgresql_disk_is_told_as_such() -> None:
    """PostgreSQL's `disk_full` (SQLSTATE 53100) is the same refusal; its other errors are not."""
    from psycopg import errors

    url = parse_ledger_url("postgresql://db.example/ledger")
    full = OperationalError("INSERT", None, errors.DiskFull())
    assert str(open_failure(url, full)) == (
        "The ledger database ledger on db.example cannot grow: its disk is full; "
        "free some space, then run the command again."
    )
    assert isinstance(ledger_failure(full), LedgerError)
    too_many = OperationalError("SELECT", None, errors.TooManyConnections())
    assert ledger_failure(too_many) is None


@pytest.mark.parametrize("ended", ["AdminShutdown", "CrashShutdown", "ConnectionFailure"])
def test_a_connection_the_server_ended_is_told_as_lost(ended: str) -> None:
    """Sessions ended by the server (SQLSTATE 57P01, 57P02, class 08) ask to run again."""
    from psycopg import errors

    lost = OperationalError("SELECT", None, getattr(errors, ended)())
    refusal = ledger_failure(lost)
    assert isinstance(refusal, LedgerError)
    assert str(refusal) == (
        "The connection to the ledger was lost (its server restarted or ended the session); "
        "run the command again (no change was left half made)."
    )
    invalidated = OperationalError("SELECT", None, ValueError(), connection_invalidated=True)
    assert isinstance(ledger_failure(invalidated), LedgerError)


@pytest.mark.parametrize(
    ("query", "names"), [("mode=ro", "mode"), ("timeout=5&mode=ro", "mode, timeout")]
)
def test_an_sqlite_query_outside_a_uri_is_refused_naming_its_keys(
    tmp_path: Path, query: str, names: str
) -> None:
    """SQLite would not see it: `?mode=ro` would open the ledger for writing all the same."""
    with pytest.raises(ConfigurationError) as refused:
        parse_ledger_url(f"sqlite:///{tmp_path / 'ledger.db'}?{query}")
    assert str(refused.value) == (
        f"The SQLite ledger URL's query ({names}) is read only in a URI: write "
        "sqlite:///file:PATH?...&uri=true, or give the file alone."
    )


def test_an_sqlite_query_in_a_uri_is_taken(tmp_path: Path) -> None:
    url = parse_ledger_url(f"sqlite:///file:{tmp_path / 'ledger.db'}?mode=ro&uri=true")
    assert sqlite_path(url) == tmp_path / "ledger.db"
