"""Interdiction service entry point: ``alliance-interdiction`` (or ``uvicorn interdiction.app:app``)."""

from __future__ import annotations

from alliance.contracts.interdiction import (
    RouteReportPublished,
    SeizureCorrected,
    SeizureRecorded,
    SeizureStatisticsPublished,
)
from alliance.contracts.topics import INTERDICTION_EVENTS
from alliance.runtime.service import ServiceSpec, entry_point
from interdiction import __version__, handlers
from interdiction.store import COLLECTIONS, SEIZURES

SPEC = ServiceSpec(
    name="interdiction",
    version=__version__,
    default_http_port=8101,
    events_topic=INTERDICTION_EVENTS,
    publishes={
        INTERDICTION_EVENTS: [SeizureRecorded, SeizureCorrected, RouteReportPublished, SeizureStatisticsPublished]
    },
    collections=COLLECTIONS,
    indexes={SEIZURES: ["contents.seized_at"]},
)


main = entry_point(SPEC, handlers.register)

if __name__ == "__main__":
    main()
