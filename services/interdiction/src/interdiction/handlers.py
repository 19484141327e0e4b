"""Thin subscribers: turn accepted events into domain calls and store the outcome."""

from __future__ import annotations

import structlog

from alliance.contracts.interdiction import (
    RouteReportSubmitted,
    SeizureAmended,
    SeizureReported,
    SeizureStatisticsRequested,
)
from alliance.contracts.markings import strictest
from alliance.contracts.topics import INTERDICTION_INTAKE
from alliance.domain.ids import derived_id
from alliance.runtime.messaging import Received
from alliance.runtime.service import Service
from interdiction.domain import RouteReport, Seizure, SeizureStatistics, quarter_bounds, seizure_id
from interdiction.store import ROUTE_REPORTS, SEIZURES, STATISTICS

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    intake = service.consumer(INTERDICTION_INTAKE, "intake", intake=True)
    seizures = service.store(SEIZURES)
    route_reports = service.store(ROUTE_REPORTS)
    statistics = service.store(STATISTICS)

    @intake.on(SeizureReported)
    async def seizure_reported(received: Received[SeizureReported]) -> None:
        seizure = Seizure.record(
            received.data,
            reporting_source=received.event.source,
            markings=strictest([received.event.markings]),
            recorded_at=received.occurred_at,
        )
        created = await service.save(seizures, seizure)
        log.info(
            "seizure recorded" if created else "seizure already recorded",
            seizure_id=seizure.id,
            firearms=len(seizure.contents.firearms),
            tlp=seizure.markings.tlp,
        )

    @intake.on(SeizureAmended)
    async def seizure_amended(received: Received[SeizureAmended]) -> None:
        record_id = seizure_id(received.event.source, received.data.report_reference)
        await service.apply(
            seizures,
            Seizure,
            record_id,
            received,
            lambda s: s.amend(received.data, source=received.event.source, markings=received.event.markings),
            missing=f"no seizure {received.data.report_reference} reported by {received.event.source}",
        )

    @intake.on(RouteReportSubmitted)
    async def route_report(received: Received[RouteReportSubmitted]) -> None:
        await service.save(
            route_reports, RouteReport.submit(received.data, received.event.source, received.event.markings)
        )

    @intake.on(SeizureStatisticsRequested)
    async def statistics_requested(received: Received[SeizureStatisticsRequested]) -> None:
        ask = received.data
        start, end = quarter_bounds(ask.year, ask.quarter)
        docs = await seizures.find(
            {"contents.seized_at": {"$gte": start, "$lt": end}, "contents.place.country": {"$in": ask.countries}}
        )
        report = SeizureStatistics.compile(
            derived_id("ST", received.cause),
            [Seizure.from_document(d) for d in docs],
            received.event.markings,
            ask.year,
            ask.quarter,
            ask.countries,
            ask.language,
        )
        await service.save(statistics, report)
