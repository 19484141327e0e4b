"""Interdiction service entry point: ``alliance-interdiction``."""

from __future__ import annotations

from alliance.contracts import interdiction as contracts
from alliance.contracts.topics import INTERDICTION_EVENTS
from alliance.runtime.service import ServiceSpec, entry_point
from interdiction import __version__
from interdiction.handlers import ROUTES, InterdictionDeps

SPEC = ServiceSpec(
    name="interdiction",
    version=__version__,
    default_http_port=8101,
    events_topic=INTERDICTION_EVENTS,
    contracts=contracts,
    routes=ROUTES,
    dependencies=InterdictionDeps,
)

main = entry_point(SPEC)

if __name__ == "__main__":
    main()
