"""Thin subscribers: turn accepted events into domain calls and store the outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from alliance.contracts.interdiction import SeizureReported
from alliance.markings import strictest
from alliance.messaging import Received
from alliance.service import Service
from alliance.settings import INTERDICTION_INTAKE
from interdiction.domain import Seizure
from interdiction.store import SEIZURES

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    intake = service.consumer(INTERDICTION_INTAKE, "intake", intake=True)
    seizures = service.store(SEIZURES)

    @intake.on(SeizureReported)
    async def seizure_reported(received: Received[SeizureReported]) -> None:
        seizure = Seizure.record(
            received.data,
            reporting_source=received.event.source,
            markings=strictest([received.event.markings]),
            recorded_at=datetime.now(UTC),
        )
        created = await service.save(seizures, seizure)
        log.info(
            "seizure recorded" if created else "seizure already recorded",
            seizure_id=seizure.id,
            firearms=len(seizure.contents.firearms),
            tlp=seizure.markings.tlp,
        )
