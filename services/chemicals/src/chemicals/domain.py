"""Pre-export notifications, incidents and diversion alerts (AP11). Pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from alliance.contracts.chemicals import (
    ChemicalIncidentRecorded,
    ChemicalIncidentReported,
    Company,
    DiversionAlertRaised,
    IncidentKind,
    LegitimateNeedDeclared,
    LegitimateNeedRecorded,
    PreExportNotificationRegistered,
    PreExportNotificationReplyRecorded,
    PreExportNotificationSubmitted,
    ReplyDecision,
    ShipmentRoute,
    SubstanceRef,
)
from alliance.contracts.common import Place
from alliance.contracts.interdiction import ChemicalItem, SeizureRecorded
from alliance.contracts.markings import Markings, strictest
from alliance.contracts.registry import AgencyKind
from alliance.domain.aggregate import Aggregate
from alliance.domain.deadlines import Deadline
from alliance.domain.errors import DomainRuleViolation, NotYours
from alliance.domain.ids import derived_id
from alliance.domain.names import company_key
from alliance.domain.principals import Sender, require_kind, require_own_country
from alliance.domain.units import to_kilograms
from chemicals.substances import catalogue

REPLY_DEADLINE = "importing_country_reply"
# The names of the deadline kinds this domain sets (a closed set: metrics are labelled by them).
DEADLINE_KINDS = (REPLY_DEADLINE,)
DEFAULT_REPLY_PERIOD = timedelta(days=15)
# A shipment this many times the importer's declared annual legitimate need is "far above" it.
EXCESSIVE_ORDER_FACTOR = 2.0
# An incident this close to a notified shipment date can concern that shipment.
SHIPMENT_WINDOW = timedelta(days=90)

# Who may act, from the sender's registry entry (never from a data field). 1988 Convention Art. 12(10)(a):
# the competent authorities of the exporting Party notify those of the importing Party before the export,
# and the importing Party's authorities answer; AP11 brings PEN Online's practice into the Alliance.
COMPETENT_AUTHORITY = "a competent (chemical) authority"
EXPORTER_NOTIFIES = (
    "the exporting country's competent authority notifies its exports (AP11; 1988 Convention Art. 12(10)(a))"
)
IMPORTER_REPLIES = "the importing country's competent authority answers (AP11; 1988 Convention Art. 12(10)(a))"
# CND resolution 49/3 (annual legitimate requirements), AP11: a country's authority assesses the needs of
# importers in its own territory.
OWN_IMPORTERS = "an authority declares the legitimate needs of importers in its own country (AP11; CND res. 49/3)"


def resolve_substance(term: str) -> SubstanceRef:
    substance = catalogue().resolve(term)
    if substance is None:
        raise DomainRuleViolation(
            f"substance {term!r} is not in Table I or II of the 1988 Convention (give its name, CAS number or code)"
        )
    return substance


class NotificationStatus(StrEnum):
    AWAITING_REPLY = "awaiting_reply"
    NO_OBJECTION = "no_objection"
    OBJECTION = "objection"


class PreExportNotification(Aggregate):
    RECORD_TYPE = "pre_export_notification"

    pen_reference: str
    exporting_country: str
    importing_country: str
    exporter: Company
    importer: Company
    substance: SubstanceRef
    quantity_kg: float
    route: ShipmentRoute
    shipment_date: date
    status: NotificationStatus = NotificationStatus.AWAITING_REPLY
    reply_grounds: str | None = None
    notified_by: str = ""  # the agency that notified it: the only one that may send it again

    @staticmethod
    def id_for(exporting_country: str, pen_reference: str) -> str:
        """One notification per exporting country and PEN reference: a reply names both.

        The reference is the exporting country's (PEN Online numbers each country's notifications), so
        the id holds the country, not the agency; a second agency using it is refused (:meth:`resent_by`).
        """
        return derived_id("PEN", exporting_country, pen_reference)

    @property
    def need_id(self) -> str:
        """The legitimate need this order is measured against: its importer's, for its substance and year."""
        return LegitimateNeed.id_for(self.importer, self.substance.code, self.shipment_date.year)

    def lookup_keys(self) -> dict[str, Any]:
        return {"substance_code": self.substance.code, "need_id": self.need_id}

    @classmethod
    def submit(
        cls,
        pen: PreExportNotificationSubmitted,
        markings: Markings,
        received_at: datetime,
        by: str = "",
        sender: Sender | None = None,
    ) -> PreExportNotification:
        """Register a notification and start the importing country's reply clock (AP11)."""
        if pen.exporting_country == pen.importing_country:
            raise DomainRuleViolation("exporting and importing country must differ")
        require_kind(sender, {AgencyKind.CHEMICAL_AUTHORITY}, COMPETENT_AUTHORITY, EXPORTER_NOTIFIES)
        require_own_country(sender, pen.exporting_country, "exporting_country", EXPORTER_NOTIFIES)
        substance = resolve_substance(pen.substance)
        notification = cls(
            notified_by=by,
            id=cls.id_for(pen.exporting_country, pen.pen_reference),
            markings=markings,
            pen_reference=pen.pen_reference,
            exporting_country=pen.exporting_country,
            importing_country=pen.importing_country,
            exporter=pen.exporter,
            importer=pen.importer,
            substance=substance,
            quantity_kg=to_kilograms(pen.quantity, pen.unit),
            route=pen.route,
            shipment_date=pen.shipment_date,
        )
        due = pen.reply_due_by or received_at + DEFAULT_REPLY_PERIOD
        if due <= received_at:
            raise DomainRuleViolation("reply_due_by must be in the future")
        notification._set_deadline(
            Deadline.starting(
                REPLY_DEADLINE,
                f"{pen.importing_country} reply to pre-export notification {pen.pen_reference}",
                received_at,
                due - received_at,
            )
        )
        notification._registered()
        return notification

    def _registered(self) -> None:
        deadline = self.deadline(REPLY_DEADLINE)
        assert deadline is not None
        self._raise(self.fact(PreExportNotificationRegistered, notification_id=self.id, reply_due_at=deadline.due_at))

    def resent_by(self, agency: str) -> None:
        """The same notification sent again: only by the agency that notified it (a redelivery, a resend).

        Another agency of the exporting country using its reference is refused, never silently dropped.
        """
        if agency != self.notified_by:
            raise DomainRuleViolation(
                f"pre-export notification {self.pen_reference} of {self.exporting_country} was notified by "
                f"{self.notified_by or 'another agency'}, not {agency}",
                public=f"pre-export notification reference {self.pen_reference} of {self.exporting_country} is "
                "already another agency's: a reference names one notification of the exporting country",
            )

    def record_reply(self, decision: ReplyDecision, grounds: str | None, sender: Sender | None = None) -> None:
        """The importing country's competent authority answers; a notification is answered once (AP11).

        To any other agency the notification is refused as not known.
        """
        if sender is not None and not (
            sender.kind == AgencyKind.CHEMICAL_AUTHORITY.value and sender.country == self.importing_country
        ):
            raise NotYours(
                f"only {self.importing_country}'s competent authority answers notification {self.pen_reference}, "
                f"not {sender.agency} ({sender.kind}, {sender.country}): {IMPORTER_REPLIES}"
            )
        if self.status is not NotificationStatus.AWAITING_REPLY:
            raise DomainRuleViolation(
                f"notification {self.pen_reference} was already answered ({self.status})",
                public=f"notification {self.pen_reference} was already answered",
            )
        if decision is ReplyDecision.OBJECTION and not grounds:
            raise DomainRuleViolation("an objection must give its grounds")
        self.status = NotificationStatus(decision.value)
        self.reply_grounds = grounds
        self._close_deadline(REPLY_DEADLINE)
        self._raise(
            self.fact(PreExportNotificationReplyRecorded, notification_id=self.id, decision=decision, grounds=grounds)
        )

    @property
    def is_open(self) -> bool:
        """A notified shipment that may still be moving: not refused by the importing country."""
        return self.status is not NotificationStatus.OBJECTION

    def countries_on_route(self) -> set[str]:
        return {self.exporting_country, self.importing_country, *self.route.transit_countries}


