"""Read stored flags back as report rows (`sync.reports.models.FlagRow`), and the
owner each flagged subject has on a given day."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select

from sync.core.duplicates import DUPLICATE_REPORT_KINDS
from sync.ledger import schema
from sync.ledger.flag_states import STATE_RESOLVED, FlagAct, flag_state, latest_acts
from sync.ledger.store import KEYS_PER_QUERY, Ledger
from sync.reports.models import Counterpart, FlagRow


def iter_flag_rows(ledger: Ledger, kinds: frozenset[str] | None = None) -> Iterator[FlagRow]:
    """Every stored flag of the given kinds (default: the duplicate report's), open or closed."""
    wanted = kinds if kinds is not None else frozenset(str(k) for k in DUPLICATE_REPORT_KINDS)
    table = schema.flags
    query = select(table).where(table.c.kind.in_(sorted(wanted))).order_by(table.c.key)
    with ledger.engine.connect() as conn:
        acts = latest_acts(conn)  # operators' acts: few
        for row in conn.execute(query):
            counterpart = json.loads(row.counterpart) if row.counterpart else None
            resolution = _resolution(row._mapping, acts.get(row.key))
            yield FlagRow(
                kind=row.kind,
                subject_id=row.subject_id,
                agency=row.agency,
                assessment_id=row.assessment_id,
                person_ids=json.loads(row.person_ids),
                reference_date=row.reference_date,
                owner_at_reference_date=row.owner_at_reference_date,
                rule_at_reference_date=row.rule_at_reference_date,
                rule_told=row.rule_told,
                counterpart=None if counterpart is None else Counterpart(**counterpart),
                redundant=row.redundant,
                area=row.area,
                assessment_status=row.assessment_status,
                state="open" if row.closed_at is None else "closed",
                first_seen=row.first_seen,
                first_seen_as_of=row.first_seen_as_of,
                last_seen=row.last_seen,
                closed_at=row.closed_at,
                resolved_at=None if resolution is None else resolution.created_at,
                resolved_by=None if resolution is None else resolution.operator,
            )


def _resolution(row: Mapping[Any, Any], act: FlagAct | None) -> FlagAct | None:
    """The act that resolved an open flag, while its resolution holds."""
    return act if act is not None and flag_state(row, act) == STATE_RESOLVED else None


def flag_areas(ledger: Ledger, agency: str | None = None) -> set[str]:
    """Every area some stored flag (open or closed) is in; only `agency`'s flags when given."""
    table = schema.flags
    query = select(table.c.area).where(table.c.area.is_not(None)).distinct()
    if agency is not None:
        query = query.where(table.c.agency == agency)
    with ledger.engine.connect() as conn:
        return set(conn.execute(query).scalars())


def owners_on(
    ledger: Ledger, subject_ids: Collection[str], day: date
) -> dict[str, tuple[str, str]]:
    """The owner and rule of each given subject's stored segment covering `day`."""
    table = schema.segments
    covers = and_(
        or_(table.c.start.is_(None), table.c.start <= day),
        or_(table.c.end.is_(None), table.c.end >= day),
    )
    wanted = sorted(set(subject_ids))
    found: dict[str, tuple[str, str]] = {}
    with ledger.engine.connect() as conn:
        for first in range(0, len(wanted), KEYS_PER_QUERY):
            chunk = wanted[first : first + KEYS_PER_QUERY]
            query = select(table.c.subject_id, table.c.owner, table.c.rule).where(
                covers, table.c.subject_id.in_(chunk)
            )
            found.update((row.subject_id, (row.owner, row.rule)) for row in conn.execute(query))
    return found
