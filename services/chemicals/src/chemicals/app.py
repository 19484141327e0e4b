"""Chemicals service entry point: ``alliance-chemicals``."""

from __future__ import annotations

from alliance.contracts.chemicals import (
    ChemicalIncidentRecorded,
    DiversionAlertRaised,
    LegitimateNeedRecorded,
    PreExportNotificationRegistered,
    PreExportNotificationReplyRecorded,
)
from alliance.contracts.topics import CHEMICALS_EVENTS
from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.runtime.service import ServiceSpec, entry_point
from chemicals import __version__, handlers
from chemicals.domain import PreExportNotification
from chemicals.store import COLLECTIONS, INCIDENTS, NOTIFICATIONS

SPEC = ServiceSpec(
    name="chemicals",
    version=__version__,
    default_http_port=8103,
    events_topic=CHEMICALS_EVENTS,
    publishes={
        CHEMICALS_EVENTS: [
            PreExportNotificationRegistered,
            PreExportNotificationReplyRecorded,
            LegitimateNeedRecorded,
            ChemicalIncidentRecorded,
            DiversionAlertRaised,
            DeadlineApproaching,
            DeadlineBreached,
        ]
    },
    collections=COLLECTIONS,
    indexes={NOTIFICATIONS: ["substance_code", "need_id"], INCIDENTS: ["substance_code"]},
    deadlines={NOTIFICATIONS: PreExportNotification},
)


main = entry_point(SPEC, handlers.register)

if __name__ == "__main__":
    main()
