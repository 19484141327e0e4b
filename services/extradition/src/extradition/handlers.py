"""Extradition handlers: fugitives and requests from central authorities; people detained at seizures and
purchasers of traced guns, matched against fugitives from both sides (AP5, AP16).

Each handler is a plain function of the received event and :class:`ExtraditionDeps`; ``ROUTES`` says
which topic and event type reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from alliance.application.handling import Received, Route
from alliance.application.sightings import TracedPurchasers
from alliance.contracts.extradition import (
    ExtraditionStepReported,
    FugitiveRegistered,
    MlatRequestReceived,
    MlatStatusReported,
    PersonMatchReviewed,
    StatusReportRequested,
)
from alliance.contracts.firearms import TraceCompleted
from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded
from alliance.contracts.topics import EXTRADITION_INTAKE, FIREARMS_EVENTS, INTERDICTION_EVENTS
from alliance.domain.ids import derived_id
from alliance.domain.sightings import TracedPurchaser
from extradition.domain import DetainedPerson, Fugitive, MatchStatus, MlatRequest, PersonMatch, StatusReport
from extradition.store import (
    DetainedPersons,
    ExtraditionRequests,
    Fugitives,
    MlatRequests,
    PersonMatches,
    StatusReports,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ExtraditionDeps:
    fugitives: Fugitives
    detained: DetainedPersons
    purchasers: TracedPurchasers
    matches: PersonMatches
    extraditions: ExtraditionRequests
    mlats: MlatRequests
    reports: StatusReports


async def locate(fugitive: Fugitive, seen: DetainedPerson, deps: ExtraditionDeps) -> None:
    """Flow 4: one match and one provisional arrest for a fugitive and a detained person, whichever came first.

    The arrest follows from the stored match on every delivery, not only when the match is new: a failure
    between the two writes is completed by the redelivery, and a match rejected meanwhile opens none.
    """
    match = PersonMatch.between(fugitive, seen)
    if match is None:
        return
    stored = await deps.matches.add(match)  # or the stored match, tightened by its inputs' markings now
    if stored is match:  # reporting only
        what = "possible match for review" if match.status is MatchStatus.NEEDS_REVIEW else "fugitive located"
        log.warning(what, fugitive_id=fugitive.id, match_id=match.id, score=match.score)
    arrest = stored.provisional_arrest(fugitive, seen)
    if arrest is not None:
        await deps.extraditions.add(arrest)


async def link(fugitive_id: str, seen: TracedPurchaser, deps: ExtraditionDeps) -> None:
    """Flow 5: the fugitive decides whether it is the traced gun's purchaser (once per trace).

    A plain change, not ``apply``: the fugitive takes the trace's markings only when it is linked, so a
    candidate that merely shares a surname is not marked by someone else's trace.
    """
    await deps.fugitives.change(
        fugitive_id, lambda f: f.link_trace(seen.trace_request_id, seen.purchaser, seen.markings)
    )


async def fugitive_registered(received: Received[FugitiveRegistered], deps: ExtraditionDeps) -> None:
    """A new fugitive is matched against what was seen before it: detained people (flow 4), purchasers (flow 5).

    Runs on every delivery, so a redelivery completes matching that a failure interrupted.
    """
    registered = Fugitive.register(received.data, received.event.markings, received.sending_agency, received.sender)
    fugitive = await deps.fugitives.add(registered)  # the stored one knows rejected people
    for seen in await deps.detained.filed_under(fugitive.person):
        await locate(fugitive, seen, deps)
    for purchaser in await deps.purchasers.sharing_surname_keys(fugitive.surname_keys):
        await link(fugitive.id, purchaser, deps)


async def seizure_with_detained_persons(
    received: Received[SeizureRecorded | SeizureCorrected], deps: ExtraditionDeps
) -> None:
    """Flow 4: each detained person is kept (for fugitives registered later) and compared with the fugitives."""
    seizure = received.data
    for person in seizure.detained_persons:
        derived = DetainedPerson.seen(
            seizure.seizure_id, person, seizure.place, seizure.seized_at.date(), received.event.markings
        )
        seen = await deps.detained.add(derived)  # a stricter correction tightens the stored person, then its matches
        for fugitive in await deps.fugitives.filed_under(seen.person):
            await locate(fugitive, seen, deps)


async def trace_completed(received: Received[TraceCompleted], deps: ExtraditionDeps) -> None:
    """Flow 5: the traced gun's purchaser is kept (for fugitives registered later) and compared with the fugitives."""
    trace = received.data
    seen = await deps.purchasers.add(
        TracedPurchaser.seen(trace.trace_request_id, trace.purchaser, received.event.markings)
    )
    for fugitive in await deps.fugitives.filed_under(seen.purchaser):
        await link(fugitive.id, seen, deps)


