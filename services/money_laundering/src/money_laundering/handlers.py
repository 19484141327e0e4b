"""Money-laundering handlers: reports and declarations from agencies; seizures, diversion alerts and traces
from the other domains (flows 2, 3 and 5); a policy on its own deadline facts (AP12, AP13).

Each handler is a plain function of the received event and :class:`MoneyLaunderingDeps`; ``ROUTES``
says which topic and event type reach it. Reactions are recomputed from stored state on every
delivery, so a redelivery after a crash between two writes completes the work (ids make it once).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import structlog

from alliance.application.handling import Received, Route
from alliance.contracts.chemicals import DiversionAlertRaised
from alliance.contracts.firearms import TraceCompleted
from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded
from alliance.contracts.money_laundering import (
    AssetForfeited,
    CrossBorderFiguresReported,
    CurrencyDeclarationFiled,
    FinancialReportSubmitted,
    InvestigationOpened,
    Party,
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
from money_laundering.domain import (
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
    Alerts,
    Assets,
    CashActivities,
    Declarations,
    FinancialReports,
    FlaggedCompanies,
    Investigations,
    MonthlyFigures,
    TracedPurchasers,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MoneyLaunderingDeps:
    reports: FinancialReports
    cash: CashActivities
    declarations: Declarations
    alerts: Alerts
    assets: Assets
    figures: MonthlyFigures
    investigations: Investigations
    companies: FlaggedCompanies
    purchasers: TracedPurchasers


# -- financial intelligence (AP12) ----------------------------------------------------------------


async def report_submitted(received: Received[FinancialReportSubmitted], d: MoneyLaunderingDeps) -> None:
    """A goAML report: it may answer an alert, adds to each party's cash, and may name a flagged company."""
    submitted = FinancialReport.submit(received.data, received.sending_agency, received.event.markings, received.sender)
    # Reactions run from the report as stored, as a company flagged later finds it: the same alert either way.
    report = await d.reports.add(submitted)
    alert_id = received.data.alert_id
    # Naming an alert not held here, or one the sender may not see, is no refusal (and tells nothing).
    if alert_id and await d.alerts.get_visible(alert_id, received) is not None:
        await d.alerts.apply(alert_id, received, Alert.answered_by_report)
    for party, transactions in report.cash_by_party().values():
        await record_cash(report, party, transactions, received.occurred_at, d)
    for _, company in report.named_companies():  # flow 3
        flagged = await d.companies.flagged(company)
        if flagged is not None:
            await raise_alert(Alert.for_flagged_company(flagged, report, received.occurred_at), d)


async def raise_alert(alert: Alert | None, d: MoneyLaunderingDeps) -> None:
    """Store an alert, or tighten the stored one (ids are deterministic: raised once, whoever gets there first)."""
    if alert is not None:
        await d.alerts.add(alert)


async def record_cash(
    report: FinancialReport, party: Party, transactions: list[Transaction], now: datetime, d: MoneyLaunderingDeps
) -> None:
    activity = await d.cash.change_or_create(
        CashActivity.id_for(party),
        functools.partial(CashActivity.first, party, report.markings),
        lambda a: a.record(report, transactions, report.markings),
    )
    # The record id (a hash), never the party key: that is the folded name and date of birth.
    log.info("cash activity recorded", activity_id=activity.id)
    for trigger in activity.structuring_in(report):  # several cash amounts just under the threshold
        await d.alerts.add(Alert.for_structuring(activity, trigger, party, now))


async def figures_reported(received: Received[CrossBorderFiguresReported], d: MoneyLaunderingDeps) -> None:
    """One country's monthly figure; both in and not reconciling is an alert (AP12 1.4)."""
    e, markings = received.data, received.event.markings
    CrossBorderFigures.check(e, received.sender)
    figures = await d.figures.change_or_create(
        CrossBorderFigures.id_for(e),
        functools.partial(CrossBorderFigures.first, e, markings),
        lambda f: f.report(e, markings, received.sending_agency),
        cause=received.cause,
    )
    if figures.alerted:
        await d.alerts.add(Alert.for_unreconciled_figures(figures, received.occurred_at))


# -- flow 2: declared and seized currency, forfeiture and sharing (AP12, AP13) ---------------------


async def declaration_filed(received: Received[CurrencyDeclarationFiled], d: MoneyLaunderingDeps) -> None:
    declaration = Declaration.file(received.data, received.event.markings, received.sending_agency, received.sender)
    stored = await d.declarations.add(declaration)
    # From the other side: currency seized before the declaration was reported.
    for asset in await d.assets.that_may_be_declared_in(stored):
        await compare(asset, [stored], d)


