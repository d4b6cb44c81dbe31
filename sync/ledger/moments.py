"""Timestamps read back from the ledger, made timezone-aware.

The ledger stores every moment in UTC. PostgreSQL gives them back aware;
SQLite has no time zone type and gives them back naive, so a reader that
compares or prints them makes them aware here first.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """The stored moment as an aware UTC datetime (SQLite's naive values are UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso_utc(moment: datetime | None) -> str | None:
    """The stored moment in ISO 8601 with its UTC offset (`+00:00`), or None."""
    return None if moment is None else as_utc(moment).isoformat()
