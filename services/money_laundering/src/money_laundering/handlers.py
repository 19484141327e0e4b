"""Thin subscribers: reports and declarations from agencies; seizures, diversion alerts and traces
from the other domains (flows 2, 3 and 5)."""

from __future__ import annotations

import functools
from datetime import datetime

import structlog

from alliance.contracts.chemicals import Company, DiversionAlertRaised
from alliance.contracts.firearms import TraceCompleted
from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded
from alliance.contracts.money_laundering import (
    AssetForfeited,
    CrossBorderFiguresReported,
    CurrencyDeclarationFiled,
    FinancialReportSubmitted,
    InvestigationOpened,
    Party,
    PartyKind,
    Transaction,
)
from alliance.contracts.topics import (
    CHEMICALS_EVENTS,
    FIREARMS_EVENTS,
    INTERDICTION_EVENTS,
    MONEY_LAUNDERING_EVENTS,
    MONEY_LAUNDERING_INTAKE,
)
from alliance.domain.deadlines import DeadlineBreached
from alliance.domain.sightings import TracedPurchaser
from alliance.runtime.messaging import Received
from alliance.runtime.service import Service
from money_laundering.domain import (
    DECLARATION_CHECK,
    Alert,
    Asset,
    CashActivity,
    CrossBorderFigures,
    Declaration,
    FinancialReport,
    FlaggedCompany,
    Investigation,
)
from money_laundering.store import (
    ALERTS,
    ASSETS,
    CASH,
    COMPANIES,
    DECLARATIONS,
    FIGURES,
    INVESTIGATIONS,
    REPORTS,
    TRACED_PURCHASERS,
)
from person_matching.matching import surname_keys

log = structlog.get_logger(__name__)


