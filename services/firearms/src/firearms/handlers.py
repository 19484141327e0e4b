"""Firearms handlers: seizures open trace and restoration requests; the tracing centre, laboratories and
licensing authorities report back; indicators follow from the stored records (AP6, AP7).

Each handler is a plain function of the received event and :class:`FirearmsDeps`; ``ROUTES`` says
which topic and event type reach it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from alliance.application.handling import Received, RegistryView, Route
from alliance.contracts.disclosure_control import disclosure_rules
from alliance.contracts.firearms import (
    ExportLicenceIssued,
    RestorationOutcome,
    RestorationResultReported,
    TraceOutcome,
    TraceRequestAcknowledged,
    TraceResultReported,
    TraceStatisticsRequested,
)
from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded
from alliance.contracts.topics import FIREARMS_INTAKE, INTERDICTION_EVENTS
from alliance.domain.errors import DomainRuleViolation
from alliance.domain.ids import derived_id
from alliance.domain.periods import Quarter
from firearms.domain import (
    ExportLicence,
    Purchaser,
    RestorationRequest,
    SanitisedTraceQuarter,
    TraceRequest,
    TraceStatisticsReport,
    purchaser_key,
    requests_for_seizure,
)
from firearms.settings import FirearmsSettings
from firearms.store import (
    ExportLicences,
    Purchasers,
    RestorationRequests,
    SanitisedQuarters,
    TraceRequests,
    TraceStatisticsReports,
)


@dataclass(frozen=True)
class FirearmsDeps:
    traces: TraceRequests
    restorations: RestorationRequests
    licences: ExportLicences
    purchasers: Purchasers
    reports: TraceStatisticsReports
    sanitised_quarters: SanitisedQuarters
    registry: RegistryView
    settings: FirearmsSettings


async def open_trace(trace: TraceRequest, f: FirearmsDeps) -> None:
    """Store the trace request (unless a redelivery stored it) and check it against export licences.

    The licence check runs on every delivery, not only when the request is new: a failure between
    the two writes is completed by the redelivery (one indicator per licence, by the domain). A
    request stored before (a redelivery, a seizure correction) takes the markings of what was received
    now, and its licences are looked up by the serial it holds.
    """
    stored = await f.traces.add(trace)
    for licence in await f.licences.covering(stored.serial_key):
        await f.traces.change(trace.id, functools.partial(TraceRequest.flag_licensed_export, licence=licence))


async def seizure_with_firearms(received: Received[SeizureRecorded | SeizureCorrected], f: FirearmsDeps) -> None:
    """Each recovered gun gets a trace request, or a restoration request when its serial is obliterated.

    Ids are deterministic, so a correction only adds work for guns not seen before.
    """
    period = f.settings.trace_reply_period
    for request in requests_for_seizure(received.data, received.event.markings, received.occurred_at, period):
        if isinstance(request, TraceRequest):
            await open_trace(request, f)
        else:
            await f.restorations.add(request)


async def trace_acknowledged(received: Received[TraceRequestAcknowledged], f: FirearmsDeps) -> None:
    reference = received.data.tracing_center_reference

    def acknowledge(t: TraceRequest) -> None:
        t.answered_by(received.sender)
        t.acknowledge(reference)

    await f.traces.apply(received.data.trace_request_id, received, acknowledge)


async def trace_result_reported(received: Received[TraceResultReported], f: FirearmsDeps) -> None:
    result = received.data
    dealer, purchaser, sale_date = result.dealer, result.purchaser, result.sale_date

    def answer(t: TraceRequest) -> None:
        t.answered_by(received.sender)
        if dealer and purchaser and sale_date and result.outcome is TraceOutcome.COMPLETED:
            t.complete(dealer, purchaser, sale_date)
        else:
            t.fail(result.reason or "")

    trace = await f.traces.apply(result.trace_request_id, received, answer)
    if result.outcome is not TraceOutcome.COMPLETED:
        return
    if trace.purchaser is not None:  # recomputed on every delivery: the purchase is recorded once per trace
        person = trace.purchaser
        await f.purchasers.change_or_create(
            derived_id("PU", purchaser_key(person)),
            lambda: Purchaser.first_seen(person, trace.markings),
            lambda p: p.record_purchase(trace),
        )


async def restoration_reported(received: Received[RestorationResultReported], f: FirearmsDeps) -> None:
    result = received.data

    def report(r: RestorationRequest) -> None:
        r.answered_by(received.sender)
        if result.outcome is RestorationOutcome.RESTORED:
            r.restore(result.restored_serial_number or "", result.notes)
        else:
            r.fail(result.notes)

    restoration = await f.restorations.apply(result.restoration_request_id, received, report)
    if restoration.restored_serial_number:  # the restored serial is traced like any other gun
        period = f.settings.trace_reply_period
        serial = restoration.restored_serial_number
        await open_trace(TraceRequest.after_restoration(restoration, serial, received.occurred_at, period), f)


async def licence_issued(received: Received[ExportLicenceIssued], f: FirearmsDeps) -> None:
    """A licence is checked against guns already traced, as a trace is against licences already issued."""
    licence = ExportLicence.record(received.data, received.sending_agency, received.event.markings, received.sender)
    await f.licences.add(licence)
    for trace in await f.traces.of_guns(licence.serial_keys):
        await f.traces.change(trace.id, lambda t: t.flag_licensed_export(licence))


async def statistics_requested(received: Received[TraceStatisticsRequested], f: FirearmsDeps) -> None:
    """Each request gets its own answer (a redelivery adds nothing). A sanitised answer is the quarter's
    one release, fixed by the first sanitised request after the quarter closed."""
    ask = received.data
    answer_id = derived_id("TS", received.cause)
    quarter = Quarter.parse(ask.period) if ask.period else None
    if ask.sanitised and quarter is not None:
        release = await sanitised_release(quarter, received, f)
        await f.reports.add(TraceStatisticsReport.sanitised(answer_id, release, received.event.markings, ask.language))
        return
    start, end = (quarter.first_day, quarter.last_day) if quarter else (ask.period_start, ask.period_end)
    if start is None or end is None:  # the contract requires a period or both dates
        raise DomainRuleViolation("a statistics request without a period")
    report = TraceStatisticsReport.compile(
        answer_id,
        await f.traces.recovered_between(start, end),
        await f.restorations.recovered_between(start, end),
        received.event.markings,
        start,
        end,
        ask.language,
        quarter,
    )
    await f.reports.add(report)


async def sanitised_release(
    quarter: Quarter, received: Received[TraceStatisticsRequested], f: FirearmsDeps
) -> SanitisedTraceQuarter:
    """The quarter's stored release, or the one fixed now from the stored records if there is none yet
    (of two requests fixing it at once, the first stored wins and both answer with it)."""
    first, last = quarter.first_day, quarter.last_day

    async def fix() -> SanitisedTraceQuarter:
        return SanitisedTraceQuarter.fix(
            quarter,
            await f.traces.recovered_between(first, last),
            await f.restorations.recovered_between(first, last),
            f.registry.current(),
            received.event.markings,
            received.occurred_at,
            disclosure_rules(),
        )

    return await f.sanitised_quarters.stored_or_fixed(SanitisedTraceQuarter.id_of(quarter), fix)


ROUTES: list[Route[FirearmsDeps]] = [
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureRecorded, seizure_with_firearms),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureCorrected, seizure_with_firearms),
    Route.intake_of(FIREARMS_INTAKE, TraceRequestAcknowledged, trace_acknowledged),
    Route.intake_of(FIREARMS_INTAKE, TraceResultReported, trace_result_reported),
    Route.intake_of(FIREARMS_INTAKE, RestorationResultReported, restoration_reported),
    Route.intake_of(FIREARMS_INTAKE, ExportLicenceIssued, licence_issued),
    Route.intake_of(FIREARMS_INTAKE, TraceStatisticsRequested, statistics_requested),
]
