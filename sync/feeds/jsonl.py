"""Streaming reader of feed files: validates each JSON line, keeps the bad ones.

A feed file is read one line at a time, so memory does not grow with its size.
Every line becomes either an `Accepted` record (validated, in the canonical
form the ledger stores) or a `Rejected` one carrying its line number and a
reason that names the field and the rule but never the personal data in it.
A long feed may be validated by a pool of processes (`sync.feeds.parallel`);
the items still come out in the file's order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar, Token
from datetime import date
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple, Protocol

from pydantic import TypeAdapter, ValidationError

from sync.feeds.convert import to_version
from sync.feeds.models import (
    RECORD_TYPES,
    WRONG_FEED,
    AnyRecord,
    FeedContext,
    FeedRecord,
    Tombstone,
)
from sync.ledger.store import RecordVersion

_RECORD_ADAPTER: TypeAdapter[FeedRecord] = TypeAdapter(AnyRecord)
_TOMBSTONE_ADAPTER: TypeAdapter[Tombstone] = TypeAdapter(Tombstone)
VALUE_ERROR_PREFIX = "Value error, "
MAX_REASONS_PER_LINE = 3
# What a deletion is read on (`Tombstone`): a field beyond these is never needed.
DELETION_FIELDS = frozenset({"type", "agency", "id", "updated_at", "deleted"})
# A feed shorter than this is validated in-process even when a pool is offered:
# starting worker processes would cost more than it saves.
POOL_AFTER_LINES = 20_000

# Named tuples, not dataclasses: one is made per feed line, and a pool sends
# them between processes.


class Accepted(NamedTuple):
    """A line that passed validation, as the version the ledger stores.

    `ignored` names the fields the line carried that its record type does not
    have, which feed-v1 ignores (`ignored_fields`); empty for nearly every line.
    """

    position: str
    version: RecordVersion
    ignored: tuple[str, ...] = ()


class Rejected(NamedTuple):
    """A line that failed validation: kept with its reason, never dropped."""

    position: str
    reason: str
    raw: bytes
    record_type: str | None
    record_id: str | None


FeedItem = Accepted | Rejected


# A non-blank line and where it was ("line 12", "page 3 line 40").
PlacedLine = tuple[str, bytes]


def validate_record(raw: bytes, context: FeedContext) -> FeedRecord:
    """The validated model of one JSON line, or pydantic's `ValidationError`."""
    return _RECORD_ADAPTER.validate_json(raw, context=context)


def validate_line(raw: bytes, position: str, context: FeedContext) -> FeedItem:
    """Validate one JSON line into an `Accepted` or a `Rejected` item."""
    try:
        record = validate_record(raw, context)
    except ValidationError as error:
        tombstone = _as_tombstone(raw, context)
        if tombstone is None:
            value = _json_object(raw)
            record_type, record_id = _type_and_id(value)
            deletion = value is not None and value.get("deleted") is True
            return Rejected(
                position, _reason(error, raw, deletion=deletion), raw, record_type, record_id
            )
        record = tombstone
    return Accepted(position, to_version(record), ignored_fields(record))


# An ignored field whose name is not shown (`shown_field_name`): only counted.
OTHER_FIELD_NAME = ""
_FIELD_NAME_SHAPE = re.compile(r"[a-z][a-z0-9_]{0,39}", re.ASCII)
_LONG_DIGIT_RUN = re.compile(r"[0-9]{4}", re.ASCII)  # a year, a date, a number


def ignored_fields(record: FeedRecord) -> tuple[str, ...]:
    """The unknown fields of a record that is not a deletion, which feed-v1 ignores.

    Each is `type.name` ("registration.end_date") when its name may be shown,
    else `OTHER_FIELD_NAME`. Pydantic keeps a record's unknown fields apart
    (`extra="allow"`), so a line without any costs one empty-dict test. A
    deletion's other fields are never used, so none of them is reported.
    """
    extra = record.__pydantic_extra__
    if not extra or record.deleted:
        return ()
    record_type: str = record.__dict__["type"]
    return tuple(
        sorted(
            f"{record_type}.{name}" if shown_field_name(name) else OTHER_FIELD_NAME
            for name in extra
        )
    )


