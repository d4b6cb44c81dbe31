"""Feed cursors: where the last run stopped reading each gateway, saved with its page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select

from sync.ledger import schema


def save_cursor(conn: Connection, agency: str, source: str, cursor: str, now: datetime) -> None:
    """Record the cursor after a page, inside the page's transaction."""
    table = schema.feed_cursors
    conn.execute(delete(table).where(table.c.agency == agency, table.c.source == source))
    conn.execute(table.insert().values(agency=agency, source=source, cursor=cursor, updated_at=now))


def load_cursor(engine: Engine, agency: str, source: str) -> str | None:
    """The cursor to resume from, if a page was ever applied."""
    table = schema.feed_cursors
    with engine.connect() as conn:
        return conn.execute(
            select(table.c.cursor).where(table.c.agency == agency, table.c.source == source)
        ).scalar_one_or_none()
