"""Extradition service entry point: ``alliance-extradition``."""

from __future__ import annotations

from alliance.contracts import extradition as contracts
from alliance.contracts.topics import EXTRADITION_EVENTS
from alliance.runtime.service import ServiceSpec, entry_point
from extradition import __version__
from extradition.domain import DEADLINE_KINDS
from extradition.handlers import ROUTES, ExtraditionDeps

SPEC = ServiceSpec(
    name="extradition",
    version=__version__,
    default_http_port=8105,
    events_topic=EXTRADITION_EVENTS,
    contracts=contracts,
    routes=ROUTES,
    deadline_kinds=DEADLINE_KINDS,
    dependencies=ExtraditionDeps,
)

main = entry_point(SPEC)

if __name__ == "__main__":
    main()
