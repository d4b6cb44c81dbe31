"""The dialect's own INSERT (with `ON CONFLICT`) for a ledger on SQLite or PostgreSQL.

SQLAlchemy's generic `insert` has no `on_conflict_do_nothing`; each dialect's
has. The dialect's module is imported when first asked for, so a command on an
SQLite ledger never loads PostgreSQL's dialect and its drivers' modules.
"""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import Table


def dialect_insert(dialect_name: str, table: Table) -> Any:
    """An INSERT into `table` in the dialect named (PostgreSQL's, or else SQLite's)."""
    name = "postgresql" if dialect_name == "postgresql" else "sqlite"
    return importlib.import_module(f"sqlalchemy.dialects.{name}").insert(table)
