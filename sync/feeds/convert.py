"""Conversions at the feed edge: validated models to stored versions, payloads to core values.

A validated feed record becomes a `RecordVersion` whose payload is the
canonical JSON of its fields; reading the ledger back turns those payloads
into the core's frozen dataclasses without re-running validation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sync.core.consolidate import FeedState, Merge
from sync.core.records import (
    Agency,
    Assessment,
    AssessmentStatus,
    Gender,
    Offence,
    Period,
    Person,
    Supervision,
    SupervisionKind,
)
from sync.feeds.models import FeedRecord
from sync.ledger.store import RecordVersion, StoredRecord, content_digest

ENVELOPE_FIELDS = frozenset({"agency", "id", "updated_at", "deleted", "warnings", "type"})
_NOT_IN_PAYLOAD = set(ENVELOPE_FIELDS)  # pydantic takes a set; built once, not per record


def to_version(record: FeedRecord) -> RecordVersion:
    """The stored version of a validated feed record."""
    fields = record.__dict__  # a model's field values; no per-field attribute look-up
    record_type: str = fields["type"]
    person_id: str | None = fields.get("person_id")
    payload = None
    if not record.deleted:
        payload = record.model_dump_json(exclude=_payload_exclusions(record)).encode()
    return RecordVersion(
        agency=record.agency,
        rtype=record_type,
        rid=record.id,
        updated_at=record.updated_at,
        deleted=record.deleted,
        person_id=person_id,
        payload=payload,
        digest=content_digest(payload),
        warnings=record.warnings,
    )


def _payload_exclusions(record: FeedRecord) -> set[str]:
    """The fields left out of a record's payload: its envelope, and any unknown field
    (feed-v1 ignores them; the model keeps them only to name them)."""
    extra = record.__pydantic_extra__
    return _NOT_IN_PAYLOAD | extra.keys() if extra else _NOT_IN_PAYLOAD


# Enum members by value: a dict lookup costs a fraction of calling the enum class,
# which matters once per stored record in a national run.
_AGENCIES = {member.value: member for member in Agency}
_GENDERS = {member.value: member for member in Gender}
_KINDS = {member.value: member for member in SupervisionKind}
_OFFENCES = {member.value: member for member in Offence}
_STATUSES = {member.value: member for member in AssessmentStatus}


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _required_date(value: Any) -> date:
    return date.fromisoformat(value)


def feed_state(stored: Iterable[StoredRecord]) -> FeedState:
    """The core's view of every current record in the ledger."""
    persons: list[Person] = []
    merges: list[Merge] = []
    supervisions: list[Supervision] = []
    custodies: list[Period] = []
    registrations: list[Period] = []
    assessments: list[Assessment] = []
    for item in stored:
        data, agency = item.payload, _AGENCIES[item.agency]
        match item.rtype:
            case "person":
                persons.append(_person(agency, item.rid, data))
            case "supervision":
                supervisions.append(_supervision(item.rid, data))
            case "custody":
                custodies.append(_period(item.rid, data))
            case "registration":
                registrations.append(_period(item.rid, data))
            case "assessment":
                assessments.append(_assessment(agency, item.rid, data))
            case "merge":
                source, target = data["source_person_id"], data["target_person_id"]
                merges.append(Merge(agency, item.rid, source, target, item.updated_at))
    return FeedState(persons, merges, supervisions, custodies, registrations, assessments)


def _person(agency: Agency, rid: str, data: dict[str, Any]) -> Person:
    return Person(
        agency=agency,
        person_id=rid,
        surname=data["surname"],
        forenames=data["forenames"],
        gender=_GENDERS[data["gender"]],
        area=data["area"],
        date_of_birth=_date(data.get("date_of_birth")),
        pnc=data.get("pnc"),
        cro=data.get("cro"),
        noms=data.get("noms"),
    )


def _supervision(rid: str, data: dict[str, Any]) -> Supervision:
    return Supervision(
        id=rid,
        person_id=data["person_id"],
        kind=_KINDS[data["kind"]],
        offence=_OFFENCES[data["offence"]],
        start=_required_date(data["start"]),
        end=_date(data.get("end")),
        terminated_on=_date(data.get("terminated_on")),
    )


def _period(rid: str, data: dict[str, Any]) -> Period:
    return Period(
        id=rid,
        person_id=data["person_id"],
        start=_required_date(data["start"]),
        end=_date(data.get("end")),
    )


def _assessment(agency: Agency, rid: str, data: dict[str, Any]) -> Assessment:
    return Assessment(
        agency=agency,
        id=rid,
        person_id=data["person_id"],
        started_on=_required_date(data["started_on"]),
        completed_on=_date(data.get("completed_on")),
        status=_STATUSES[data["status"]],
    )
