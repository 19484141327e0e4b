"""Thin subscribers: seizures open requests; the tracing center, laboratories and licensing authorities
report back; indicators follow from the stored records."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import structlog

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
from alliance.ids import derived_id
from alliance.messaging import Received
from alliance.service import Service
from alliance.settings import FIREARMS_INTAKE, INTERDICTION_EVENTS
from firearms.domain import (
    ExportLicence,
    Purchaser,
    RestorationRequest,
    TraceRequest,
    TraceStatisticsReport,
    purchaser_key,
    requests_for_seizure,
)
from firearms.settings import FirearmsSettings
from firearms.store import EXPORT_LICENCES, PURCHASERS, RESTORATION_REQUESTS, STATISTICS, TRACE_REQUESTS

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    settings = cast(FirearmsSettings, service.settings)
    seizures = service.consumer(INTERDICTION_EVENTS, "seizures", intake=False)
    intake = service.consumer(FIREARMS_INTAKE, "intake", intake=True)
    traces = service.store(TRACE_REQUESTS)
    restorations = service.store(RESTORATION_REQUESTS)
    licences = service.store(EXPORT_LICENCES)
    purchasers = service.store(PURCHASERS)
    reports = service.store(STATISTICS)

    async def open_trace(trace: TraceRequest) -> None:
        await service.save(traces, trace)  # unless it exists (a redelivery): the check below runs either way
        for doc in await licences.find({"serial_keys": trace.serial_key}):
            flag = functools.partial(TraceRequest.flag_licensed_export, licence=ExportLicence.from_document(doc))
            await service.change(traces, TraceRequest, trace.id, flag)  # idempotent: one indicator per licence

    async def seizure_with_firearms(received: Received[SeizureRecorded]) -> None:
        now = received.occurred_at
        for request in requests_for_seizure(received.data, received.event.markings, now, settings.trace_reply_period):
            if isinstance(request, TraceRequest):
                await open_trace(request)
            else:
                await service.save(restorations, request)

    seizures.on(SeizureRecorded)(seizure_with_firearms)
    seizures.on(SeizureCorrected)(seizure_with_firearms)  # deterministic ids: only guns not seen before add work

    async def change_trace(
        received: Received[TraceRequestAcknowledged | TraceResultReported], apply: Callable[[TraceRequest], object]
    ) -> TraceRequest:
        return await service.apply(traces, TraceRequest, received.data.trace_request_id, received, apply)

    @intake.on(TraceRequestAcknowledged)
    async def acknowledged(received: Received[TraceRequestAcknowledged]) -> None:
        await change_trace(received, lambda t: t.acknowledge(received.data.tracing_center_reference))

    @intake.on(TraceResultReported)
    async def result_reported(received: Received[TraceResultReported]) -> None:
        result = received.data
        dealer, purchaser, sale_date = result.dealer, result.purchaser, result.sale_date
        if result.outcome is TraceOutcome.COMPLETED and dealer and purchaser and sale_date:  # the contract ensures
            trace = await change_trace(received, lambda t: t.complete(dealer, purchaser, sale_date))
            if trace.purchaser is not None:
                person = trace.purchaser
                await service.change_or_create(
                    purchasers,
                    Purchaser,
                    derived_id("PU", purchaser_key(person)),
                    lambda: Purchaser.first_seen(person, trace.markings),
                    lambda p: p.record_purchase(trace),
                )
        else:
            await change_trace(received, lambda t: t.fail(result.reason or ""))

    @intake.on(RestorationResultReported)
    async def restoration_reported(received: Received[RestorationResultReported]) -> None:
        result = received.data

        def apply(r: RestorationRequest) -> None:
            if result.outcome is RestorationOutcome.RESTORED:
                r.restore(result.restored_serial_number or "", result.notes)
            else:
                r.fail(result.notes)

        restoration = await service.apply(
            restorations, RestorationRequest, result.restoration_request_id, received, apply
        )
        if restoration.restored_serial_number:
            await open_trace(
                TraceRequest.after_restoration(
                    restoration, restoration.restored_serial_number, received.occurred_at, settings.trace_reply_period
                )
            )

    @intake.on(ExportLicenceIssued)
    async def licence_issued(received: Received[ExportLicenceIssued]) -> None:
        licence = ExportLicence.record(received.data, received.event.source, received.event.markings)
        await service.save(licences, licence)
        for doc in await traces.find_any("serial_key", licence.serial_keys):
            await service.change(traces, TraceRequest, doc["_id"], lambda t: t.flag_licensed_export(licence))

    @intake.on(TraceStatisticsRequested)
    async def statistics_requested(received: Received[TraceStatisticsRequested]) -> None:
        ask = received.data
        period = {"recovery_date": {"$gte": ask.period_start.isoformat(), "$lte": ask.period_end.isoformat()}}
        report = TraceStatisticsReport.compile(
            derived_id("TS", received.cause),
            [TraceRequest.from_document(d) for d in await traces.find(period)],
            [RestorationRequest.from_document(d) for d in await restorations.find(period)],
            received.event.markings,
            ask.period_start,
            ask.period_end,
            ask.language,
        )
        await service.save(reports, report)