async def match_reviewed(received: Received[PersonMatchReviewed], deps: ExtraditionDeps) -> None:
    """The analyst's decision joins the match and the fugitive; a rejection withdraws the provisional arrest, and
    the confirmation of a possible match locates the fugitive and opens it.

    Every record it changes takes the review's markings: a RED review leaves no weaker copy of the decision.
    Only the central authority of the country that wants the fugitive reviews its matches (the domain
    decides); the fugitive and the arrest then follow from that decision.
    """
    review = received.data
    match = await deps.matches.apply(
        review.match_id,
        received,
        lambda m: m.decide(review.decision, review.analyst, received.sender),
    )
    received = received.consequence()
    fugitive = await deps.fugitives.apply(match.fugitive_id, received, lambda f: f.record_review(match))
    if match.status is MatchStatus.CONFIRMED and await deps.extraditions.get(match.extradition_request_id) is None:
        seen = await deps.detained.get(DetainedPerson.id_for(match.seizure_id, match.detained_person))
        arrest = match.provisional_arrest(fugitive, seen) if seen is not None else None
        if arrest is not None:
            await deps.extraditions.add(arrest)
    # An arrest not stored yet (a failure before it, redelivery pending) will not be opened for a rejected match.
    if match.rejected and await deps.extraditions.get(match.extradition_request_id) is not None:
        on = received.occurred_at.date()
        await deps.extraditions.apply(
            match.extradition_request_id, received, lambda r: r.withdraw_for_rejected_match(on)
        )


async def step_reported(received: Received[ExtraditionStepReported], deps: ExtraditionDeps) -> None:
    step = received.data
    await deps.extraditions.apply(
        step.extradition_request_id,
        received,
        lambda r: r.advance(step.step, step.on, step.grounds, received.sender),
    )


async def mlat_received(received: Received[MlatRequestReceived], deps: ExtraditionDeps) -> None:
    request = MlatRequest.receive(
        received.data, received.event.markings, received.occurred_at, received.sending_agency, received.sender
    )
    await deps.mlats.add(request)


async def mlat_status_reported(received: Received[MlatStatusReported], deps: ExtraditionDeps) -> None:
    """A status change of an MLAT request the sending authority recorded: looked up in its own namespace."""
    report, agency = received.data, received.sending_agency
    await deps.mlats.apply(
        MlatRequest.id_for(agency, report.requesting_country, report.mlat_reference),
        received,
        lambda m: m.move(report.status, report.grounds, received.occurred_at),
        missing=f"no MLAT request {report.mlat_reference} from {report.requesting_country} recorded by {agency}",
    )


async def status_report_requested(received: Received[StatusReportRequested], deps: ExtraditionDeps) -> None:
    """The periodic report on priority cases for both countries (AP5, AP16)."""
    report = StatusReport.compile(
        derived_id("SRP", received.cause),
        await deps.extraditions.priority_cases(),
        await deps.mlats.priority_cases(),
        received.event.markings,
        received.data.language,
        received.occurred_at,
    )
    await deps.reports.add(report)


ROUTES: list[Route[ExtraditionDeps]] = [
    Route.intake_of(EXTRADITION_INTAKE, FugitiveRegistered, fugitive_registered),
    Route.intake_of(EXTRADITION_INTAKE, PersonMatchReviewed, match_reviewed),
    Route.intake_of(EXTRADITION_INTAKE, ExtraditionStepReported, step_reported),
    Route.intake_of(EXTRADITION_INTAKE, MlatRequestReceived, mlat_received),
    Route.intake_of(EXTRADITION_INTAKE, MlatStatusReported, mlat_status_reported),
    Route.intake_of(EXTRADITION_INTAKE, StatusReportRequested, status_report_requested),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureRecorded, seizure_with_detained_persons),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureCorrected, seizure_with_detained_persons),
    Route.facts_of(FIREARMS_EVENTS, "traces", TraceCompleted, trace_completed),
]
