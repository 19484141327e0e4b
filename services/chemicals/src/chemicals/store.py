"""Chemicals' own database: one repository per aggregate, with the queries the handlers need by name."""

from __future__ import annotations

from alliance.application.repository import Repository
from chemicals.domain import ChemicalIncident, DiversionAlert, LegitimateNeed, PreExportNotification


class PreExportNotifications(Repository[PreExportNotification]):
    kind = PreExportNotification
    collection = "pre_export_notifications"
    indexes = ("substance_code", "need_id")
    deadlines = True  # the importing country's reply period (AP11)

    async def open_for(self, substance_code: str) -> list[PreExportNotification]:
        """Notified shipments of this substance that may still be moving (not refused by the importer)."""
        return [n for n in await self.where("substance_code", substance_code) if n.is_open]

    async def measured_against(self, need: LegitimateNeed) -> list[PreExportNotification]:
        """Orders by the need's importer, of its substance, shipping in its year."""
        return await self.where("need_id", need.id)


class LegitimateNeeds(Repository[LegitimateNeed]):
    kind = LegitimateNeed
    collection = "legitimate_needs"

    async def declared_for(self, notification: PreExportNotification) -> LegitimateNeed | None:
        """The importer's declared annual need for the notified substance in the shipment's year."""
        return await self.get(notification.need_id)


class ChemicalIncidents(Repository[ChemicalIncident]):
    kind = ChemicalIncident
    collection = "incidents"
    indexes = ("substance_code",)

    async def involving(self, substance_code: str) -> list[ChemicalIncident]:
        return await self.where("substance_code", substance_code)


class DiversionAlerts(Repository[DiversionAlert]):
    kind = DiversionAlert
    collection = "diversion_alerts"