# A feed that sends an unknown field sends it on many lines: each name is judged once.
@lru_cache(maxsize=1024)
def shown_field_name(name: str) -> bool:
    """Whether a field name chosen by the sender may be printed: it looks like a
    field name (lower-case letters, digits and underscores, at most 40
    characters, no run of four digits) and holds nothing the record-id rule
    withholds (`looks_like_an_id`)."""
    return (
        _FIELD_NAME_SHAPE.fullmatch(name) is not None
        and _LONG_DIGIT_RUN.search(name) is None
        and not _personal_shape(name)
    )


def is_another_agencys(item: Rejected) -> bool:
    """Whether a line was rejected (among other reasons) for being another agency's record."""
    return f"agency: {WRONG_FEED}" in item.reason


def _reason(error: ValidationError, raw: bytes, *, deletion: bool = False) -> str:
    """Why a line is rejected; a line that is not UTF-8 says so, not merely "not JSON".

    A deletion is read on its key, so the full record's fields it lacks are no
    reason to refuse it and are not named: only what its key broke.
    """
    reason = describe_errors(error, skip_missing_beyond=DELETION_FIELDS if deletion else None)
    if reason != NOT_JSON:
        return reason
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8
    return reason


def _as_tombstone(raw: bytes, context: FeedContext) -> Tombstone | None:
    """A line that failed validation as a deletion read on its common fields, if it is one."""
    try:
        return _TOMBSTONE_ADAPTER.validate_json(raw, context=context)
    except ValidationError:
        return None


def validate_placed(lines: Sequence[PlacedLine], context: FeedContext) -> list[FeedItem]:
    """Validate placed, non-blank lines (the unit of work a pool process does)."""
    return [validate_line(raw, position, context) for position, raw in lines]


class LinePool(Protocol):
    """Validates placed lines elsewhere, giving the items back in order."""

    def validate(self, lines: Iterator[PlacedLine], context: FeedContext) -> Iterator[FeedItem]:
        """The items of `lines`, in order."""
        ...


_POOL: ContextVar[LinePool | None] = ContextVar("line_pool", default=None)


def offer_pool(pool: LinePool | None) -> Token[LinePool | None]:
    """Let `validate_stream` hand long feeds to `pool`; the token is for `withdraw_pool`."""
    return _POOL.set(pool)


def withdraw_pool(token: Token[LinePool | None]) -> None:
    """Stop offering the pool set with `token`."""
    _POOL.reset(token)


FIELD_LOC_PARTS = 2  # a field's error is located by record type and field name
NOT_JSON = "not valid JSON"
NOT_UTF8 = "not UTF-8 text: save the feed as UTF-8"


def describe_errors(
    error: ValidationError, skip_missing_beyond: frozenset[str] | None = None
) -> str:
    """One sentence naming each failing field and rule (never the input value).

    With `skip_missing_beyond`, a missing field not among those is left out,
    unless nothing else is wrong.
    """
    details = error.errors(include_url=False, include_input=False, include_context=False)
    if skip_missing_beyond is not None:
        kept = [d for d in details if not _missing_beyond(d["type"], d["loc"], skip_missing_beyond)]
        details = kept or details
    reasons = []
    for detail in details:
        reasons.append(_describe_one(detail["type"], detail["loc"], detail["msg"]))
        if len(reasons) == MAX_REASONS_PER_LINE:
            break
    return "; ".join(reasons)


def _missing_beyond(error_type: str, loc: tuple[int | str, ...], fields: frozenset[str]) -> bool:
    return error_type == "missing" and bool(loc) and str(loc[-1]) not in fields


def _describe_one(error_type: str, loc: tuple[int | str, ...], message: str) -> str:
    if error_type == "json_invalid":
        return NOT_JSON
    if not loc and error_type in {"model_type", "model_attributes_type", "dict_type"}:
        return "not a JSON object"
    if error_type in {"union_tag_invalid", "union_tag_not_found"}:
        return "type: missing or unknown record type"
    message = message.removeprefix(VALUE_ERROR_PREFIX)
    if ": " in message:
        return _named_rule(loc, message)
    field = ".".join(str(part) for part in loc)
    return f"{field}: {message}" if field else message


