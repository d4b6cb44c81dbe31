"""An SQLite ledger file as the App opens it: WAL journal, keys checked first, others' files
left alone."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import sync.ledger.data_key as data_key
from sync.app import App, restrict_ledger_files
from sync.crypto.at_rest import DataKey
from sync.crypto.key_file import create_data_key_file, read_data_key_file
from sync.crypto.keyring import data_key_path, generate_party
from sync.crypto.keys import Party
from sync.errors import ConfigurationError
from sync.settings import load_settings
from tests.unit.test_owner_only_files import mode

pytestmark = pytest.mark.integration


@contextmanager
def _app_on(ledger: Path, **settings: Any) -> Iterator[App]:
    """An App on the SQLite file `ledger`, closed when the block ends however it ends."""
    app = App(load_settings(None, database_url=f"sqlite:///{ledger}", **settings))
    try:
        yield app
    finally:
        app.close()


def _journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        mode: str = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    return mode


def test_a_new_ledger_file_uses_write_ahead_logging(tmp_path: Path) -> None:
    """Readers (reports, exports) do not block the run writing the ledger."""
    ledger = tmp_path / "ledger.db"
    with _app_on(ledger) as app:
        _ = app.ledger
    assert _journal_mode(ledger) == "wal"


def test_an_unreadable_at_rest_key_file_leaves_no_ledger_file_behind(tmp_path: Path) -> None:
    """A key file that cannot be read is refused before a new, empty ledger is made."""
    key_file = tmp_path / "at-rest.key"
    key_file.write_bytes(b"not a key\n")
    ledger = tmp_path / "ledger.db"
    refused = pytest.raises(ConfigurationError, match="at-rest key file")
    with _app_on(ledger, at_rest_key_file=key_file) as app, refused:
        _ = app.engine
    assert not ledger.exists()


def test_another_application_s_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """A database named by mistake keeps its journal mode: nothing is written to it."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE SAMPLE (id TEXT)")
    connection.close()
    with _app_on(other) as app, pytest.raises(ConfigurationError, match="not an arms-sync ledger"):
        _ = app.ledger
    assert _journal_mode(other) == "delete"


def test_a_ledger_s_companion_files_are_made_owner_only_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The ledger, SQLite's journal, WAL and shared-memory files and the key files beside it
    (the key, the one a re-encryption replaced, the next one of an unfinished re-encryption)
    all lose group and others' access; one warning names those that had it."""
    ledger = tmp_path / "ledger.db"
    names = ["ledger.db", "ledger.db-journal", "ledger.db-wal", "ledger.db-shm", "ledger.db.key"]
    names += ["ledger.db.key.old", "ledger.db.key.new"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
        (tmp_path / name).chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="sync.app"):
        restrict_ledger_files(ledger)
    assert {name: mode(tmp_path / name) for name in names} == dict.fromkeys(names, 0o600)
    (warning,) = caplog.messages
    assert all(str(tmp_path / name) in warning for name in names)


def test_a_ledger_file_is_owner_only_when_made_and_when_opened_again(tmp_path: Path) -> None:
    """A new ledger is its owner's alone; one whose mode was opened since is closed again
    the next time the App opens it."""
    ledger = tmp_path / "ledger.db"
    with _app_on(ledger) as first:
        _ = first.ledger
    assert mode(ledger) == 0o600
    ledger.chmod(0o644)
    with _app_on(ledger) as again:
        _ = again.ledger
    assert mode(ledger) == 0o600


def test_an_unreadable_data_key_in_the_key_directory_leaves_no_ledger_file_behind(
    tmp_path: Path,
) -> None:
    """The key directory's data key is checked before a new, empty ledger is made."""
    keys = tmp_path / "keys"
    generate_party(keys, Party.HUB)
    data_key_path(keys).write_bytes(b"not a key\n")
    ledger = tmp_path / "ledger.db"
    with _app_on(ledger, keys_dir=keys) as app, pytest.raises(ConfigurationError):
        _ = app.engine
    assert not ledger.exists()


def test_a_ledger_file_that_is_not_a_database_is_one_sentence(tmp_path: Path) -> None:
    """A file of some other kind named as the ledger is refused by name, not with a trace."""
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(b"SAMPLE text, not a database\n" * 200)
    with _app_on(ledger) as app, pytest.raises(ConfigurationError) as caught:
        _ = app.engine
    assert str(caught.value) == f"The ledger file {ledger} is not an SQLite database."


def test_a_key_file_another_process_made_meanwhile_is_the_one_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes opening a new ledger at once end with one key: the loser reads the winner's.

    The other process's key file appears between this process's look for it and
    its own attempt to make it, as in a real race.
    """
    key_file = tmp_path / "at-rest.key"
    made_by_the_other: list[DataKey] = []

    def made_meanwhile(path: Path) -> DataKey:
        made_by_the_other.append(create_data_key_file(path))  # the other process wins
        return create_data_key_file(path)  # FileExistsError, as for the loser

    monkeypatch.setattr(data_key, "create_data_key_file", made_meanwhile)
    ledger = tmp_path / "ledger.db"
    with _app_on(ledger, at_rest_key_file=key_file) as app:
        sealed = app.ledger.codec.encode("probation/person/X1", b"synthetic")

    assert read_data_key_file(key_file) == made_by_the_other[0]
    monkeypatch.undo()
    with _app_on(ledger, at_rest_key_file=key_file) as reopened:
        assert reopened.ledger.codec.decode("probation/person/X1", sealed) == b"synthetic"
