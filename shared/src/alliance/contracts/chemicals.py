"""Precursor chemical control events (INCB PEN Online, PICS; 1988 Convention Tables I and II)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, Field

from alliance.contracts.base import Fact, Intake
from alliance.contracts.common import CountryCode, MassUnit, Place, Text, ValueObject
from alliance.contracts.limits import MAX_SMALL_LIST

SubstanceTerm = Annotated[
    str, Field(min_length=2, max_length=120, description="code, CAS number, English or Spanish name")
]


class Company(ValueObject):
    name: Text
    country: CountryCode
    address: str | None = Field(default=None, max_length=300)
    tax_id: str | None = Field(default=None, max_length=40, description="EIN / RFC")


class ShipmentRoute(ValueObject):
    port_of_exit: str | None = Field(default=None, max_length=120)
    transit_countries: list[CountryCode] = Field(default_factory=list, max_length=MAX_SMALL_LIST)
    port_of_entry: str | None = Field(default=None, max_length=120)


class ReplyDecision(StrEnum):
    NO_OBJECTION = "no_objection"
    OBJECTION = "objection"


class IncidentKind(StrEnum):
    SEIZURE = "seizure"
    STOPPED_SHIPMENT = "stopped_shipment"
    DIVERSION_ATTEMPT = "diversion_attempt"


class SubstanceRef(ValueObject):
    code: str
    table: str
    cas: str
    name_en: str
    name_es: str


# -- intake ---------------------------------------------------------------------------------------


class PreExportNotificationSubmitted(Intake):
    """The exporting country's authority notifies a precursor export before it ships (PEN Online)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.pre_export_notification.submitted.v1"

    pen_reference: Annotated[str, Field(min_length=1, max_length=60)]
    exporting_country: CountryCode
    importing_country: CountryCode
    exporter: Company
    importer: Company
    substance: SubstanceTerm
    quantity: float = Field(gt=0)
    unit: MassUnit
    route: ShipmentRoute = Field(default_factory=ShipmentRoute)
    shipment_date: date
    reply_due_by: AwareDatetime | None = Field(default=None, description="set by the exporting country")


class PreExportNotificationReplied(Intake):
    """The importing country's authority answers a pre-export notification."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.pre_export_notification.replied.v1"

    pen_reference: Annotated[str, Field(min_length=1, max_length=60)]
    exporting_country: CountryCode
    decision: ReplyDecision
    grounds: str | None = Field(default=None, max_length=1000)


class LegitimateNeedDeclared(Intake):
    """An importer's annual legitimate requirement for a substance, as assessed by its authority."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.legitimate_need.declared.v1"

    importer: Company
    substance: SubstanceTerm
    year: int = Field(ge=2000, le=2100)
    annual_quantity: float = Field(gt=0)
    unit: MassUnit


class ChemicalIncidentReported(Intake):
    """An agency reports a precursor seizure, a stopped shipment or a diversion attempt (PICS)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.incident.reported.v1"

    incident_reference: Annotated[str, Field(min_length=1, max_length=60)]
    kind: IncidentKind
    substance: SubstanceTerm
    quantity: float = Field(gt=0)
    unit: MassUnit
    place: Place
    occurred_on: date
    companies: list[Text] = Field(
        default_factory=list, max_length=MAX_SMALL_LIST, description="companies named in the incident"
    )
    pen_reference: str | None = Field(default=None, max_length=60)
    description: str | None = Field(default=None, max_length=2000)


# -- facts ----------------------------------------------------------------------------------------


class PreExportNotificationRegistered(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.pre_export_notification.registered.v1"

    notification_id: str
    pen_reference: str
    exporting_country: str
    importing_country: str
    exporter: Company
    importer: Company
    substance: SubstanceRef
    quantity_kg: float
    route: ShipmentRoute
    shipment_date: date
    reply_due_at: datetime
    status: str


class PreExportNotificationReplyRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.pre_export_notification.reply_recorded.v1"

    notification_id: str
    pen_reference: str
    decision: ReplyDecision
    grounds: str | None = None
    status: str


class LegitimateNeedRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.legitimate_need.recorded.v1"

    legitimate_need_id: str
    importer: Company
    substance: SubstanceRef
    year: int
    annual_quantity_kg: float


class ChemicalIncidentRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.incident.recorded.v1"

    incident_id: str
    incident_reference: str
    kind: IncidentKind
    substance: SubstanceRef
    quantity_kg: float
    place: Place
    occurred_on: date
    companies: list[str] = Field(default_factory=list)
    pen_reference: str | None = None
    seizure_id: str | None = None


class DiversionAlertRaised(Fact):
    """Evidence of diversion of a precursor (AP11): names the exporter and importer involved."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.chemicals.diversion_alert.raised.v1"

    alert_id: str
    reason: str
    exporter: Company
    importer: Company
    substance: SubstanceRef
    notification_id: str
    pen_reference: str
    incident_id: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
