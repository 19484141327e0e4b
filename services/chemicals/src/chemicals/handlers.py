"""Chemicals handlers: pre-export notifications and their replies, legitimate needs, incidents, and
precursors found in interdiction's seizures; diversion alerts follow from the stored records (AP11).

Each handler is a plain function of the received event and :class:`ChemicalsDeps`; ``ROUTES`` says
which topic and event type reach it. Every match runs from both sides and on every delivery, so a
redelivery after a failure between two writes completes the work (alert ids are deterministic).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import structlog

from alliance.application.handling import Received, Route
from alliance.contracts.chemicals import (
    ChemicalIncidentReported,
    LegitimateNeedDeclared,
    PreExportNotificationReplied,
    PreExportNotificationSubmitted,
)
from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded
from alliance.contracts.topics import CHEMICALS_INTAKE, INTERDICTION_EVENTS
from chemicals.domain import ChemicalIncident, DiversionAlert, LegitimateNeed, PreExportNotification
from chemicals.store import ChemicalIncidents, DiversionAlerts, LegitimateNeeds, PreExportNotifications

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ChemicalsDeps:
    notifications: PreExportNotifications
    needs: LegitimateNeeds
    incidents: ChemicalIncidents
    alerts: DiversionAlerts


async def raise_alert(alert: DiversionAlert | None, deps: ChemicalsDeps) -> None:
    if alert is not None and await deps.alerts.add(alert) is alert:  # logged once, when stored
        log.warning(
            "diversion alert",
            alert_id=alert.id,
            notification_id=alert.notification_id,
            incident_id=alert.incident_id,
        )


async def notification_submitted(received: Received[PreExportNotificationSubmitted], deps: ChemicalsDeps) -> None:
    submitted = PreExportNotification.submit(
        received.data, received.event.markings, received.occurred_at, received.sending_agency, received.sender
    )
    # Matched as it stands (a redelivery may find it answered): incidents reported before it, and the
    # importer's need declared before it. Another agency's reference is refused, not dropped.
    resend = functools.partial(PreExportNotification.resent_by, agency=received.sending_agency)
    notification = await deps.notifications.add(submitted, check=resend)
    for incident in await deps.incidents.involving(notification.substance.code):
        await raise_alert(DiversionAlert.for_match(incident, notification), deps)
    need = await deps.needs.declared_for(notification)
    if need is not None:
        await raise_alert(DiversionAlert.for_excessive_order(notification, need), deps)


async def notification_replied(received: Received[PreExportNotificationReplied], deps: ChemicalsDeps) -> None:
    reply = received.data
    await deps.notifications.apply(
        PreExportNotification.id_for(reply.exporting_country, reply.pen_reference),
        received,
        lambda n: n.record_reply(reply.decision, reply.grounds, received.sender),
        missing=f"no pre-export notification {reply.pen_reference} from {reply.exporting_country}",
    )


async def need_declared(received: Received[LegitimateNeedDeclared], deps: ChemicalsDeps) -> None:
    declared = LegitimateNeed.declare(received.data, received.event.markings, received.sending_agency, received.sender)
    resend = functools.partial(LegitimateNeed.resent_by, agency=received.sending_agency)
    need = await deps.needs.add(declared, check=resend)  # another agency's declaration is refused, not dropped
    for notification in await deps.notifications.measured_against(need):  # orders notified before the need
        await raise_alert(DiversionAlert.for_excessive_order(notification, need), deps)


async def record_incident(recorded: ChemicalIncident, deps: ChemicalsDeps) -> None:
    """Store the incident (or tighten the stored one: a stricter correction of its seizure) and match it, as
    stored, against open notifications; the alerts it is part of take its markings again."""
    incident = await deps.incidents.add(recorded)
    for notification in await deps.notifications.open_for(incident.substance.code):
        await raise_alert(DiversionAlert.for_match(incident, notification), deps)


async def incident_reported(received: Received[ChemicalIncidentReported], deps: ChemicalsDeps) -> None:
    await record_incident(
        ChemicalIncident.report(received.data, received.sending_agency, received.event.markings), deps
    )


async def seizure_with_precursors(received: Received[SeizureRecorded | SeizureCorrected], deps: ChemicalsDeps) -> None:
    """A scheduled precursor in a seizure is an incident; ids are deterministic, so a correction only adds
    incidents for substances not seen before."""
    for item in received.data.chemicals:
        incident = ChemicalIncident.from_seizure(received.data, item, received.event.markings)
        if incident is None:
            log.info("seized chemical is not a scheduled precursor", substance=item.substance)
            continue
        await record_incident(incident, deps)


ROUTES: list[Route[ChemicalsDeps]] = [
    Route.intake_of(CHEMICALS_INTAKE, PreExportNotificationSubmitted, notification_submitted),
    Route.intake_of(CHEMICALS_INTAKE, PreExportNotificationReplied, notification_replied),
    Route.intake_of(CHEMICALS_INTAKE, LegitimateNeedDeclared, need_declared),
    Route.intake_of(CHEMICALS_INTAKE, ChemicalIncidentReported, incident_reported),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureRecorded, seizure_with_precursors),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureCorrected, seizure_with_precursors),
]