def register(service: Service) -> None:
    intake = service.consumer(MONEY_LAUNDERING_INTAKE, "intake", intake=True)
    seizures = service.consumer(INTERDICTION_EVENTS, "seizures", intake=False)
    chemicals = service.consumer(CHEMICALS_EVENTS, "diversion", intake=False)
    firearms = service.consumer(FIREARMS_EVENTS, "traces", intake=False)
    own = service.consumer(MONEY_LAUNDERING_EVENTS, "policies", intake=False)  # reactions to our own facts
    reports, cash, declarations = service.store(REPORTS), service.store(CASH), service.store(DECLARATIONS)
    alerts, assets, figures = service.store(ALERTS), service.store(ASSETS), service.store(FIGURES)
    investigations, companies = service.store(INVESTIGATIONS), service.store(COMPANIES)
    purchasers = service.store(TRACED_PURCHASERS)

    @intake.on(FinancialReportSubmitted)
    async def report_submitted(received: Received[FinancialReportSubmitted]) -> None:
        report = FinancialReport.submit(received.data, received.event.source, received.event.markings)
        await service.save(reports, report)
        if received.data.alert_id:
            await service.change(alerts, Alert, received.data.alert_id, lambda a: a.answered_by_report())
        now = received.occurred_at
        for party, transactions in report.cash_by_party().values():
            await record_cash(report, party, transactions, now)
            # The record id (a hash), never the party key: that is the folded name and date of birth.
            log.info("cash activity recorded", activity_id=CashActivity.id_for(party))
        for party in received.data.subjects:
            if party.kind is PartyKind.COMPANY and party.company_name and party.country:
                flagged = await service.load(
                    companies,
                    FlaggedCompany,
                    FlaggedCompany.id_for(Company(name=party.company_name, country=party.country)),
                )
                if flagged is not None:
                    await service.save(
                        alerts,
                        Alert.for_flagged_company(flagged, report, party, now),
                    )

    async def record_cash(
        report: FinancialReport, party: Party, transactions: list[Transaction], now: datetime
    ) -> None:
        def create() -> CashActivity:
            return CashActivity(id=CashActivity.id_for(party), markings=report.markings, party=party)

        def record(activity: CashActivity) -> None:
            activity.record(report, transactions, report.markings)

        activity = await service.change_or_create(cash, CashActivity, CashActivity.id_for(party), create, record)
        # From stored state, not from what this attempt changed: a retry after a crash between the two
        # writes still raises the alert (deterministic ids make it once).
        triggers = [k for k in activity.structuring_alerted if k.startswith(f"{report.id}:")]
        for trigger in triggers:  # AP12: several cash reports just under the threshold
            await service.save(
                alerts,
                Alert.for_structuring(activity, trigger, party, now),
            )

    @intake.on(CurrencyDeclarationFiled)
    async def declaration_filed(received: Received[CurrencyDeclarationFiled]) -> None:
        declaration = Declaration.file(received.data, received.event.markings)
        await service.save(declarations, declaration)
        # Flow 2 from the other side: currency seized before the declaration was reported.
        stored = await service.load(declarations, Declaration, declaration.id) or declaration
        for doc in await assets.find_any("surname_keys", stored.surname_keys):
            await service.change(assets, Asset, doc["_id"], lambda a: a.record_declarations([stored]))

    @own.on(DeadlineBreached)
    async def declaration_window_closed(received: Received[DeadlineBreached]) -> None:
        """Policy on this service's own fact: the window closed; money no declaration covers is an alert."""
        if received.data.record_type != Asset.RECORD_TYPE or received.data.kind != DECLARATION_CHECK:
            return
        asset = await service.load(assets, Asset, received.data.record_id)
        if asset is None or not asset.undeclared:
            return
        await service.save(
            alerts,
            Alert.for_undeclared_currency(asset, received.occurred_at),
        )

    @intake.on(CrossBorderFiguresReported)
    async def figures_reported(received: Received[CrossBorderFiguresReported]) -> None:
        e = received.data
        record = await service.change_or_create(
            figures,
            CrossBorderFigures,
            CrossBorderFigures.id_for(e),
            lambda: CrossBorderFigures(
                id=CrossBorderFigures.id_for(e),
                markings=received.event.markings,
                from_country=e.from_country,
                to_country=e.to_country,
                year=e.year,
                month=e.month,
            ),
            lambda f: f.report(e, received.event.markings),
            cause=received.cause,
        )
        if record.alerted:  # stored state, so a retry after a crash still raises it (once: deterministic id)
            await service.save(
                alerts,
                Alert.for_unreconciled_figures(record, received.occurred_at),
            )

    @intake.on(InvestigationOpened)
    async def investigation_opened(received: Received[InvestigationOpened]) -> None:
        investigation = Investigation.open(received.data, received.event.source, received.event.markings)
        await service.save(investigations, investigation)
        # Flow 5 from the other side: purchasers of guns traced before the investigation was opened.
        for doc in await purchasers.find_any("surname_keys", investigation.subject_surname_keys):
            await link(investigation.id, TracedPurchaser.from_document(doc))

    @intake.on(AssetForfeited)
    async def asset_forfeited(received: Received[AssetForfeited]) -> None:
        e = received.data

        await service.apply(
            assets,
            Asset,
            e.asset_id,
            received,
            lambda asset: asset.forfeit(e.forfeited_amount, e.legal_basis, e.ordered_on),
            missing=f"no seized asset {e.asset_id}",
        )

    async def currency_seized(received: Received[SeizureRecorded]) -> None:
        """Flow 2: seized currency becomes an asset, compared with the border declarations."""
        s = received.data
        keys = sorted({k for p in s.detained_persons for k in surname_keys(p)})
        found = (
            [Declaration.from_document(d) for d in await declarations.find_any("surname_keys", keys)] if keys else []
        )
        for item, money in enumerate(s.currency, start=1):
            asset = Asset.seize(
                s.seizure_id,
                item,
                money.amount,
                money.currency,
                s.place,
                s.seized_at.date(),
                s.detained_persons,
                received.event.markings,
            )
            await service.save(assets, asset)  # unless it exists: the declarations are recorded either way
            if found:
                await service.change(assets, Asset, asset.id, lambda a: a.record_declarations(found))

    seizures.on(SeizureRecorded)(currency_seized)
    seizures.on(SeizureCorrected)(currency_seized)

    @chemicals.on(DiversionAlertRaised)
    async def diversion(received: Received[DiversionAlertRaised]) -> None:
        """Flow 3: companies named in a precursor diversion alert are flagged here."""
        alert, markings = received.data, received.event.markings
        for company in (alert.exporter, alert.importer):
            await service.change_or_create(
                companies,
                FlaggedCompany,
                FlaggedCompany.id_for(company),
                functools.partial(FlaggedCompany.first, company, markings),
                lambda f: f.flag(alert.alert_id, alert.reason, markings),
            )

    @firearms.on(TraceCompleted)
    async def trace_completed(received: Received[TraceCompleted]) -> None:
        """Flow 5: a traced gun's purchaser who is an investigation subject is linked to it."""
        seen = TracedPurchaser.seen(received.data.trace_request_id, received.data.purchaser, received.event.markings)
        await service.save(purchasers, seen)
        for doc in await investigations.find_any("subject_surname_keys", seen.surname_keys):
            await link(doc["_id"], seen)

    async def link(investigation_id: str, seen: TracedPurchaser) -> None:
        await service.change(
            investigations,
            Investigation,
            investigation_id,
            lambda i: i.link_purchaser(seen.trace_request_id, seen.purchaser, seen.markings),
        )
