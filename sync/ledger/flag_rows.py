"""Read stored flags back as report rows (`sync.reports.models.FlagRow`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import select

from sync.core.duplicates import DUPLICATE_REPORT_KINDS
from sync.ledger import schema
from sync.ledger.store import Ledger
from sync.reports.models import Counterpart, FlagRow


def iter_flag_rows(ledger: Ledger, kinds: frozenset[str] | None = None) -> Iterator[FlagRow]:
    """Every stored flag of the given kinds (default: the duplicate report's), open or closed."""
    wanted = kinds if kinds is not None else frozenset(str(k) for k in DUPLICATE_REPORT_KINDS)
    table = schema.flags
    query = select(table).where(table.c.kind.in_(sorted(wanted))).order_by(table.c.key)
    with ledger.engine.connect() as conn:
        for row in conn.execute(query):
            counterpart = json.loads(row.counterpart) if row.counterpart else None
            yield FlagRow(
                kind=row.kind,
                subject_id=row.subject_id,
                agency=row.agency,
                assessment_id=row.assessment_id,
                person_ids=json.loads(row.person_ids),
                reference_date=row.reference_date,
                owner_at_reference_date=row.owner_at_reference_date,
                rule_at_reference_date=row.rule_at_reference_date,
                counterpart=None if counterpart is None else Counterpart(**counterpart),
                redundant=row.redundant,
                area=row.area,
                assessment_status=row.assessment_status,
                state="open" if row.closed_at is None else "closed",
                first_seen=row.first_seen,
                last_seen=row.last_seen,
                closed_at=row.closed_at,
            )
