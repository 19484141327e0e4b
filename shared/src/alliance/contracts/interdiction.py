"""Interdiction events: seizures reported by agencies and the facts the service records.

Fields follow what EPIC's National Seizure System and UNODC's Individual Drug Seizure reports hold.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from alliance.contracts.base import Fact, Intake
from alliance.contracts.common import (
    CountryCode,
    CurrencyCode,
    MassUnit,
    Person,
    Place,
    QuarterId,
    Text,
    ValueObject,
)
from alliance.contracts.disclosure_control import disclosure_rules
from alliance.contracts.limits import MAX_ITEMS_PER_SEIZURE, MAX_PERSONS, MAX_SMALL_LIST


class TransportMode(StrEnum):
    AIR = "air"
    LAND = "land"
    SEA = "sea"


class FirearmType(StrEnum):
    PISTOL = "pistol"
    REVOLVER = "revolver"
    RIFLE = "rifle"
    SHOTGUN = "shotgun"
    MACHINE_GUN = "machine_gun"
    SUBMACHINE_GUN = "submachine_gun"
    GRENADE_LAUNCHER = "grenade_launcher"
    RECEIVER_FRAME = "receiver_frame"
    OTHER = "other"


class Conveyance(ValueObject):
    kind: Annotated[str, Field(min_length=1, max_length=60, description="car, tractor-trailer, go-fast boat…")]
    identifier: str | None = Field(default=None, max_length=100, description="plate, tail number, hull id")
    registration_country: CountryCode | None = None


class Route(ValueObject):
    origin: CountryCode | None = None
    transit: list[CountryCode] = Field(default_factory=list, max_length=MAX_SMALL_LIST)
    destination: CountryCode | None = None


class DrugItem(ValueObject):
    drug: Annotated[str, Field(min_length=1, max_length=60, description="cocaine, fentanyl, methamphetamine…")]
    quantity: float = Field(gt=0)
    unit: MassUnit


class FirearmItem(ValueObject):
    serial_number: str | None = Field(default=None, max_length=60)
    serial_obliterated: bool = False
    maker: Text
    model: str | None = Field(default=None, max_length=100)
    caliber: str | None = Field(default=None, max_length=40)
    firearm_type: FirearmType
    country_of_manufacture: CountryCode | None = None
    importer: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _serial_or_obliterated(self) -> Self:
        if not self.serial_obliterated and not self.serial_number:
            raise ValueError("serial_number is required unless serial_obliterated is true")
        return self


class CurrencyItem(ValueObject):
    amount: float = Field(gt=0)
    currency: CurrencyCode


class ChemicalItem(ValueObject):
    substance: Text
    quantity: float = Field(gt=0)
    unit: MassUnit


class SeizureContents(ValueObject):
    """What was seized and where: shared by the report and the recorded fact."""

    mode: TransportMode
    seized_at: AwareDatetime
    place: Place
    conveyance: Conveyance | None = None
    concealment: str | None = Field(default=None, max_length=200, description="free-text description")
    concealment_method: str | None = Field(default=None, max_length=60, description="code")
    route: Route | None = None
    drugs: list[DrugItem] = Field(default_factory=list, max_length=MAX_ITEMS_PER_SEIZURE)
    firearms: list[FirearmItem] = Field(default_factory=list, max_length=MAX_ITEMS_PER_SEIZURE)
    currency: list[CurrencyItem] = Field(default_factory=list, max_length=MAX_ITEMS_PER_SEIZURE)
    chemicals: list[ChemicalItem] = Field(default_factory=list, max_length=MAX_ITEMS_PER_SEIZURE)
    detained_persons: list[Person] = Field(default_factory=list, max_length=MAX_PERSONS)


class SeizureReported(Intake):
    """An agency reports a seizure (sent to the interdiction intake topic)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.seizure.reported.v1"

    report_reference: Annotated[str, Field(min_length=1, max_length=100, description="the agency's own case number")]
    seizure: SeizureContents

    @model_validator(mode="after")
    def _something_was_seized(self) -> Self:
        s = self.seizure
        if not (s.drugs or s.firearms or s.currency or s.chemicals or s.detained_persons):
            raise ValueError("a seizure must contain drugs, firearms, currency, chemicals or detained persons")
        return self


class RecordedDrug(DrugItem):
    quantity_kg: float = Field(ge=0, description="quantity normalised to kilograms")


