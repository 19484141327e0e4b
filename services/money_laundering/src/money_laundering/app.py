"""Money-laundering service entry point: ``alliance-money-laundering``."""

from __future__ import annotations

from alliance.contracts.money_laundering import (
    AssetForfeitureRecorded,
    AssetSeized,
    AssetSharingProposed,
    CompanyFlagged,
    CurrencyDeclarationRecorded,
    FinancialReportRecorded,
    InvestigationRecorded,
    MoneyLaunderingAlertRaised,
    SubjectLinked,
)
from alliance.contracts.topics import MONEY_LAUNDERING_EVENTS
from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.runtime.service import ServiceSpec, entry_point
from money_laundering import __version__, handlers
from money_laundering.domain import Alert, Asset, CashActivity
from money_laundering.store import ALERTS, ASSETS, CASH, COLLECTIONS, DECLARATIONS, INVESTIGATIONS, TRACED_PURCHASERS

SPEC = ServiceSpec(
    name="money_laundering",
    version=__version__,
    default_http_port=8104,
    events_topic=MONEY_LAUNDERING_EVENTS,
    publishes={
        MONEY_LAUNDERING_EVENTS: [
            FinancialReportRecorded,
            CurrencyDeclarationRecorded,
            MoneyLaunderingAlertRaised,
            InvestigationRecorded,
            AssetSeized,
            AssetForfeitureRecorded,
            AssetSharingProposed,
            CompanyFlagged,
            SubjectLinked,
            DeadlineApproaching,
            DeadlineBreached,
        ]
    },
    collections=COLLECTIONS,
    indexes={
        DECLARATIONS: ["surname_keys"],
        INVESTIGATIONS: ["subject_surname_keys"],
        TRACED_PURCHASERS: ["surname_keys"],
        ASSETS: ["surname_keys"],
    },
    deadlines={ALERTS: Alert, CASH: CashActivity, ASSETS: Asset},
)


main = entry_point(SPEC, handlers.register)

if __name__ == "__main__":
    main()
