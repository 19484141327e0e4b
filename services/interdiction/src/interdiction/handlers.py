"""Interdiction handlers: agencies report and amend seizures, share route and method intelligence, and ask
for the quarterly statistics exchange (AP2, AP10, AP14).

Each handler is a plain function of the received event and :class:`InterdictionDeps`; ``ROUTES`` says
which topic and event type reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from alliance.application.handling import Received, Route
from alliance.contracts.interdiction import (
    RouteReportSubmitted,
    SeizureAmended,
    SeizureReported,
    SeizureStatisticsRequested,
)
from alliance.contracts.topics import INTERDICTION_INTAKE
from alliance.domain.ids import derived_id
from interdiction.domain import RouteReport, Seizure, SeizureStatistics, quarter_bounds, seizure_id
from interdiction.store import RouteReports, Seizures, SeizureStatisticsReports

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class InterdictionDeps:
    seizures: Seizures
    route_reports: RouteReports
    statistics: SeizureStatisticsReports


async def seizure_reported(received: Received[SeizureReported], deps: InterdictionDeps) -> None:
    seizure = Seizure.record(
        received.data,
        reporting_source=received.sending_agency,
        markings=received.event.markings,
        recorded_at=received.occurred_at,
        sender=received.sender,
    )
    created = await deps.seizures.add(seizure)  # one seizure per agency case number: a resend adds nothing
    log.info(
        "seizure recorded" if created else "seizure already recorded",
        seizure_id=seizure.id,
        firearms=len(seizure.contents.firearms),
        tlp=seizure.markings.tlp,
    )


async def seizure_amended(received: Received[SeizureAmended], deps: InterdictionDeps) -> None:
    amendment, source = received.data, received.sending_agency
    await deps.seizures.apply(
        seizure_id(source, amendment.report_reference),
        received,
        lambda s: s.amend(amendment, source=source, markings=received.event.markings, sender=received.sender),
        missing=f"no seizure {amendment.report_reference} reported by {source}",
    )


async def route_report_submitted(received: Received[RouteReportSubmitted], deps: InterdictionDeps) -> None:
    await deps.route_reports.add(RouteReport.submit(received.data, received.sending_agency, received.event.markings))


async def statistics_requested(received: Received[SeizureStatisticsRequested], deps: InterdictionDeps) -> None:
    ask = received.data
    start, end = quarter_bounds(ask.year, ask.quarter)
    report = SeizureStatistics.compile(
        derived_id("ST", received.cause),
        await deps.seizures.seized_between(start, end),
        received.event.markings,
        ask.year,
        ask.quarter,
        ask.countries,
        ask.language,
        ask.sanitised,
    )
    await deps.statistics.add(report)


ROUTES: list[Route[InterdictionDeps]] = [
    Route.intake_of(INTERDICTION_INTAKE, SeizureReported, seizure_reported),
    Route.intake_of(INTERDICTION_INTAKE, SeizureAmended, seizure_amended),
    Route.intake_of(INTERDICTION_INTAKE, RouteReportSubmitted, route_report_submitted),
    Route.intake_of(INTERDICTION_INTAKE, SeizureStatisticsRequested, statistics_requested),
]
