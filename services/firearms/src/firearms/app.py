"""Firearms service entry point: ``alliance-firearms``."""

from __future__ import annotations

from alliance.contracts import firearms as contracts
from alliance.contracts.topics import FIREARMS_EVENTS
from alliance.runtime.service import ServiceSpec, entry_point
from firearms import __version__
from firearms.domain import DEADLINE_KINDS
from firearms.handlers import ROUTES, FirearmsDeps
from firearms.settings import FirearmsSettings

SPEC = ServiceSpec(
    name="firearms",
    version=__version__,
    default_http_port=8102,
    events_topic=FIREARMS_EVENTS,
    contracts=contracts,
    routes=ROUTES,
    deadline_kinds=DEADLINE_KINDS,
    dependencies=FirearmsDeps,
    settings=FirearmsSettings,
)

main = entry_point(SPEC)

if __name__ == "__main__":
    main()
