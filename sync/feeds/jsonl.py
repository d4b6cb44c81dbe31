"""Streaming reader of feed files: validates each JSON line, keeps the bad ones.

A feed file is read one line at a time, so memory does not grow with its size.
Every line becomes either an `Accepted` record (a validated pydantic model) or a
`Rejected` one carrying its line number and a reason that names the field and
the rule but never the personal data in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from pydantic import TypeAdapter, ValidationError

from sync.feeds.models import AnyRecord, FeedContext, FeedRecord

_RECORD_ADAPTER: TypeAdapter[FeedRecord] = TypeAdapter(AnyRecord)
VALUE_ERROR_PREFIX = "Value error, "
MAX_REASONS_PER_LINE = 3


@dataclass(frozen=True, slots=True)
class Accepted:
    """A line that passed validation."""

    position: str
    record: FeedRecord


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that failed validation: kept with its reason, never dropped."""

    position: str
    reason: str
    raw: bytes
    record_type: str | None
    record_id: str | None


FeedItem = Accepted | Rejected


def validate_line(raw: bytes, position: str, context: FeedContext) -> FeedItem:
    """Validate one JSON line into an `Accepted` or a `Rejected` item."""
    try:
        record = _RECORD_ADAPTER.validate_json(raw, context=context)
    except ValidationError as error:
        record_type, record_id = _peek_type_and_id(raw)
        return Rejected(position, describe_errors(error), raw, record_type, record_id)
    return Accepted(position, record)


def describe_errors(error: ValidationError) -> str:
    """One sentence naming each failing field and rule (never the input value)."""
    reasons = []
    for detail in error.errors(include_url=False, include_input=False, include_context=False):
        reasons.append(_describe_one(detail["type"], detail["loc"], detail["msg"]))
        if len(reasons) == MAX_REASONS_PER_LINE:
            break
    return "; ".join(reasons)


def _describe_one(error_type: str, loc: tuple[int | str, ...], message: str) -> str:
    if error_type == "json_invalid":
        return "not valid JSON"
    if not loc and error_type in {"model_type", "model_attributes_type", "dict_type"}:
        return "not a JSON object"
    if error_type in {"union_tag_invalid", "union_tag_not_found"}:
        return "type: missing or unknown record type"
    field = ".".join(str(part) for part in loc)
    message = message.removeprefix(VALUE_ERROR_PREFIX)
    if ": " in message:
        return f"{loc[0]}.{message}" if loc else message
    return f"{field}: {message}" if field else message


def _peek_type_and_id(raw: bytes) -> tuple[str | None, str | None]:
    """The record's type and id when the line is at least a JSON object."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None, None
    if not isinstance(value, dict):
        return None, None
    record_type, record_id = value.get("type"), value.get("id")
    return (
        record_type if isinstance(record_type, str) else None,
        record_id if isinstance(record_id, str) else None,
    )


def iter_lines(
    lines: Iterable[bytes], context: FeedContext, prefix: str = ""
) -> Iterator[FeedItem]:
    """Validate a stream of raw lines; blank lines are skipped, numbering is 1-based."""
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped:
            yield validate_line(stripped, f"{prefix}line {number}", context)


def today_context(agency: str, today: date) -> FeedContext:
    """A validation context for one agency's feed."""
    if agency not in {"probation", "police"}:
        raise ValueError("agency: must be probation or police")
    return FeedContext(agency, today)  # type: ignore[arg-type]
