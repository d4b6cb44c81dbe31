"""Pydantic models of the duplicate-assessment report: its input rows, filters and output.

`FlagRow` is one flag as the ledger stores it; `ReportFilters` selects the
flags a report covers; `DuplicateReport` is the report itself, and its
`model_dump(mode="json")` is the `report duplicates --format json` shape of
`spec/cli.md` (with a few added keys, none renamed or dropped).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_serializer,
    field_validator,
    model_validator,
)

from sync.core.duplicates import FlagKind
from sync.core.policy import area_key
from sync.local_day import day_in_england

AgencyName = Literal["probation", "police"]
FlagState = Literal["open", "closed"]

KNOWN_KINDS: tuple[str, ...] = tuple(
    kind.value
    for kind in (
        FlagKind.DUPLICATE,
        FlagKind.ASSESSED_BY_NON_OWNER,
        FlagKind.ASSESSED_WITHOUT_OWNER,
        FlagKind.IN_PROGRESS_BY_NON_OWNER,
        FlagKind.DUPLICATE_PERSON_RECORD,
    )
)
"""The kinds the duplicate report covers (`spec/duplicates.md`), in the order it shows them."""

AGENCIES: tuple[AgencyName, ...] = ("probation", "police")


def hours_text(hours: float, *, signed: bool = False) -> str:
    """Hours as a manager reads them: thousands separated, two decimals at most.

    12345.67 reads "12,345.67", 1234567 "1,234,567" and 7.5 "7.5" (never an
    exponent, never a rounded-off hour); `signed` puts "+" before a rise.
    """
    sign = "+" if signed else ""
    return f"{hours + 0.0:{sign},.2f}".rstrip("0").rstrip(".")  # + 0.0: no "-0"


class _Frozen(BaseModel):
    """Base of every report model: immutable, unknown fields refused."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", serialize_by_alias=True, validate_by_name=True
    )


class Counterpart(_Frozen):
    """The other assessment of a `duplicate` pair, named by agency and reference.

    `redundant` says whether that assessment is redundant too (`None`: not
    known, in an agency's view or on a closed flag whose own assessment is
    redundant); see `sync.reports.duplicates.with_counterpart_redundancy`.
    """

    agency: AgencyName
    assessment_id: str
    reference_date: date | None = None
    redundant: bool | None = None


class FlagRow(_Frozen):
    """One flag as stored in the ledger.

    For `duplicate_person_record` the assessment fields are null and
    `person_ids` lists the agency's own duplicated records; for the other kinds
    `person_ids` holds the flagged agency's own record(s) of the subject.
    `counterpart` and `redundant` are set only on `duplicate` flags.
    `owner_at_as_of` and `rule_at_as_of` are set only on open
    `in_progress_by_non_owner` flags: the decision on the report's as-of date,
    which is what raised the alert (the owner at the reference date may be the
    assessing agency itself, when the work began before the case changed hands). Reports
    show `first_seen` and `closed_at` as days in England and Wales and leave out `last_seen`
    (an open flag was seen by the latest run), so the same facts give the same
    report however often the sync runs. `resolved_at` and `resolved_by` say when
    and by whom an operator marked an open flag resolved (`reconcile resolve`),
    while that resolution holds; it is still listed and counted. `rule_told` is the
    rule the flag's agency is told at the reference date (`sync.core.told`); it is not
    shown as such: an agency's view gives it as `rule_at_reference_date`.
    """

    kind: str
    subject_id: str
    agency: AgencyName | None
    assessment_id: str | None = None
    person_ids: list[str] = Field(default_factory=list)
    reference_date: date | None = None
    owner_at_reference_date: str | None = None
    rule_at_reference_date: str | None = None
    rule_told: str | None = Field(default=None, exclude=True)
    owner_at_as_of: str | None = None
    rule_at_as_of: str | None = None
    counterpart: Counterpart | None = None
    redundant: bool | None = None
    area: str | None = None
    assessment_status: str | None = None
    state: FlagState
    first_seen: datetime
    first_seen_as_of: date | None = Field(default=None, exclude=True)
    last_seen: datetime = Field(exclude=True)
    closed_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None

    @field_validator("area")
    @classmethod
    def _area_as_compared(cls, area: str | None) -> str | None:
        return area_or_none(area)

    @field_serializer("first_seen", "closed_at", "resolved_at")
    def _day_only(self, value: datetime | None) -> date | None:
        """Reports give the day a flag was raised or closed, not the run's exact time."""
        return None if value is None else day_in_england(value)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def report_date(self) -> date:
        """The date a report files this flag under: its reference date, else the as-of
        date of the run that first raised it (a flag stored before that was kept: the
        day it was first seen). Reports show it, so a manager can see why a flag falls in
        the period asked for."""
        if self.reference_date is not None:
            return self.reference_date
        if self.first_seen_as_of is not None:
            return self.first_seen_as_of
        return day_in_england(self.first_seen)


