"""Firearms tracing events (ATF eTrace request fields, form 3312.1)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from alliance.contracts.base import Fact, Intake
from alliance.contracts.common import CountryCode, Person, Place, QuarterId, Text, ValueObject
from alliance.contracts.disclosure_control import disclosure_rules
from alliance.contracts.interdiction import FirearmType
from alliance.contracts.limits import MAX_ITEMS_PER_SEIZURE


class RecoveredFirearmFact(Fact):
    """What every request about one recovered gun states: the gun and where it was recovered."""

    seizure_id: str
    item_number: int
    maker: str
    model: str | None = None
    caliber: str | None = None
    firearm_type: FirearmType
    recovery_place: Place
    recovery_date: date
    requesting_agency: str
    status: str


class TraceRequestSubmitted(RecoveredFirearmFact):
    """A trace request was opened for a recovered firearm with a legible serial number."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_request.submitted.v1"

    trace_request_id: str
    serial_number: str
    importer: str | None = None
    country_of_manufacture: str | None = None


class RestorationRequested(RecoveredFirearmFact):
    """The serial number of a recovered firearm is obliterated: a laboratory must restore it first."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.restoration.requested.v1"

    restoration_request_id: str


# -- intake from the tracing center, laboratories and licensing authorities ------------------------------


class TraceOutcome(StrEnum):
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


class RestorationOutcome(StrEnum):
    RESTORED = "restored"
    FAILED = "failed"


class Dealer(ValueObject):
    name: Text
    licence_number: str | None = Field(default=None, max_length=40, description="FFL number")
    state: str | None = Field(default=None, max_length=60)
    country: CountryCode = "US"


class TraceRequestAcknowledged(Intake):
    """The tracing center has taken the request up (it is now in progress)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_request.acknowledged.v1"

    trace_request_id: Annotated[str, Field(min_length=3, max_length=80)]
    tracing_center_reference: str | None = Field(default=None, max_length=60)


class TraceResultReported(Intake):
    """The tracing center's answer: dealer, first retail purchaser and sale date, or why it failed."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_result.reported.v1"

    trace_request_id: Annotated[str, Field(min_length=3, max_length=80)]
    outcome: TraceOutcome
    reason: str | None = Field(default=None, max_length=500, description="why a trace could not be completed")
    dealer: Dealer | None = None
    purchaser: Person | None = None
    sale_date: date | None = None

    @model_validator(mode="after")
    def _fields_for_outcome(self) -> Self:
        if self.outcome is TraceOutcome.COMPLETED and not (self.dealer and self.purchaser and self.sale_date):
            raise ValueError("a completed trace needs dealer, purchaser and sale_date")
        if self.outcome is TraceOutcome.NOT_COMPLETED and not self.reason:
            raise ValueError("a trace that could not be completed needs a reason")
        return self


class RestorationResultReported(Intake):
    """A laboratory reports on a serial-number restoration."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.restoration_result.reported.v1"

    restoration_request_id: Annotated[str, Field(min_length=3, max_length=80)]
    outcome: RestorationOutcome
    restored_serial_number: str | None = Field(default=None, max_length=60)
    laboratory: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _serial_when_restored(self) -> Self:
        if self.outcome is RestorationOutcome.RESTORED and not self.restored_serial_number:
            raise ValueError("a restored serial number must be given when the outcome is restored")
        return self


class LicensedFirearm(ValueObject):
    maker: Text
    model: str | None = Field(default=None, max_length=100)
    serial_number: Annotated[str, Field(min_length=1, max_length=60)]
    caliber: str | None = Field(default=None, max_length=40)


