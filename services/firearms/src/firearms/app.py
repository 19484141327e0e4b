"""Firearms service entry point: ``alliance-firearms`` (or ``uvicorn firearms.app:app``)."""

from __future__ import annotations

from alliance.contracts.firearms import RestorationRequested, TraceRequestSubmitted
from alliance.service import Service, ServiceSpec
from alliance.settings import FIREARMS_EVENTS
from firearms import __version__, handlers
from firearms.store import COLLECTIONS

SPEC = ServiceSpec(
    name="firearms",
    version=__version__,
    default_http_port=8102,
    events_topic=FIREARMS_EVENTS,
    publishes={FIREARMS_EVENTS: [TraceRequestSubmitted, RestorationRequested]},
    collections=COLLECTIONS,
)


def build() -> Service:
    return Service.assemble(SPEC, handlers.register)


def main() -> None:
    build().run()


if __name__ == "__main__":
    main()