def _named_rule(loc: tuple[int | str, ...], message: str) -> str:
    """A rule that names what it checks: a record's rule names its field ("end:
    must not be before start"); a field's rule names the kind of value it wants
    ("crn: …"), shown beside the field the value was in."""
    if len(loc) < FIELD_LOC_PARTS:
        return f"{loc[0]}.{message}" if loc else message
    field = ".".join(str(part) for part in loc)
    named, rule = message.split(": ", 1)
    if named == str(loc[-1]):
        return f"{field}: {rule}"
    return f"{field} ({named}): {rule}"


def _json_object(raw: bytes) -> dict[str, Any] | None:
    """A rejected line read again as a JSON object, or None when it is not one."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        return None
    return value if isinstance(value, dict) else None


def _type_and_id(value: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The record's type and id when the line is at least a JSON object."""
    if value is None:
        return None, None
    record_type, record_id = value.get("type"), value.get("id")
    return (
        record_type if record_type in RECORD_TYPES else None,
        record_id.strip() if isinstance(record_id, str) and looks_like_an_id(record_id) else None,
    )


# What a record id can look like: anything else in the `id` field of a rejected
# line is not kept or shown as its id, since it may be personal data typed into
# the wrong field. An id holds a digit (so not a name) and is not a date or a PNC
# or CRO number, with or without its slash.
_ID_SHAPE = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9._/-]{0,63}\s*", re.ASCII)
_DATE_SHAPE = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}", re.ASCII)
_PNC_OR_CRO_SHAPE = re.compile(
    r"(?<![0-9])(?:[0-9]{2}|[0-9]{4})/?[0-9]{1,7}[A-Z](?![A-Z0-9])"
    r"|(?<![0-9])[0-9]{1,6}/[0-9]{2}[A-Z]|SF[0-9]{2}/[0-9]{1,6}[A-Z]",
    re.ASCII | re.IGNORECASE,
)


# A date of birth written without separators, a NOMS number, and names written
# beside a date (`JOHN.SMITH.120475`, `SMITH-JOHN-1975`, or straight after a
# digit, `3JOHN.SMITH.120475`) are not ids either; nor is one word of four
# letters or more against a date or a birth year (`SMITH120475`, `SMITH-1975`,
# `120475SMITH`): a code of up to three letters before a number (`PA-1975`,
# `X120475`) stays an id. A UUID and a short code before a counter
# (`RAS00042127`) stay ids, whatever their digits spell.
_DIGIT_RUN = re.compile(r"[0-9]+", re.ASCII)
_NOMS_SHAPE = re.compile(r"(?<![A-Za-z0-9])[A-Z][0-9]{4}[A-Z]{2}(?![A-Za-z0-9])", re.ASCII | re.I)
_WORDS_SHAPE = re.compile(r"(?<![A-Za-z])[A-Za-z]+(?:[._ -][A-Za-z]+)+", re.ASCII)
_NAME_AND_NUMBER = re.compile(
    r"(?<![A-Za-z])[A-Za-z]{4,}[._ -]?([0-9]+)(?![0-9])"
    r"|(?<![0-9])([0-9]+)[._ -]?[A-Za-z]{4,}(?![A-Za-z])",
    re.ASCII,
)
_CODE_AND_COUNTER = re.compile(r"[A-Za-z]{1,3}[._-]?[0-9]{8}", re.ASCII)
_UUID_SHAPE = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}", re.ASCII | re.I)
FIRST_BIRTH_YEAR = 1900


def looks_like_an_id(value: str) -> bool:
    """Whether the `id` of a rejected line may be kept and shown (see `_ID_SHAPE`)."""
    if _UUID_SHAPE.fullmatch(value.strip()):
        return True  # its hex digits may spell anything
    return (
        _ID_SHAPE.fullmatch(value) is not None
        and any(char.isdigit() for char in value)
        and not _personal_shape(value.strip())
    )


