"""Firearms service entry point: ``alliance-firearms`` (or ``uvicorn firearms.app:app``)."""

from __future__ import annotations

from alliance.contracts.firearms import (
    ExportLicenceRecorded,
    RestorationFailed,
    RestorationRequested,
    RestorationSucceeded,
    TraceCompleted,
    TraceNotCompleted,
    TraceRequestInProgress,
    TraceRequestSubmitted,
    TraceStatisticsPublished,
    TraffickingIndicatorRaised,
)
from alliance.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.service import ServiceSpec, entry_point
from alliance.settings import FIREARMS_EVENTS
from firearms import __version__, handlers
from firearms.domain import TraceRequest
from firearms.settings import FirearmsSettings
from firearms.store import COLLECTIONS, EXPORT_LICENCES, RESTORATION_REQUESTS, TRACE_REQUESTS

SPEC = ServiceSpec(
    name="firearms",
    version=__version__,
    default_http_port=8102,
    events_topic=FIREARMS_EVENTS,
    publishes={
        FIREARMS_EVENTS: [
            TraceRequestSubmitted,
            TraceRequestInProgress,
            TraceCompleted,
            TraceNotCompleted,
            RestorationRequested,
            RestorationSucceeded,
            RestorationFailed,
            ExportLicenceRecorded,
            TraffickingIndicatorRaised,
            TraceStatisticsPublished,
            DeadlineApproaching,
            DeadlineBreached,
        ]
    },
    collections=COLLECTIONS,
    indexes={
        EXPORT_LICENCES: ["serial_keys"],
        TRACE_REQUESTS: ["serial_key", "recovery_date"],
        RESTORATION_REQUESTS: ["recovery_date"],
    },
    deadlines={TRACE_REQUESTS: TraceRequest},
    settings=FirearmsSettings,
)


main = entry_point(SPEC, handlers.register)

if __name__ == "__main__":
    main()