class LegitimateNeed(Aggregate):
    RECORD_TYPE = "legitimate_need"

    importer: Company
    substance: SubstanceRef
    year: int
    annual_quantity_kg: float
    declared_by: str = ""  # the agency that declared it: the only one that may send it again

    @staticmethod
    def id_for(importer: Company, substance_code: str, year: int) -> str:
        return derived_id("LN", importer.country, company_key(importer.name), substance_code, year)

    @classmethod
    def declare(
        cls, need: LegitimateNeedDeclared, markings: Markings, by: str = "", sender: Sender | None = None
    ) -> LegitimateNeed:
        """One need per importer, substance and year (what notifications are measured against)."""
        require_kind(sender, {AgencyKind.CHEMICAL_AUTHORITY}, COMPETENT_AUTHORITY, OWN_IMPORTERS)
        require_own_country(sender, need.importer.country, "importer.country", OWN_IMPORTERS)
        substance = resolve_substance(need.substance)
        record = cls(
            declared_by=by,
            id=cls.id_for(need.importer, substance.code, need.year),
            markings=markings,
            importer=need.importer,
            substance=substance,
            year=need.year,
            annual_quantity_kg=to_kilograms(need.annual_quantity, need.unit),
        )
        record._raise(record.fact(LegitimateNeedRecorded, legitimate_need_id=record.id))
        return record

    def resent_by(self, agency: str) -> None:
        """The same need declared again: only by the agency that declared it; another is refused."""
        if agency != self.declared_by:
            raise DomainRuleViolation(
                f"the legitimate need {self.id} was declared by {self.declared_by or 'another agency'}, not {agency}",
                public=f"the legitimate need of this importer for {self.substance.code} in {self.year} is "
                "already another agency's declaration",
            )