def _personal_shape(value: str) -> bool:
    """Whether a value holds a date, a PNC or CRO number, or the other shapes of
    `_holds_personal_data`."""
    return (
        _DATE_SHAPE.search(value) is not None
        or _PNC_OR_CRO_SHAPE.search(value) is not None
        or _holds_personal_data(value)
    )


def _holds_personal_data(value: str) -> bool:
    """Whether an id holds a date of birth, a NOMS number or names beside a date."""
    runs = _DIGIT_RUN.findall(value)
    if value in runs:  # digits alone: a date of birth as 8 digits, or 6 (DDMMYY)
        return _is_birth_date(value) or (len(value) == 6 and _is_ddmmyy(value))
    if _NOMS_SHAPE.search(value):
        return True
    if not _CODE_AND_COUNTER.fullmatch(value) and any(_is_birth_date(run) for run in runs):
        return True
    if _WORDS_SHAPE.search(value) is not None and any(map(_is_date_like, runs)):
        return True
    return any(_is_date_like(after or before) for after, before in _NAME_AND_NUMBER.findall(value))


def _is_date_like(run: str) -> bool:
    """A run of digits that may be a birth year, or a date of birth (6 or 8 digits)."""
    if len(run) == 4:
        return FIRST_BIRTH_YEAR <= int(run) <= date.today().year
    return _is_birth_date(run) or (len(run) == 6 and _is_ddmmyy(run))


def _is_birth_date(run: str) -> bool:
    """8 digits forming a real date, `YYYYMMDD` or `DDMMYYYY`, from 1900 to this year."""
    if len(run) != 8:
        return False
    readings = ((run[:4], run[4:6], run[6:]), (run[4:], run[2:4], run[:2]))
    return any(
        FIRST_BIRTH_YEAR <= int(year) <= date.today().year and _is_date(year, month, day)
        for year, month, day in readings
    )


def _is_ddmmyy(run: str) -> bool:
    """6 digits forming a real date as `DDMMYY` (a leap day in any year that has one)."""
    day, month, year = run[:2], run[2:4], run[4:]
    return _is_date(str(2000 + int(year)), month, day) or _is_date(
        str(1900 + int(year)), month, day
    )


def _is_date(year: str, month: str, day: str) -> bool:
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


# Editors on some systems start a UTF-8 file with a byte order mark; it is not
# part of the first record.
UTF8_BOM = b"\xef\xbb\xbf"


def split_lines(text: bytes) -> list[bytes]:
    """Feed text split as a feed file is read: at line feeds only, a leading BOM dropped.

    A carriage return is JSON whitespace inside a line, or part of a CRLF end
    that `place_lines` strips; it never ends a line, in a file or in a page.
    """
    return text.removeprefix(UTF8_BOM).split(b"\n")


def iter_lines(
    lines: Iterable[bytes], context: FeedContext, prefix: str = ""
) -> Iterator[FeedItem]:
    """Validate a stream of raw lines; blank lines are skipped, numbering is 1-based."""
    return validate_stream(place_lines(lines, prefix), context)


def place_lines(lines: Iterable[bytes], prefix: str = "") -> Iterator[PlacedLine]:
    """The non-blank lines, stripped, each with its 1-based position after `prefix`."""
    for number, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if stripped:
            yield f"{prefix}line {number}", stripped


def validate_stream(lines: Iterable[PlacedLine], context: FeedContext) -> Iterator[FeedItem]:
    """Validate placed lines, in order.

    When a pool is offered and the stream is long, the lines after the first
    `POOL_AFTER_LINES` are validated by the pool; the order is the same.
    """
    placed = iter(lines)
    pool = _POOL.get()
    if pool is None:
        for position, raw in placed:
            yield validate_line(raw, position, context)
        return
    head = list(islice(placed, POOL_AFTER_LINES))
    yield from validate_placed(head, context)
    if len(head) == POOL_AFTER_LINES:
        yield from pool.validate(placed, context)


def today_context(agency: str, today: date) -> FeedContext:
    """A validation context for one agency's feed."""
    if agency not in {"probation", "police"}:
        raise ValueError("agency: must be probation or police")
    return FeedContext(agency, today)  # type: ignore[arg-type]
