"""Thin subscribers: fugitives and requests from central authorities; detained persons from seizures."""

from __future__ import annotations

import structlog

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
from alliance.runtime.messaging import Received
from alliance.runtime.service import Service
from extradition.domain import (
    DetainedPerson,
    ExtraditionRequest,
    Fugitive,
    MatchStatus,
    MlatRequest,
    PersonMatch,
    StatusReport,
)
from extradition.store import (
    DETAINED_PERSONS,
    EXTRADITIONS,
    FUGITIVES,
    MATCHES,
    MLAT_REQUESTS,
    REPORTS,
    TRACED_PURCHASERS,
)

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    intake = service.consumer(EXTRADITION_INTAKE, "intake", intake=True)
    seizures = service.consumer(INTERDICTION_EVENTS, "seizures", intake=False)
    traces = service.consumer(FIREARMS_EVENTS, "traces", intake=False)
    fugitives = service.store(FUGITIVES)
    detained = service.store(DETAINED_PERSONS)
    purchasers = service.store(TRACED_PURCHASERS)
    matches = service.store(MATCHES)
    extraditions = service.store(EXTRADITIONS)
    mlats = service.store(MLAT_REQUESTS)
    reports = service.store(REPORTS)

    @intake.on(FugitiveRegistered)
    async def fugitive_registered(received: Received[FugitiveRegistered]) -> None:
        fugitive = Fugitive.register(received.data, received.event.markings)
        await service.save(fugitives, fugitive)
        # Flow 4 from the other side: people detained before this fugitive was registered.
        stored = await service.load(fugitives, Fugitive, fugitive.id) or fugitive
        for doc in await detained.find_any("surname_keys", stored.surname_keys):
            await locate(stored, DetainedPerson.from_document(doc))
        # Flow 5 from the other side: purchasers of guns traced before the fugitive was registered.
        for doc in await purchasers.find_any("surname_keys", stored.surname_keys):
            await link(stored.id, TracedPurchaser.from_document(doc))

    async def detained_persons(received: Received[SeizureRecorded]) -> None:
        """Flow 4: a detained person wanted by the other country is located; provisional arrest follows."""
        seizure = received.data
        for person in seizure.detained_persons:
            seen = DetainedPerson.seen(
                seizure.seizure_id, person, seizure.place, seizure.seized_at.date(), received.event.markings
            )
            await service.save(detained, seen)
            for doc in await fugitives.find_any("surname_keys", seen.surname_keys):
                await locate(Fugitive.from_document(doc), seen)

    async def locate(fugitive: Fugitive, seen: DetainedPerson) -> None:
        """One outcome for a fugitive and a detained person, whichever of the two arrived first."""
        result = fugitive.compare(seen.person, seen.place.country)
        if result is None:
            return
        match = PersonMatch.located(
            fugitive, seen.person, result, seen.seizure_id, seen.place, seen.seized_on, seen.markings
        )
        if await service.save(matches, match):
            log.warning("fugitive located", fugitive_id=fugitive.id, match_id=match.id, score=result.score)
        # Whether the match was created now or before a crash, the arrest follows from what is stored:
        # opened (idempotently, deterministic id) unless an analyst rejected the match.
        stored = await service.load(matches, PersonMatch, match.id)
        if stored is None or stored.status is MatchStatus.REJECTED:
            return
        await service.save(
            extraditions,
            ExtraditionRequest.provisional_arrest(
                match.extradition_request_id, fugitive, seen.person, seen.place.country, seen.seized_on, match.markings
            ),
        )

    seizures.on(SeizureRecorded)(detained_persons)
    seizures.on(SeizureCorrected)(detained_persons)

    @traces.on(TraceCompleted)
    async def trace_completed(received: Received[TraceCompleted]) -> None:
        """Flow 5: a traced gun's purchaser who is a wanted fugitive is linked to the trace."""
        seen = TracedPurchaser.seen(received.data.trace_request_id, received.data.purchaser, received.event.markings)
        await service.save(purchasers, seen)
        for doc in await fugitives.find_any("surname_keys", seen.surname_keys):
            await link(doc["_id"], seen)

    async def link(fugitive_id: str, seen: TracedPurchaser) -> None:
        await service.change(
            fugitives,
            Fugitive,
            fugitive_id,
            lambda f: f.link_trace(seen.trace_request_id, seen.purchaser, seen.markings),
        )

    @intake.on(PersonMatchReviewed)
    async def match_reviewed(received: Received[PersonMatchReviewed]) -> None:
        review = received.data
        # The review's markings join the match (a RED review makes person_match.decided RED).
        match = await service.apply(
            matches, PersonMatch, review.match_id, received, lambda m: m.decide(review.decision, review.analyst)
        )
        rejected = match.status is MatchStatus.REJECTED
        person, markings, on = match.detained_person, received.event.markings, received.occurred_at.date()

        def remember(f: Fugitive) -> None:
            f.absorb_markings(markings)  # what the review says joins the record: never weaker than it
            if rejected:
                f.reject(person)
            else:
                f.unreject(person)

        def withdraw(x: ExtraditionRequest) -> None:
            x.absorb_markings(markings)
            x.withdraw_for_rejected_match(on)

        await service.change(fugitives, Fugitive, match.fugitive_id, remember)
        if rejected:  # no provisional arrest for someone who is not the fugitive
            await service.change(extraditions, ExtraditionRequest, match.extradition_request_id, withdraw)

    @intake.on(ExtraditionStepReported)
    async def step_reported(received: Received[ExtraditionStepReported]) -> None:
        step = received.data

        await service.apply(
            extraditions,
            ExtraditionRequest,
            step.extradition_request_id,
            received,
            lambda x: x.advance(step.step, step.on, step.grounds),
        )

    @intake.on(MlatRequestReceived)
    async def mlat_received(received: Received[MlatRequestReceived]) -> None:
        await service.save(mlats, MlatRequest.receive(received.data, received.event.markings, received.occurred_at))

    @intake.on(MlatStatusReported)
    async def mlat_status(received: Received[MlatStatusReported]) -> None:
        report = received.data

        await service.apply(
            mlats,
            MlatRequest,
            MlatRequest.id_for(report.requesting_country, report.mlat_reference),
            received,
            lambda m: m.move(report.status, report.grounds, received.occurred_at),
            missing=f"no MLAT request {report.mlat_reference} from {report.requesting_country}",
        )

    @intake.on(StatusReportRequested)
    async def status_report(received: Received[StatusReportRequested]) -> None:
        report = StatusReport.compile(
            derived_id("SRP", received.cause),
            [ExtraditionRequest.from_document(d) for d in await extraditions.find({"priority": True})],
            [MlatRequest.from_document(d) for d in await mlats.find({"priority": True})],
            received.event.markings,
            received.data.language,
            received.occurred_at,
        )
        await service.save(reports, report)