def area_or_none(area: str | None) -> str | None:
    """An area code as the policy compares it (`" nw "` is `NW`); a blank one is none.

    Flags and the area filter both go through it, so a report filters and
    groups areas as the training dates are looked up.
    """
    return area_key(area) or None if area is not None else None


class ReportFilters(_Frozen):
    """What a report covers; every field left empty means "no restriction".

    The period (`date_from`..`date_to`, both inclusive) applies to each flag's
    reference date, or to the as-of date it was first raised on when it has none. `state`
    defaults to open flags (those whose condition holds now); `None` lists
    closed flags too.
    """

    date_from: date | None = None
    date_to: date | None = None
    area: str | None = None
    agency: AgencyName | None = None
    kinds: tuple[str, ...] = ()
    state: FlagState | None = "open"

    @field_validator("kinds", mode="before")
    @classmethod
    def _none_is_all(cls, kinds: object) -> object:
        return () if kinds is None else kinds

    @field_validator("kinds")
    @classmethod
    def _sorted_unique(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(kinds)))

    @field_validator("area")
    @classmethod
    def _blank_is_none(cls, area: str | None) -> str | None:
        return area_or_none(area)

    @model_validator(mode="after")
    def _period_in_order(self) -> ReportFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("the period's start must not be after its end")
        return self


KindCounts = dict[str, int]


class AreaCounts(_Frozen):
    """Flags of one area, counted by kind (`area` null: records with no area)."""

    area: str | None
    flags: KindCounts
    total: int


class MonthCounts(_Frozen):
    """Flags of one month (`YYYY-MM` of the report date), counted by kind.

    `duplicates_by_agency` counts the month's `duplicate` flags by the agency
    whose assessment each one is about.
    """

    month: str
    flags: KindCounts
    total: int
    duplicates_by_agency: dict[AgencyName, int]


class PeriodChange(_Frozen):
    """The report's figures minus the previous period's."""

    flags: KindCounts
    total: int
    redundant_completed: int
    hours_lost_estimate: float


class PreviousPeriod(_Frozen):
    """The period of the same length just before the report's: its figures and the change."""

    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    flags: KindCounts
    total: int
    redundant_completed: int
    hours_lost_estimate: float
    change: PeriodChange


class Summary(_Frozen):
    """The report's totals (the `summary` object of `spec/cli.md`, plus added keys)."""

    flags: KindCounts
    redundant_completed: int
    hours_lost_estimate: float
    by_area: list[AreaCounts]
    by_month: list[MonthCounts]
    total: int
    open: int
    closed: int
    hours_per_assessment: float
    estimate_note: str
    previous_period: PreviousPeriod | None = None


class DuplicateReport(_Frozen):
    """The duplicate-assessment report; `model_dump(mode="json")` is the cli.md JSON."""

    as_of: date
    window_days: int
    date_from: date | None = Field(default=None, alias="from")
    date_to: date | None = Field(default=None, alias="to")
    summary: Summary
    flags: list[FlagRow]
    view: Literal["national", "probation", "police"] = "national"
    filters: ReportFilters = Field(default_factory=ReportFilters)
    # The handling marking the HTML page prints (`report_marking`); not part of the data,
    # so neither the JSON nor the CSV carries it.
    marking: str = Field(default="", exclude=True)
