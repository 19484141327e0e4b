"""Interdiction's own database: one repository per aggregate, with the queries the handlers need by name."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from alliance.application.repository import Repository
from interdiction.domain import RouteReport, SanitisedSeizureQuarter, Seizure, SeizureStatistics


class Seizures(Repository[Seizure]):
    kind = Seizure
    collection = "seizures"
    indexes = ("seized_month",)

    async def seized_between(self, start: datetime, end: datetime) -> list[Seizure]:
        """Seizures made from ``start`` up to, not including, ``end``: looked up by month, kept by the instant."""
        last = end - timedelta(microseconds=1)
        found = await self.in_months("seized_month", _utc_day(start), _utc_day(last))
        return [s for s in found if start <= s.contents.seized_at < end]


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class RouteReports(Repository[RouteReport]):
    kind = RouteReport
    collection = "route_reports"


class SeizureStatisticsReports(Repository[SeizureStatistics]):
    kind = SeizureStatistics
    collection = "seizure_statistics"


class SanitisedQuarters(Repository[SanitisedSeizureQuarter]):
    """The one sanitised release of each quarter, by its id (a quarter is fixed once, never changed)."""

    kind = SanitisedSeizureQuarter
    collection = "sanitised_quarters"
