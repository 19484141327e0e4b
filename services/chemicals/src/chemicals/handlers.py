"""Thin subscribers: notifications, replies, legitimate needs, incidents, and seizures with precursors."""

from __future__ import annotations

import structlog

from alliance.contracts.chemicals import (
    ChemicalIncidentReported,
    LegitimateNeedDeclared,
    PreExportNotificationReplied,
    PreExportNotificationSubmitted,
)
from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded
from alliance.contracts.topics import CHEMICALS_INTAKE, INTERDICTION_EVENTS
from alliance.domain.ids import derived_id
from alliance.runtime.messaging import Received
from alliance.runtime.service import Service
from chemicals.domain import (
    ChemicalIncident,
    DiversionAlert,
    LegitimateNeed,
    PreExportNotification,
    diversion_evidence,
)
from chemicals.store import ALERTS, INCIDENTS, LEGITIMATE_NEEDS, NOTIFICATIONS

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    intake = service.consumer(CHEMICALS_INTAKE, "intake", intake=True)
    seizures = service.consumer(INTERDICTION_EVENTS, "seizures", intake=False)
    notifications = service.store(NOTIFICATIONS)
    needs = service.store(LEGITIMATE_NEEDS)
    incidents = service.store(INCIDENTS)
    alerts = service.store(ALERTS)

    @intake.on(PreExportNotificationSubmitted)
    async def notification_submitted(received: Received[PreExportNotificationSubmitted]) -> None:
        notification = PreExportNotification.submit(received.data, received.event.markings, received.occurred_at)
        await service.save(notifications, notification)
        # AP11 from both sides: incidents reported before this notification are matched now.
        stored = await service.load(notifications, PreExportNotification, notification.id) or notification
        for doc in await incidents.find({"substance_code": stored.substance.code}):
            await raise_if_diverted(ChemicalIncident.from_document(doc), stored)
        need = await service.load(
            needs,
            LegitimateNeed,
            LegitimateNeed.id_for(notification.importer, notification.substance.code, notification.shipment_date.year),
        )
        if need is not None:
            await raise_if_excessive(stored, need)

    async def raise_if_excessive(notification: PreExportNotification, need: LegitimateNeed) -> None:
        if (alert := DiversionAlert.for_excessive_order(notification, need)) and await service.save(alerts, alert):
            log.warning("diversion alert: excessive order", alert_id=alert.id, notification_id=notification.id)

    @intake.on(PreExportNotificationReplied)
    async def notification_replied(received: Received[PreExportNotificationReplied]) -> None:
        reply = received.data
        notification_id = derived_id("PEN", reply.exporting_country, reply.pen_reference)

        await service.apply(
            notifications,
            PreExportNotification,
            notification_id,
            received,
            lambda n: n.record_reply(reply.decision, reply.grounds),
            missing=f"no pre-export notification {reply.pen_reference} from {reply.exporting_country}",
        )

    @intake.on(LegitimateNeedDeclared)
    async def need_declared(received: Received[LegitimateNeedDeclared]) -> None:
        need = LegitimateNeed.declare(received.data, received.event.markings)
        await service.save(needs, need)
        # Notifications filed before the need was declared are checked against it now (same alert id).
        stored = await service.load(needs, LegitimateNeed, need.id) or need
        for doc in await notifications.find({"need_id": stored.id}):
            await raise_if_excessive(PreExportNotification.from_document(doc), stored)

    @intake.on(ChemicalIncidentReported)
    async def incident_reported(received: Received[ChemicalIncidentReported]) -> None:
        incident = ChemicalIncident.report(received.data, received.event.source, received.event.markings)
        await service.save(incidents, incident)
        await match_open_notifications(incident)

    async def seizure_with_precursors(received: Received[SeizureRecorded]) -> None:
        for item in received.data.chemicals:
            incident = ChemicalIncident.from_seizure(received.data, item, received.event.markings)
            if incident is None:
                log.info("seized chemical is not a scheduled precursor", substance=item.substance)
                continue
            await service.save(incidents, incident)
            await match_open_notifications(incident)

    seizures.on(SeizureRecorded)(seizure_with_precursors)
    seizures.on(SeizureCorrected)(seizure_with_precursors)  # ids are deterministic: only new items add work

    async def match_open_notifications(incident: ChemicalIncident) -> None:
        for doc in await notifications.find({"substance_code": incident.substance.code}):
            await raise_if_diverted(incident, PreExportNotification.from_document(doc))

    async def raise_if_diverted(incident: ChemicalIncident, notification: PreExportNotification) -> None:
        """The same evidence and the same alert id whichever of the two arrived first (AP11)."""
        reasons = diversion_evidence(incident, notification)
        if reasons:
            alert = DiversionAlert.for_incident(incident, notification, reasons)
            if await service.save(alerts, alert):
                log.warning(
                    "diversion alert",
                    alert_id=alert.id,
                    notification_id=notification.id,
                    incident_id=incident.id,
                    matched_on=reasons,
                )