class ChemicalIncident(Aggregate):
    RECORD_TYPE = "chemical_incident"

    incident_reference: str
    kind: IncidentKind
    substance: SubstanceRef
    quantity_kg: float
    place: Place
    occurred_on: date
    companies: list[str]
    pen_reference: str | None = None
    seizure_id: str | None = None

    def lookup_keys(self) -> dict[str, Any]:
        return {"substance_code": self.substance.code}

    @classmethod
    def report(cls, report: ChemicalIncidentReported, source: str, markings: Markings) -> ChemicalIncident:
        incident = cls(
            id=derived_id("CI", source, report.incident_reference),
            markings=markings,
            incident_reference=report.incident_reference,
            kind=report.kind,
            substance=resolve_substance(report.substance),
            quantity_kg=to_kilograms(report.quantity, report.unit),
            place=report.place,
            occurred_on=report.occurred_on,
            companies=report.companies,
            pen_reference=report.pen_reference,
        )
        incident._recorded()
        return incident

    @classmethod
    def from_seizure(cls, seizure: SeizureRecorded, item: ChemicalItem, markings: Markings) -> ChemicalIncident | None:
        """A precursor found in an interdiction seizure is a chemical incident (None if not controlled)."""
        substance = catalogue().resolve(item.substance)
        if substance is None:
            return None
        incident = cls(
            id=derived_id("CI", seizure.seizure_id, substance.code),
            markings=markings,
            incident_reference=seizure.report_reference,
            kind=IncidentKind.SEIZURE,
            substance=substance,
            quantity_kg=to_kilograms(item.quantity, item.unit),
            place=seizure.place,
            occurred_on=seizure.seized_at.date(),
            companies=[],
            seizure_id=seizure.seizure_id,
        )
        incident._recorded()
        return incident

    def _recorded(self) -> None:
        self._raise(self.fact(ChemicalIncidentRecorded, incident_id=self.id))


