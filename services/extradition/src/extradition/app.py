"""Extradition service entry point: ``alliance-extradition``."""

from __future__ import annotations

from alliance.contracts.extradition import (
    ExtraditionStatusChanged,
    FugitiveLinkedToTrace,
    FugitiveLocated,
    FugitiveRecorded,
    MlatStatusChanged,
    PersonMatchDecided,
    ProvisionalArrestRequested,
    StatusReportPublished,
)
from alliance.contracts.topics import EXTRADITION_EVENTS
from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.runtime.service import ServiceSpec, entry_point
from extradition import __version__, handlers
from extradition.domain import ExtraditionRequest, MlatRequest
from extradition.store import (
    COLLECTIONS,
    DETAINED_PERSONS,
    EXTRADITIONS,
    FUGITIVES,
    MLAT_REQUESTS,
    TRACED_PURCHASERS,
)

SPEC = ServiceSpec(
    name="extradition",
    version=__version__,
    default_http_port=8105,
    events_topic=EXTRADITION_EVENTS,
    publishes={
        EXTRADITION_EVENTS: [
            FugitiveRecorded,
            FugitiveLocated,
            FugitiveLinkedToTrace,
            PersonMatchDecided,
            ProvisionalArrestRequested,
            ExtraditionStatusChanged,
            MlatStatusChanged,
            StatusReportPublished,
            DeadlineApproaching,
            DeadlineBreached,
        ]
    },
    collections=COLLECTIONS,
    indexes={
        FUGITIVES: ["surname_keys"],
        DETAINED_PERSONS: ["surname_keys"],
        TRACED_PURCHASERS: ["surname_keys"],
        EXTRADITIONS: ["priority"],
        MLAT_REQUESTS: ["priority"],
    },
    deadlines={EXTRADITIONS: ExtraditionRequest, MLAT_REQUESTS: MlatRequest},
)


main = entry_point(SPEC, handlers.register)

if __name__ == "__main__":
    main()
