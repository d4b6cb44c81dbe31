"""Pydantic models of feed-v1 records: validation at the edge.

Each line of a feed is validated into one of these models (a discriminated
union on `type`). Dates must be JSON strings `YYYY-MM-DD` and `updated_at` an
RFC 3339 timestamp with seconds and an offset; `deleted` is true, false or null
(null and absent mean false). Validators canonicalise identifiers: an invalid
CRN, NOMS number or police reference rejects the record; an invalid or junk PNC
or CRO is set aside with a warning naming the field (never the value). Error
messages name the field and the rule, never the input.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from sync.core import identifiers as ids
from sync.core.records import AssessmentStatus, Gender, Offence, SupervisionKind
from sync.feeds.timestamps import TIMESTAMP_REASON, TimestampError, utc_key

AgencyName = Literal["probation", "police"]
NAME_MAX_LENGTH = 200
AREA_MAX_LENGTH = 32
RECORD_ID_MAX_LENGTH = 64
WARNINGS_KEY = "\x00warnings"
WRONG_FEED = "does not match the feed it arrived in"  # a record's agency is the other one
_PLACEHOLDER_DOB_TEXT = frozenset(d.isoformat() for d in ids.PLACEHOLDER_DATES_OF_BIRTH)
# No C0 or C1 control character (NUL, tab, line breaks, DEL, …): they are no part of
# an id or area code, and PostgreSQL refuses NUL in the text columns these are kept in.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f-\x9f]*$"


def _with_reason(error_type: str, reason: str) -> GetPydanticSchema:
    """Annotation: any failure of the annotated type is reported as `reason` alone."""

    def schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.custom_error_schema(
            handler(source), custom_error_type=error_type, custom_error_message=reason
        )

    return GetPydanticSchema(schema)


def _json_text_in_form(pattern: str, error_type: str, reason: str) -> GetPydanticSchema:
    """Annotation: only a JSON string matching `pattern` reaches the type's own parsing.

    Any failure, of the pattern or of that parsing, is reported as `reason` alone.
    The check runs inside pydantic-core, so it adds no Python call per value.
    """

    def schema(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        text = core_schema.str_schema(pattern=pattern, strict=True, strip_whitespace=False)
        return core_schema.custom_error_schema(
            core_schema.chain_schema([text, handler(source)]),
            custom_error_type=error_type,
            custom_error_message=reason,
        )

    return GetPydanticSchema(schema)


def _text(max_length: int, *, controls: bool = False) -> GetPydanticSchema:
    """Annotation: a JSON string of 1 to `max_length` characters, with no control
    character unless `controls` allows them.

    Any failure is reported as one reason naming the rules; the check runs
    inside pydantic-core.
    """
    rules = "" if controls else ", without control characters"

    def schema(_source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.str_schema(
                min_length=1,
                max_length=max_length,
                pattern=None if controls else NO_CONTROL_CHARACTERS,
                strict=True,
            ),
            custom_error_type="text",
            custom_error_message=f"must be text of 1 to {max_length} characters{rules}",
        )

    return GetPydanticSchema(schema)


# A name is kept only in a record's encrypted payload, so a stray tab in it harms
# nothing, and refusing the person would orphan every record pointing at them.
NonEmptyText = Annotated[str, _text(NAME_MAX_LENGTH, controls=True)]
RecordId = Annotated[str, _text(RECORD_ID_MAX_LENGTH)]
AreaCode = Annotated[str, _text(AREA_MAX_LENGTH)]


# Pydantic alone, even in strict mode, turns numbers, Unix-time strings and
# datetimes into dates. The feed text is checked first.
# `[0-9]`, not `\d`: the regex engine's `\d` also matches non-ASCII digits.
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_REASON = "must be a date in the form YYYY-MM-DD"
FeedDate = Annotated[date, _json_text_in_form(DATE_PATTERN, "date_format", DATE_REASON)]


def _timestamp_key(text: str) -> str:
    try:
        return utc_key(text)
    except TimestampError as error:
        raise PydanticCustomError("timestamp_format", str(error)) from None


def _timestamp_key_schema(_source: Any, _handler: GetCoreSchemaHandler) -> CoreSchema:
    text = core_schema.str_schema(strict=True, strip_whitespace=False)
    return core_schema.no_info_after_validator_function(
        _timestamp_key,
        core_schema.custom_error_schema(
            text, custom_error_type="timestamp_format", custom_error_message=TIMESTAMP_REASON
        ),
    )


# `updated_at`: a JSON string in RFC 3339 form, exactly as written (no trimming),
# kept as its sortable UTC key (`sync/feeds/timestamps.py`), which orders the
# versions of a record.
TimestampKey = Annotated[str, GetPydanticSchema(_timestamp_key_schema)]


def _null_is_false(value: object) -> object:
    return False if value is None else value


# `deleted`: a JSON boolean; null (like absent) means not deleted. Strict, so
# "yes", "true" or 1 are rejected rather than read as true.
DeletedFlag = Annotated[
    bool,
    Strict(),
    _with_reason("deleted_type", "must be true, false or null"),
    BeforeValidator(_null_is_false),
]


class FeedContext:
    """What a validator needs to know about the stream it reads.

    `today` is the reading day (it dates two-digit PNC years); `events_until`
    is the last day a recorded event may have happened by: today, or a later
    `--as-of` a run was given, so that a run dated ahead keeps its records.
    """

    def __init__(self, agency: AgencyName, today: date, events_until: date | None = None) -> None:
        self.agency = agency
        self.today = today
        self.events_until = today if events_until is None else max(today, events_until)


def _context(info: ValidationInfo) -> FeedContext:
    context = info.context
    if not isinstance(context, FeedContext):
        raise TypeError("feed records are validated with a FeedContext")
    return context


def canonical_person_ref(agency: str, raw: str) -> str:
    """A person reference in the agency's canonical form, or `InvalidIdentifier`."""
    if agency == "probation":
        return ids.canonical_crn(raw)
    return ids.canonical_police_ref(raw)