class SeizureRecorded(Fact):
    """Interdiction has validated and stored a seizure."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.seizure.recorded.v1"

    seizure_id: str
    report_reference: str
    reporting_agency: str
    recorded_at: datetime
    mode: TransportMode
    seized_at: datetime
    place: Place
    conveyance: Conveyance | None = None
    concealment: str | None = None
    concealment_method: str | None = None
    route: Route | None = None
    drugs: list[RecordedDrug] = Field(default_factory=list)
    firearms: list[FirearmItem] = Field(default_factory=list)
    currency: list[CurrencyItem] = Field(default_factory=list)
    chemicals: list[ChemicalItem] = Field(default_factory=list)
    detained_persons: list[Person] = Field(default_factory=list)
    total_drugs_kg: float = 0.0


class SeizureAmended(Intake):
    """The reporting agency corrects a seizure it reported: the full corrected contents."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.seizure.amended.v1"

    report_reference: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Annotated[str, Field(min_length=3, max_length=1000, description="why the report is corrected")]
    seizure: SeizureContents


class SeizureCorrected(SeizureRecorded):
    """Interdiction has applied an amendment: the seizure as it now stands, with its revision number."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.seizure.corrected.v1"

    revision: int
    amendment_reason: str


class RouteReportKind(StrEnum):
    NEW_ROUTE = "new_route"
    CONCEALMENT_METHOD = "concealment_method"
    TRAFFICKING_TREND = "trafficking_trend"


class RouteReportSubmitted(Intake):
    """Route and method intelligence: a new route or concealment method seen by an agency (AP10)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.route_report.submitted.v1"

    report_reference: Annotated[str, Field(min_length=1, max_length=100)]
    kind: RouteReportKind
    summary: Annotated[str, Field(min_length=10, max_length=4000)]
    modes: list[TransportMode] = Field(default_factory=list, max_length=MAX_SMALL_LIST)
    route: Route | None = None
    concealment_method: str | None = Field(default=None, max_length=60, description="code")
    drugs: list[str] = Field(default_factory=list, max_length=MAX_SMALL_LIST, description="drug codes")
    observed_from: date | None = None
    observed_to: date | None = None


class RouteReportPublished(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.route_report.published.v1"

    route_report_id: str
    report_reference: str
    reporting_agency: str
    kind: RouteReportKind
    summary: str
    modes: list[TransportMode] = Field(default_factory=list)
    route: Route | None = None
    concealment_method: str | None = None
    concealment_method_label: dict[str, str] | None = None
    drugs: list[str] = Field(default_factory=list)
    observed_from: date | None = None
    observed_to: date | None = None


class SeizureStatisticsRequested(Intake):
    """Ask for the quarterly exchange of seizure statistics (AP2 1.1, AP14 1) of one calendar quarter (UTC)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.seizure_statistics.requested.v1"

    period: QuarterId | None = Field(default=None, description="the quarter, e.g. 2026-Q3 (or give year and quarter)")
    year: int | None = Field(default=None, ge=1990, le=2100)
    quarter: int | None = Field(default=None, ge=1, le=4)
    countries: list[CountryCode] = Field(default_factory=lambda: ["MX", "US"], max_length=MAX_SMALL_LIST)
    language: Literal["en", "es"] = "en"
    sanitised: bool = Field(
        default=False,
        description=disclosure_rules().summary("seizures"),
    )

    @model_validator(mode="after")
    def _one_quarter(self) -> Self:
        if self.period is not None and (self.year is not None or self.quarter is not None):
            raise ValueError("name the quarter once: period (e.g. 2026-Q3), or year and quarter")
        if self.period is None and (self.year is None or self.quarter is None):
            raise ValueError("name the quarter: period (e.g. 2026-Q3), or year and quarter")
        return self

    @property
    def quarter_id(self) -> str:
        return self.period or f"{self.year:04d}-Q{self.quarter}"


class CountryQuarter(BaseModel):
    seizures: int
    drugs_kg: dict[str, float]
    firearms: int
    currency: dict[str, float]
    detained_persons: int
    suppressed: bool = Field(
        default=False, description="sanitised: the number of seizures is withheld (published as 0)"
    )
    withheld: list[str] = Field(
        default_factory=list,
        description="sanitised: the figures that are withheld, by name (seizures, firearms, detained_persons, "
        "drugs_kg, currency), published as 0 or, for drugs_kg and currency, with no entry at all",
    )


class SeizureStatisticsPublished(Fact):
    """Per country and quarter: seizures, drugs by type in kg, firearms, currency and detained persons."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.interdiction.seizure_statistics.published.v1"

    year: int
    quarter: int
    language: str
    countries: dict[str, CountryQuarter]
    sanitised: bool = False
    period: str | None = Field(default=None, description="the quarter, e.g. 2026-Q3")
    release_id: str | None = Field(
        default=None, description="sanitised: the quarter's one release; every answer for the quarter carries it"
    )
    released_at: datetime | None = Field(default=None, description="sanitised: when the quarter's figures were fixed")
    disclosure_rules: str | None = Field(default=None, description="sanitised: the disclosure-control rules applied")