async def currency_seized(received: Received[SeizureRecorded], d: MoneyLaunderingDeps) -> None:
    """Seized currency becomes an asset, compared with the declarations already reported."""
    for derived in Asset.from_seizure(received.data, received.event.markings):
        asset = await d.assets.add(derived)  # or the stored asset, tightened by a stricter correction
        await compare(asset, await d.declarations.that_may_cover(asset), d)
        if asset.undeclared:  # its alert was raised already: it takes the correction's markings too
            await raise_alert(Alert.for_undeclared_currency(asset, received.occurred_at), d)


async def compare(asset: Asset, declarations: list[Declaration], d: MoneyLaunderingDeps) -> None:
    """Record the declarations that cover the money (the domain decides which; none change nothing)."""
    if declarations:
        await d.assets.change(asset.id, functools.partial(Asset.record_declarations, declarations=declarations))


async def declaration_window_closed(received: Received[DeadlineBreached], d: MoneyLaunderingDeps) -> None:
    """Policy on this service's own fact: the window closed; money no declaration covers is an alert."""
    if not Asset.is_declaration_window(received.data):
        return
    asset = await d.assets.get(received.data.record_id)
    if asset is not None and asset.undeclared:
        await d.alerts.add(Alert.for_undeclared_currency(asset, received.occurred_at))


async def asset_forfeited(received: Received[AssetForfeited], d: MoneyLaunderingDeps) -> None:
    """A court's forfeiture order, reported by the seizing country's authority (the domain decides)."""
    e = received.data
    await d.assets.apply(
        e.asset_id,
        received,
        lambda asset: asset.forfeit(e.forfeited_amount, e.legal_basis, e.ordered_on, sender=received.sender),
        missing=f"no seized asset {e.asset_id}",
    )


# -- flow 3: companies named in a precursor diversion alert -----------------------------------------


async def diversion(received: Received[DiversionAlertRaised], d: MoneyLaunderingDeps) -> None:
    """Both companies are flagged; reports that named them before are alerts, as later reports will be.

    The reports are looked up on every delivery, not only when the flag is new: a failure between
    the flag and the alert is completed by the redelivery (the alert id makes it once).
    """
    alert, markings = received.data, received.event.markings
    for company in (alert.exporter, alert.importer):
        flagged = await d.companies.change_or_create(
            FlaggedCompany.id_for(company),
            functools.partial(FlaggedCompany.first, company, markings),
            lambda f: f.flag(alert.alert_id, alert.reason, markings),
        )
        for report in await d.reports.naming(company):
            await raise_alert(Alert.for_flagged_company(flagged, report, received.occurred_at), d)


# -- flow 5: traced guns' purchasers and investigation subjects -------------------------------------


async def investigation_opened(received: Received[InvestigationOpened], d: MoneyLaunderingDeps) -> None:
    investigation = await d.investigations.add(
        Investigation.open(received.data, received.sending_agency, received.event.markings)
    )
    # From the other side: purchasers of guns traced before the investigation was opened.
    for seen in await d.purchasers.that_may_be_subjects_of(investigation):
        await link(investigation.id, seen, d)


async def trace_completed(received: Received[TraceCompleted], d: MoneyLaunderingDeps) -> None:
    """A traced gun's purchaser who is an investigation subject is linked to it."""
    seen = await d.purchasers.add(
        TracedPurchaser.seen(received.data.trace_request_id, received.data.purchaser, received.event.markings)
    )
    for investigation in await d.investigations.that_may_name(seen):
        await link(investigation.id, seen, d)


async def link(investigation_id: str, seen: TracedPurchaser, d: MoneyLaunderingDeps) -> None:
    """The domain decides whether the purchaser is a subject; a link already made changes nothing."""
    await d.investigations.change(
        investigation_id, lambda i: i.link_purchaser(seen.trace_request_id, seen.purchaser, seen.markings)
    )


ROUTES: list[Route[MoneyLaunderingDeps]] = [
    Route.intake_of(MONEY_LAUNDERING_INTAKE, FinancialReportSubmitted, report_submitted),
    Route.intake_of(MONEY_LAUNDERING_INTAKE, CrossBorderFiguresReported, figures_reported),
    Route.intake_of(MONEY_LAUNDERING_INTAKE, CurrencyDeclarationFiled, declaration_filed),
    Route.intake_of(MONEY_LAUNDERING_INTAKE, AssetForfeited, asset_forfeited),
    Route.intake_of(MONEY_LAUNDERING_INTAKE, InvestigationOpened, investigation_opened),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureRecorded, currency_seized),
    Route.facts_of(INTERDICTION_EVENTS, "seizures", SeizureCorrected, currency_seized),
    Route.facts_of(CHEMICALS_EVENTS, "diversion", DiversionAlertRaised, diversion),
    Route.facts_of(FIREARMS_EVENTS, "traces", TraceCompleted, trace_completed),
    Route.facts_of(MONEY_LAUNDERING_EVENTS, "policies", DeadlineBreached, declaration_window_closed),
]