class FeedRecord(BaseModel):
    """Fields common to every record type."""

    # Unknown fields are ignored (feed-v1), but kept apart on the model so that
    # their names can be counted (`sync.feeds.jsonl.ignored_fields`); they are
    # never stored (`sync.feeds.convert.to_version`).
    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=True)

    agency: AgencyName
    id: RecordId
    updated_at: TimestampKey
    deleted: DeletedFlag = False
    # Computed by a record type's own validator, which sets it under this key;
    # a feed that sends the key itself is ignored, as any unknown field is.
    warnings: tuple[str, ...] = Field(default=(), validation_alias=WARNINGS_KEY)
    COMPUTES_WARNINGS: ClassVar[bool] = False

    @field_validator("warnings", mode="before")
    @classmethod
    def _never_from_the_feed(cls, value: object) -> object:
        return value if cls.COMPUTES_WARNINGS else ()

    @field_validator("agency")
    @classmethod
    def _agency_matches_feed(cls, value: str, info: ValidationInfo) -> str:
        if value != _context(info).agency:
            raise ValueError(WRONG_FEED)
        return value


class PersonRecord(FeedRecord):
    """`person`: one agency's record of a person."""

    COMPUTES_WARNINGS: ClassVar[bool] = True  # `_set_aside_bad_identifiers` always sets them

    type: Literal["person"]
    surname: NonEmptyText
    forenames: NonEmptyText
    gender: Gender
    area: AreaCode
    pnc: str | None = None
    cro: str | None = None
    noms: str | None = None
    date_of_birth: FeedDate | None = None

    @field_validator("id")
    @classmethod
    def _valid_person_ref(cls, value: str, info: ValidationInfo) -> str:
        return canonical_person_ref(_context(info).agency, value)

    @field_validator("noms")
    @classmethod
    def _valid_noms(cls, value: str | None) -> str | None:
        return None if value is None else ids.canonical_noms(value)

    @model_validator(mode="before")
    @classmethod
    def _set_aside_bad_identifiers(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        context = _context(info)
        today = context.today
        cleaned = dict(data)
        warnings: list[str] = []
        for field_name, canonicalise in (
            ("pnc", lambda raw: ids.canonical_pnc(raw, today)),
            ("cro", ids.canonical_cro),
        ):
            cleaned[field_name] = _identifier_or_none(
                cleaned.get(field_name), field_name, canonicalise, warnings
            )
        if _is_blank(cleaned.get("noms")):
            cleaned["noms"] = None
            warnings.append("noms: empty, treated as absent")
        warnings.extend(_system_prefix_warnings(cleaned))
        dob = cleaned.get("date_of_birth")
        if isinstance(dob, str) and dob in _PLACEHOLDER_DOB_TEXT:
            warnings.append("date_of_birth: placeholder value, never used to link")
        if _is_date_after(dob, context.events_until):
            cleaned["date_of_birth"] = None
            warnings.append("date_of_birth: after today (or a later --as-of), set aside")
        cleaned[WARNINGS_KEY] = tuple(warnings)
        return cleaned


def _is_blank(value: object) -> bool:
    """An empty string, or one of spaces: a source's way of writing no value."""
    return isinstance(value, str) and not value.strip()


def _system_prefix_warnings(data: dict[str, Any]) -> list[str]:
    """A warning for each name that carries a source system's prefix (`MIG_ERROR_` and the
    like), which the matcher strips before comparing."""
    return [
        f"{name}: source system prefix, stripped before comparing"
        for name in ("surname", "forenames")
        if isinstance(data.get(name), str) and ids.has_system_prefix(data[name].strip())
    ]


def _is_date_after(value: object, today: date) -> bool:
    """Whether `value` is a well-formed feed date later than `today`."""
    if not isinstance(value, str) or re.fullmatch(DATE_PATTERN, value) is None:
        return False
    try:
        return date.fromisoformat(value) > today
    except ValueError:
        return False


def _identifier_or_none(
    raw: object, field_name: str, canonicalise: Any, warnings: list[str]
) -> str | None:
    """Canonical identifier, or None with a warning when invalid, empty or junk."""
    if raw is None:
        return None
    canonical, warning = _read_identifier(raw, field_name, canonicalise)
    if warning is not None:
        warnings.append(warning)
    return canonical


def _read_identifier(
    raw: object, field_name: str, canonicalise: Any
) -> tuple[str | None, str | None]:
    """The canonical identifier and no warning, or None and why it is set aside."""
    if not isinstance(raw, str):
        return None, f"{field_name}: not a string, set aside"
    if _is_blank(raw):
        return None, f"{field_name}: empty, set aside"
    if ids.is_junk_identifier(raw):  # zeros in any layout, whether or not it parses
        return None, _placeholder(field_name)
    try:
        canonical: str = canonicalise(raw)
    except ids.InvalidIdentifier as error:
        return None, f"{error}, set aside"
    if ids.is_junk_identifier(canonical):
        return None, _placeholder(field_name)
    return canonical, None


def _placeholder(field_name: str) -> str:
    return f"{field_name}: placeholder value, treated as absent"


class _PersonLinked(FeedRecord):
    """A record that belongs to a person record of the same agency."""

    person_id: RecordId

    @field_validator("person_id")
    @classmethod
    def _valid_person_id(cls, value: str, info: ValidationInfo) -> str:
        return canonical_person_ref(_context(info).agency, value)


def _probation_only(info: ValidationInfo, record_type: str) -> None:
    if _context(info).agency != "probation":
        raise ValueError(f"a {record_type} record only comes from probation")


def _police_only(info: ValidationInfo, record_type: str) -> None:
    if _context(info).agency != "police":
        raise ValueError(f"a {record_type} record only comes from the police")


class SupervisionRecord(_PersonLinked):
    """`supervision` (probation only)."""

    type: Literal["supervision"]
    kind: SupervisionKind
    offence: Offence
    start: FeedDate
    end: FeedDate | None = None
    terminated_on: FeedDate | None = None

    @field_validator("type")
    @classmethod
    def _from_probation(cls, value: str, info: ValidationInfo) -> str:
        _probation_only(info, "supervision")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> SupervisionRecord:
        if self.end is None and self.kind is not SupervisionKind.LICENCE:
            raise ValueError("end: required (only a life licence has no end)")
        if self.end is not None and self.end < self.start:
            raise ValueError("end: must not be before start")
        if self.terminated_on is not None and self.terminated_on < self.start:
            raise ValueError("terminated_on: must not be before start")
        return self


class _PeriodRecord(_PersonLinked):
    start: FeedDate
    end: FeedDate | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> _PeriodRecord:
        if self.end is not None and self.end < self.start:
            raise ValueError("end: must not be before start")
        return self


class CustodyRecord(_PeriodRecord):
    """`custody` (probation only): remand, sentence or recall."""

    type: Literal["custody"]

    @field_validator("type")
    @classmethod
    def _from_probation(cls, value: str, info: ValidationInfo) -> str:
        _probation_only(info, "custody")
        return value


class RegistrationRecord(_PeriodRecord):
    """`registration` (police only): the notification requirement."""

    type: Literal["registration"]

    @field_validator("type")
    @classmethod
    def _from_police(cls, value: str, info: ValidationInfo) -> str:
        _police_only(info, "registration")
        return value


class AssessmentRecord(_PersonLinked):
    """`assessment`: an ARMS assessment by either agency."""

    type: Literal["assessment"]
    started_on: FeedDate
    completed_on: FeedDate | None = None
    status: AssessmentStatus

    @model_validator(mode="after")
    def _completion_consistent(self, info: ValidationInfo) -> AssessmentRecord:
        if self.started_on > _context(info).events_until:
            raise ValueError("started_on: must not be after today (or a later --as-of)")
        if self.status is AssessmentStatus.COMPLETED and self.completed_on is None:
            raise ValueError("completed_on: required when status is completed")
        if self.completed_on is not None and self.completed_on < self.started_on:
            raise ValueError("completed_on: must not be before started_on")
        if self.completed_on is not None and self.completed_on > _context(info).events_until:
            raise ValueError("completed_on: must not be after today (or a later --as-of)")
        return self


class MergeRecord(FeedRecord):
    """`merge`: the source system merged two of its person records."""

    type: Literal["merge"]
    source_person_id: RecordId
    target_person_id: RecordId

    @field_validator("source_person_id", "target_person_id")
    @classmethod
    def _valid_refs(cls, value: str, info: ValidationInfo) -> str:
        return canonical_person_ref(_context(info).agency, value)

    @model_validator(mode="after")
    def _distinct(self) -> MergeRecord:
        if self.source_person_id == self.target_person_id:
            raise ValueError("target_person_id: must differ from source_person_id")
        return self


AnyRecord = Annotated[
    PersonRecord
    | SupervisionRecord
    | CustodyRecord
    | RegistrationRecord
    | AssessmentRecord
    | MergeRecord,
    Field(discriminator="type"),
]

RECORD_TYPES = ("person", "supervision", "custody", "registration", "assessment", "merge")
_TYPE_ONLY_FROM = {"supervision": "probation", "custody": "probation", "registration": "police"}


class Tombstone(FeedRecord):
    """A deletion read on its common fields alone (`type`, `agency`, `id`, `updated_at`).

    A withdrawn record is removed from every decision, so nothing else in it is
    ever used: a deletion that carries only its key, or fields that would no
    longer validate, still erases the record. The type must be known, and one
    that only one agency sends must come from that agency.
    """

    type: Literal["person", "supervision", "custody", "registration", "assessment", "merge"]

    @model_validator(mode="after")
    def _of_this_agency(self, info: ValidationInfo) -> Tombstone:
        if not self.deleted:
            raise ValueError("deleted: a record that is not deleted is read in full")
        only_from = _TYPE_ONLY_FROM.get(self.type)
        if only_from is not None and only_from != self.agency:
            raise ValueError(f"type: a {self.type} record only comes from {only_from}")
        if self.type == "person":
            canonical = canonical_person_ref(_context(info).agency, self.id)
            return self if canonical == self.id else self.model_copy(update={"id": canonical})
        return self
