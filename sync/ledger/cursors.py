"""Feed cursors and waits: where the last run stopped reading each gateway (and at
which page of its pull), and until when a gateway asked (`Retry-After`) not to be
called for its feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select, update

from sync.ledger import schema
from sync.ledger.moments import as_utc


@dataclass(frozen=True, slots=True)
class FeedPosition:
    """Where a pull stands: the cursor after its last applied page, and that page's number.

    Pages are numbered within a pull, from 1; a pull that was interrupted
    goes on numbering where it stopped, so a resumed pull places its records
    (and its rejected lines) on the pages an uninterrupted pull would have.
    """

    cursor: str
    pull_pages: int


def save_position(
    conn: Connection, agency: str, source: str, position: FeedPosition, now: datetime
) -> None:
    """Record the position after a page, inside the page's transaction."""
    table = schema.feed_cursors
    conn.execute(delete(table).where(table.c.agency == agency, table.c.source == source))
    conn.execute(
        table.insert().values(
            agency=agency,
            source=source,
            cursor=position.cursor,
            pull_pages=position.pull_pages,
            updated_at=now,
        )
    )


def load_position(engine: Engine, agency: str, source: str) -> FeedPosition | None:
    """The position to resume from, if a page was ever applied."""
    table = schema.feed_cursors
    with engine.connect() as conn:
        row = conn.execute(
            select(table.c.cursor, table.c.pull_pages).where(
                table.c.agency == agency, table.c.source == source
            )
        ).one_or_none()
    return None if row is None else FeedPosition(row.cursor, int(row.pull_pages))


def end_pull(engine: Engine, agency: str, source: str) -> None:
    """Mark the pull finished, its cursor kept: the next pull numbers its pages from 1."""
    table = schema.feed_cursors
    with engine.begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.agency == agency, table.c.source == source)
            .values(pull_pages=0)
        )


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


def clear_waits(conn: Connection, agency: str) -> list[datetime]:
    """Forget every wait the agency's gateways asked for; the times they asked to wait till."""
    table = schema.feed_waits
    gone = conn.execute(
        delete(table).where(table.c.agency == agency).returning(table.c.not_before)
    ).scalars()
    return [as_utc(moment) for moment in gone]


def load_wait(engine: Engine, agency: str, source: str) -> datetime | None:
    """The last time the gateway asked to be left alone until, if it ever asked."""
    table = schema.feed_waits
    with engine.connect() as conn:
        moment = conn.execute(
            select(table.c.not_before).where(table.c.agency == agency, table.c.source == source)
        ).scalar_one_or_none()
    return None if moment is None else as_utc(moment)
