"""Firearms' own database: one repository per aggregate, with the queries the handlers need by name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from alliance.application.repository import Repository
from firearms.domain import (
    ExportLicence,
    Purchaser,
    RestorationRequest,
    SanitisedTraceQuarter,
    TraceRequest,
    TraceStatisticsReport,
)


class TraceRequests(Repository[TraceRequest]):
    kind = TraceRequest
    collection = "trace_requests"
    indexes = ("serial_key", "recovery_month")
    deadlines = True  # the tracing centre's reply period

    async def of_guns(self, serial_keys: Iterable[str]) -> list[TraceRequest]:
        return await self.where_any("serial_key", serial_keys)

    async def recovered_between(self, start: date, end: date) -> list[TraceRequest]:
        found = await self.in_months("recovery_month", start, end)
        return [t for t in found if start <= t.recovery_date <= end]


class RestorationRequests(Repository[RestorationRequest]):
    kind = RestorationRequest
    collection = "restoration_requests"
    indexes = ("recovery_month",)

    async def recovered_between(self, start: date, end: date) -> list[RestorationRequest]:
        found = await self.in_months("recovery_month", start, end)
        return [r for r in found if start <= r.recovery_date <= end]


class ExportLicences(Repository[ExportLicence]):
    kind = ExportLicence
    collection = "export_licences"
    indexes = ("serial_keys",)

    async def covering(self, serial_key: str) -> list[ExportLicence]:
        """Licences that list this gun (a licence lists every serial it covers)."""
        return await self.where("serial_keys", serial_key)


class Purchasers(Repository[Purchaser]):
    kind = Purchaser
    collection = "purchasers"


class TraceStatisticsReports(Repository[TraceStatisticsReport]):
    kind = TraceStatisticsReport
    collection = "trace_statistics"


class SanitisedQuarters(Repository[SanitisedTraceQuarter]):
    """The one sanitised release of each quarter, by its id (a quarter is fixed once, never changed)."""

    kind = SanitisedTraceQuarter
    collection = "sanitised_quarters"