class ExportLicenceIssued(Intake):
    """A firearms export licence (AP6.8: valid for one year)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.export_licence.issued.v1"

    licence_number: Annotated[str, Field(min_length=1, max_length=60)]
    exporter: Text
    consignee: Text
    destination_country: CountryCode
    issued_on: date
    firearms: list[LicensedFirearm] = Field(min_length=1, max_length=MAX_ITEMS_PER_SEIZURE)


class TraceStatisticsRequested(Intake):
    """Ask for the periodic exchange of trace statistics (AP6.5.4) for a period, by recovery date.

    Sanitised statistics are released for calendar quarters only (``period``, e.g. 2026-Q3): two
    arbitrary date ranges a day apart could be subtracted from each other. Statistics that are not
    sanitised take any range (``period_start`` to ``period_end``, both included) or a quarter.
    """

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_statistics.requested.v1"

    period: QuarterId | None = Field(default=None, description="a calendar quarter; required when sanitised")
    period_start: date | None = Field(default=None, description="not sanitised: the first recovery date counted")
    period_end: date | None = Field(default=None, description="not sanitised: the last recovery date counted")
    language: Literal["en", "es"] = "en"
    sanitised: bool = Field(default=False, description=disclosure_rules().summary("seizures of guns"))

    @model_validator(mode="after")
    def _one_period(self) -> Self:
        dates = self.period_start is not None or self.period_end is not None
        if self.sanitised and (self.period is None or dates):
            raise ValueError(
                "sanitised statistics are released for calendar quarters only: name one as period (e.g. 2026-Q3), "
                "without period_start and period_end"
            )
        if self.period is not None and dates:
            raise ValueError("name the period once: period (a quarter), or period_start and period_end")
        if self.period is None and (self.period_start is None or self.period_end is None):
            raise ValueError("name the period: period (e.g. 2026-Q3), or period_start and period_end")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


# -- facts ------------------------------------------------------------------------------------------------


class TraceRequestInProgress(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_request.in_progress.v1"

    trace_request_id: str
    tracing_center_reference: str | None = None
    status: str


class TraceCompleted(Fact):
    """A completed trace, with its time-to-crime (days from first retail sale to recovery)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace.completed.v1"

    trace_request_id: str
    seizure_id: str
    serial_number: str
    maker: str
    dealer: Dealer
    purchaser: Person
    sale_date: date
    recovery_date: date
    time_to_crime_days: int
    status: str


class TraceNotCompleted(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace.not_completed.v1"

    trace_request_id: str
    reason: str
    status: str


class RestorationSucceeded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.restoration.restored.v1"

    restoration_request_id: str
    restored_serial_number: str
    status: str


class RestorationFailed(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.restoration.failed.v1"

    restoration_request_id: str
    notes: str | None = None
    status: str


class ExportLicenceRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.export_licence.recorded.v1"

    licence_id: str
    licence_number: str
    exporter: str
    consignee: str
    destination_country: str
    issued_on: date
    valid_until: date
    firearms: list[LicensedFirearm]


class IndicatorKind(StrEnum):
    SHORT_TIME_TO_CRIME = "short_time_to_crime"
    REPEAT_PURCHASER = "repeat_purchaser"
    LICENSED_EXPORT_RECOVERED = "licensed_export_recovered"


class TraffickingIndicatorRaised(Fact):
    """A firearms-trafficking indicator with its evidence (AP6.5 and AP6.7)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trafficking_indicator.raised.v1"

    indicator_id: str
    indicator: IndicatorKind
    summary: str
    trace_request_ids: list[str]
    evidence: dict[str, Any] = Field(default_factory=dict)


class TraceStatisticsPublished(Fact):
    """Trace statistics for a period, with labels in the requested language (AP6.5.4)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_statistics.published.v1"

    period_start: date
    period_end: date
    language: str
    trace_requests: int
    by_status: dict[str, int]
    by_firearm_type: dict[str, int]
    by_recovery_country: dict[str, int]
    restorations: dict[str, int]
    median_time_to_crime_days: float | None = None
    short_time_to_crime: int
    sanitised: bool = False
    suppressed: list[str] = Field(
        default_factory=list,
        description="sanitised: the figures that are withheld, by name (trace_requests, by_status, by_firearm_type, "
        "by_recovery_country, restorations, short_time_to_crime, median_time_to_crime_days), published as 0, "
        "null or, for the breakdowns, with no entry at all",
    )
    period: str | None = Field(default=None, description="the quarter, e.g. 2026-Q3, when one was asked for")
    release_id: str | None = Field(
        default=None, description="sanitised: the quarter's one release; every answer for the quarter carries it"
    )
    released_at: datetime | None = Field(default=None, description="sanitised: when the quarter's figures were fixed")
    disclosure_rules: str | None = Field(default=None, description="sanitised: the disclosure-control rules applied")
