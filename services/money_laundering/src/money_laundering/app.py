"""Money-laundering service entry point: ``alliance-money-laundering``."""

from __future__ import annotations

from alliance.contracts import money_laundering as contracts
from alliance.contracts.topics import MONEY_LAUNDERING_EVENTS
from alliance.runtime.service import ServiceSpec, entry_point
from money_laundering import __version__
from money_laundering.domain import DEADLINE_KINDS
from money_laundering.handlers import ROUTES, MoneyLaunderingDeps

SPEC = ServiceSpec(
    name="money_laundering",
    version=__version__,
    default_http_port=8104,
    events_topic=MONEY_LAUNDERING_EVENTS,
    contracts=contracts,
    routes=ROUTES,
    deadline_kinds=DEADLINE_KINDS,
    dependencies=MoneyLaunderingDeps,
)

main = entry_point(SPEC)

if __name__ == "__main__":
    main()