def diversion_evidence(incident: ChemicalIncident, notification: PreExportNotification) -> list[str]:
    """Why an incident concerns a notified shipment; empty when it does not (AP11).

    The substance must be the same, and at least one of: the PEN reference, a named company (exporter or
    importer), or the incident's country on the notified route within the shipment window.
    """
    if incident.substance.code != notification.substance.code or not notification.is_open:
        return []
    reasons: list[str] = []
    if incident.pen_reference and incident.pen_reference == notification.pen_reference:
        reasons.append("same pre-export notification reference")
    keys = {company_key(c) for c in incident.companies}
    for role, company in (("exporter", notification.exporter), ("importer", notification.importer)):
        if company_key(company.name) in keys:
            reasons.append(f"{role} {company.name} named in the incident")
    near = (
        abs(
            datetime.combine(incident.occurred_on, time(), UTC)
            - datetime.combine(notification.shipment_date, time(), UTC)
        )
        <= SHIPMENT_WINDOW
    )
    if near and incident.place.country in notification.countries_on_route():
        reasons.append(
            f"{incident.place.country} is on the notified route within {SHIPMENT_WINDOW.days} days of the shipment date"
        )
    return reasons


class DiversionAlert(Aggregate):
    RECORD_TYPE = "diversion_alert"

    reason: str
    notification_id: str
    incident_id: str | None = None
    evidence: dict[str, object]

    @classmethod
    def for_match(cls, incident: ChemicalIncident, notification: PreExportNotification) -> DiversionAlert | None:
        """The alert when the incident concerns the notified shipment, else None (AP11).

        The same evidence and the same alert id whichever of the two records arrived first.
        """
        reasons = diversion_evidence(incident, notification)
        return cls.for_incident(incident, notification, reasons) if reasons else None

    @classmethod
    def for_incident(
        cls, incident: ChemicalIncident, notification: PreExportNotification, reasons: list[str]
    ) -> DiversionAlert:
        """An incident matching an open notification: the alert carries both records' markings."""
        alert = cls(
            id=derived_id("DA", notification.id, incident.id),
            markings=strictest([incident.markings, notification.markings]),
            reason="incident matches an open pre-export notification",
            notification_id=notification.id,
            incident_id=incident.id,
            evidence={
                "matched_on": reasons,
                "incident_reference": incident.incident_reference,
                "incident_kind": incident.kind.value,
                "incident_quantity_kg": incident.quantity_kg,
                "incident_place": incident.place.description,
                "incident_country": incident.place.country,
                "notified_quantity_kg": notification.quantity_kg,
                "shipment_date": notification.shipment_date.isoformat(),
            },
        )
        alert._raised(notification)
        return alert

    @classmethod
    def for_excessive_order(cls, notification: PreExportNotification, need: LegitimateNeed) -> DiversionAlert | None:
        """An order far above the importer's declared legitimate need (AP11)."""
        if notification.quantity_kg <= EXCESSIVE_ORDER_FACTOR * need.annual_quantity_kg:
            return None
        alert = cls(
            id=derived_id("DA", notification.id, "excessive-order"),
            markings=strictest([notification.markings, need.markings]),
            reason=f"order exceeds {EXCESSIVE_ORDER_FACTOR:g} times the importer's declared annual legitimate need",
            notification_id=notification.id,
            evidence={
                "notified_quantity_kg": notification.quantity_kg,
                "year": need.year,
                "declared_annual_need_kg": need.annual_quantity_kg,
                "ratio": round(notification.quantity_kg / need.annual_quantity_kg, 2),
            },
        )
        alert._raised(notification)
        return alert

    def _raised(self, notification: PreExportNotification) -> None:
        self._raise(
            self.fact(
                DiversionAlertRaised,
                alert_id=self.id,
                exporter=notification.exporter,
                importer=notification.importer,
                substance=notification.substance,
                pen_reference=notification.pen_reference,
            )
        )
