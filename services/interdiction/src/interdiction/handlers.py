"""Interdiction handlers: agencies report and amend seizures, share route and method intelligence, and ask
for the quarterly statistics exchange (AP2, AP10, AP14).

Each handler is a plain function of the received event and :class:`InterdictionDeps`; ``ROUTES`` says
which topic and event type reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from alliance.application.handling import Received, RegistryView, Route
from alliance.contracts.disclosure_control import disclosure_rules
from alliance.contracts.interdiction import (
    RouteReportSubmitted,
    SeizureAmended,
    SeizureReported,
    SeizureStatisticsRequested,
)
from alliance.contracts.topics import INTERDICTION_INTAKE
from alliance.domain.ids import derived_id
from alliance.domain.periods import Quarter
from interdiction.domain import RouteReport, SanitisedSeizureQuarter, Seizure, SeizureStatistics, seizure_id
from interdiction.store import RouteReports, SanitisedQuarters, Seizures, SeizureStatisticsReports

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class InterdictionDeps:
    seizures: Seizures
    route_reports: RouteReports
    statistics: SeizureStatisticsReports
    sanitised_quarters: SanitisedQuarters
    registry: RegistryView


async def seizure_reported(received: Received[SeizureReported], deps: InterdictionDeps) -> None:
    seizure = Seizure.record(
        received.data,
        reporting_source=received.sending_agency,
        markings=received.event.markings,
        recorded_at=received.occurred_at,
        sender=received.sender,
    )
    # One seizure per agency case number: a resend adds nothing, but stricter markings tighten the stored one.
    stored = await deps.seizures.add(seizure)
    log.info(
        "seizure recorded" if stored is seizure else "seizure already recorded",
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
    """Each request gets its own answer (one per request: a redelivery adds nothing). A sanitised answer
    is the quarter's one release, fixed by the first sanitised request after the quarter closed."""
    ask = received.data
    quarter = Quarter.parse(ask.quarter_id)
    answer_id = derived_id("ST", received.cause)
    if not ask.sanitised:
        seizures = await deps.seizures.seized_between(*quarter.bounds())
        report = SeizureStatistics.compile(
            answer_id, seizures, received.event.markings, quarter, ask.countries, ask.language
        )
    else:
        release = await sanitised_release(quarter, received, deps)
        report = SeizureStatistics.sanitised(answer_id, release, received.event.markings, ask.countries, ask.language)
    await deps.statistics.add(report)


async def sanitised_release(
    quarter: Quarter, received: Received[SeizureStatisticsRequested], deps: InterdictionDeps
) -> SanitisedSeizureQuarter:
    """The quarter's stored release, or the one fixed now from the stored seizures if there is none yet
    (of two requests fixing it at once, the first stored wins and both answer with it)."""

    async def fix() -> SanitisedSeizureQuarter:
        return SanitisedSeizureQuarter.fix(
            quarter,
            await deps.seizures.seized_between(*quarter.bounds()),
            deps.registry.current(),
            received.event.markings,
            received.occurred_at,
            disclosure_rules(),
        )

    return await deps.sanitised_quarters.stored_or_fixed(SanitisedSeizureQuarter.id_of(quarter), fix)


ROUTES: list[Route[InterdictionDeps]] = [
    Route.intake_of(INTERDICTION_INTAKE, SeizureReported, seizure_reported),
    Route.intake_of(INTERDICTION_INTAKE, SeizureAmended, seizure_amended),
    Route.intake_of(INTERDICTION_INTAKE, RouteReportSubmitted, route_report_submitted),
    Route.intake_of(INTERDICTION_INTAKE, SeizureStatisticsRequested, statistics_requested),
]
