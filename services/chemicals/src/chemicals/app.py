"""Chemicals service entry point: ``alliance-chemicals``."""

from __future__ import annotations

from alliance.contracts import chemicals as contracts
from alliance.contracts.topics import CHEMICALS_EVENTS
from alliance.runtime.service import ServiceSpec, entry_point
from chemicals import __version__
from chemicals.domain import DEADLINE_KINDS
from chemicals.handlers import ROUTES, ChemicalsDeps

SPEC = ServiceSpec(
    name="chemicals",
    version=__version__,
    default_http_port=8103,
    events_topic=CHEMICALS_EVENTS,
    contracts=contracts,
    routes=ROUTES,
    deadline_kinds=DEADLINE_KINDS,
    dependencies=ChemicalsDeps,
)

main = entry_point(SPEC)

if __name__ == "__main__":
    main()
