"""Feed cursors and waits: where the last run stopped reading each gateway, and
until when a gateway asked (`Retry-After`) not to be called for its feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select

from sync.ledger import schema
from sync.ledger.moments import as_utc


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


def save_wait(
    engine: Engine, agency: str, source: str, not_before: datetime, now: datetime
) -> None:
    """Keep the time before which the gateway asked not to be called for its feed."""
    table = schema.feed_waits
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.agency == agency, table.c.source == source))
        conn.execute(
            table.insert().values(agency=agency, source=source, not_before=not_before, asked_at=now)
        )


def load_wait(engine: Engine, agency: str, source: str) -> datetime | None:
    """The last time the gateway asked to be left alone until, if it ever asked."""
    table = schema.feed_waits
    with engine.connect() as conn:
        moment = conn.execute(
            select(table.c.not_before).where(table.c.agency == agency, table.c.source == source)
        ).scalar_one_or_none()
    return None if moment is None else as_utc(moment)
