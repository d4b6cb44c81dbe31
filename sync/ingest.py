"""Ingest: stream a feed source into the ledger in batches, keeping every rejected line.

A source yields validated or rejected items; accepted records are upserted by
the consumer rules (latest `updated_at` wins, re-reading changes nothing) and
rejected lines are stored with their reason. Memory holds one batch at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sync.feeds.convert import to_version
from sync.feeds.jsonl import Accepted, FeedItem, Rejected
from sync.feeds.models import FeedContext
from sync.ledger.store import Ledger, RecordVersion

INGEST_BATCH = 5_000


class FeedSource(Protocol):
    """Where one agency's feed comes from: a file, a sealed file, or a gateway."""

    @property
    def name(self) -> str:
        """A short, non-personal name for the source (file name or host)."""
        ...

    def iter_items(self, context: FeedContext) -> Iterator[FeedItem]:
        """Every record of the source, validated or rejected."""
        ...


@dataclass(slots=True)
class IngestCounts:
    """What reading one feed did."""

    read: int = 0
    accepted: int = 0
    rejected: int = 0
    warnings: int = 0


def reject_row(agency: str, source: str, item: Rejected) -> dict[str, Any]:
    """A rejected line as stored: fingerprinted so reading it again adds nothing."""
    fingerprint = hashlib.sha256(agency.encode() + b"\0" + item.raw).hexdigest()
    return {
        "fingerprint": fingerprint,
        "agency": agency,
        "source": source[:200],
        "position": item.position[:64],
        "record_type": None if item.record_type is None else item.record_type[:16],
        "record_id": None if item.record_id is None else item.record_id[:64],
        "reason": item.reason,
        "raw": item.raw,
    }


def ingest(
    ledger: Ledger,
    source: FeedSource,
    agency: str,
    run_id: int,
    today: date,
    now: datetime,
) -> IngestCounts:
    """Read one feed source into the ledger."""
    counts = IngestCounts()
    versions: list[RecordVersion] = []
    rejected: list[dict[str, Any]] = []
    for item in source.iter_items(FeedContext(agency, today)):  # type: ignore[arg-type]
        counts.read += 1
        if isinstance(item, Accepted):
            counts.accepted += 1
            version = to_version(item.record)
            counts.warnings += bool(version.warnings)
            versions.append(version)
        else:
            counts.rejected += 1
            rejected.append(reject_row(agency, source.name, item))
        if len(versions) >= INGEST_BATCH:
            ledger.apply_versions(versions, run_id)
            versions.clear()
        if len(rejected) >= INGEST_BATCH:
            ledger.store_rejects(rejected, run_id, now)
            rejected.clear()
    ledger.apply_versions(versions, run_id)
    ledger.store_rejects(rejected, run_id, now)
    return counts
