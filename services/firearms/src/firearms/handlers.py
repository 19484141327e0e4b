"""Thin subscribers: seizures recorded by interdiction open trace and restoration requests."""

from __future__ import annotations

import structlog

from alliance.contracts.interdiction import SeizureRecorded
from alliance.messaging import Received
from alliance.service import Service
from alliance.settings import INTERDICTION_EVENTS
from firearms.domain import TraceRequest, requests_for_seizure
from firearms.store import RESTORATION_REQUESTS, TRACE_REQUESTS

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    seizures = service.consumer(INTERDICTION_EVENTS, "seizures", intake=False)
    traces = service.store(TRACE_REQUESTS)
    restorations = service.store(RESTORATION_REQUESTS)

    @seizures.on(SeizureRecorded)
    async def seizure_recorded(received: Received[SeizureRecorded]) -> None:
        for request in requests_for_seizure(received.data, received.event.markings):
            store = traces if isinstance(request, TraceRequest) else restorations
            created = await service.save(store, request)
            log.info(
                "firearm request opened" if created else "firearm request already open",
                request_id=request.id,
                kind=store.name,
                seizure_id=request.seizure_id,
            )
