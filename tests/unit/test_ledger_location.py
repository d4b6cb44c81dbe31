"""Where a ledger URL points: an SQLite file, an SQLite database in memory, or a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.ledger.location import is_memory_database, ledger_place, parse_ledger_url, sqlite_path


@pytest.mark.parametrize(
    "raw",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:shared?mode=memory&cache=shared&uri=true",
    ],
)
def test_every_form_of_an_in_memory_sqlite_database_is_in_memory(raw: str) -> None:
    url = parse_ledger_url(raw)

    assert is_memory_database(url)
    assert sqlite_path(url) is None
    assert ledger_place(url) == "SQLite database"


@pytest.mark.parametrize(
    "raw_template",
    [
        "sqlite:///{path}",
        "sqlite:///file:{path}?uri=true",
        "sqlite:///file:{path}?mode=rwc&uri=true",
    ],
)
def test_an_sqlite_file_is_named_whether_by_path_or_by_uri(
    raw_template: str, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    url = parse_ledger_url(raw_template.format(path=path))

    assert not is_memory_database(url)
    assert sqlite_path(url) == path
    assert ledger_place(url) == f"file {path}"


def test_a_postgresql_ledger_is_neither_a_file_nor_in_memory() -> None:
    url = parse_ledger_url("postgresql://postgres@127.0.0.1:5432/ledger")

    assert not is_memory_database(url)
    assert sqlite_path(url) is None
    assert ledger_place(url) == "database ledger on 127.0.0.1:5432"
