"""Money-laundering handlers over in-memory repositories: no Kafka, no store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from alliance.application.repository import Repository
from alliance.application.testing import HandlerHarness, registered_sender
from alliance.contracts.chemicals import DiversionAlertRaised
from alliance.contracts.common import Person
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.firearms import TraceCompleted
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.money_laundering import (
    AssetForfeited,
    CrossBorderFiguresReported,
    FinancialReportSubmitted,
    InvestigationOpened,
)
from alliance.contracts.topics import MONEY_LAUNDERING_EVENTS
from alliance.domain.deadlines import DeadlineState
from alliance.domain.errors import DomainRuleViolation, RecordNotYetKnown
from alliance.domain.principals import Sender
from money_laundering.domain import DECLARATION_CHECK, SUSPICIOUS_REPORT
from money_laundering.handlers import ROUTES, MoneyLaunderingDeps
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
from payloads.firearms import trace_completed
from payloads.interdiction import seizure_recorded
from payloads.money_laundering import ANA, ANA_PARTY, bank_report, declaration

H = HandlerHarness[MoneyLaunderingDeps]
ML = "org.alliance.money_laundering."
GREEN = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("mx-uif",))
AMBER = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))
RED = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-atf",))
WINDOW_CLOSED = datetime(2026, 11, 23, tzinfo=UTC)  # the seizures below are on 20 November; the window is a day


def harness() -> H:
    return HandlerHarness(ROUTES, MoneyLaunderingDeps, service="money_laundering", events_topic=MONEY_LAUNDERING_EVENTS)


def of(facts: list[CloudEvent], suffix: str) -> list[CloudEvent]:
    return [f for f in facts if f.type == ML + suffix]


def published(h: H, suffix: str) -> list[CloudEvent]:
    return of([p.event for p in h.published], suffix)


def alerts_of(h: H, kind: str) -> list[dict[str, Any]]:
    return [a for a in h.records(Alerts).heads.values() if a["kind"] == kind]


def assert_at_least(facts: list[CloudEvent], *markings: Markings) -> None:
    assert facts
    for fact in facts:
        for m in markings:
            assert fact.markings.is_at_least_as_strict_as(m), (fact.type, fact.markings, m)


# -- inputs ----------------------------------------------------------------------------------------


def seizure(*amounts: float, seizure_id: str = "SZ-1", corrected: bool = False) -> SeizureRecorded:
    """Ana María carrying cash in USD through Laredo."""
    cash = [{"amount": a, "currency": "USD"} for a in amounts]
    return seizure_recorded(
        seizure_id, corrected=corrected, currency=cash, detained_persons=[ANA.model_dump(mode="json")]
    )


def figures(country: str, total: float) -> CrossBorderFiguresReported:
    return CrossBorderFiguresReported(
        reporting_country=country, from_country="US", to_country="MX", year=2026, month=10, total_usd=total
    )


INVESTIGATION = InvestigationOpened.model_validate(
    {"investigation_reference": "UIF-7", "agency": "UIF", "subjects": [ANA_PARTY], "coordinated": True}
)


def trace(purchaser: Person = ANA, trace_id: str = "TR-1") -> TraceCompleted:
    return trace_completed(purchaser, trace_id)


DIVERSION = DiversionAlertRaised.model_validate(
    {
        "alert_id": "DA-1",
        "reason": "incident matches an open pre-export notification",
        "exporter": {"name": "Gulf Coast Solvents, Inc.", "country": "US"},
        "importer": {"name": "Química del Norte, S.A. de C.V.", "country": "MX"},
        "substance": {"code": "P2P", "table": "I", "cas": "103-79-7", "name_en": "P-2-P", "name_es": "P-2-P"},
        "notification_id": "PN-1",
        "pen_reference": "US-PEN-1",
    }
)


# -- financial reports and cash (AP12) ---------------------------------------------------------------


async def test_a_report_is_recorded_and_its_redelivery_publishes_nothing_more() -> None:
    h = harness()
    facts = await h.send(bank_report(5000), markings=GREEN, event_id="r-1")
    [recorded] = of(facts, "report.recorded.v1")
    assert len(facts) == 1
    assert recorded.data["report_reference"] == "STR-1"
    assert recorded.data["total_amount"] == {"USD": 5000}
    assert await h.send(bank_report(5000), markings=GREEN, event_id="r-1") == []
    assert len(h.records(CashActivities).heads) == 1


async def test_three_cash_amounts_just_under_the_threshold_raise_one_structuring_alert() -> None:
    h = harness()
    facts = await h.send(bank_report(9500, 9800, 9000), markings=GREEN, event_id="r-1")
    [alert] = of(facts, "alert.raised.v1")
    assert alert.data["kind"] == "structuring"
    assert alert.data["evidence"]["total"] == 28300
    assert alert.data["subjects"][0]["person"]["surnames"] == ["Ruiz", "Salinas"]
    assert await h.send(bank_report(9500, 9800, 9000), markings=GREEN, event_id="r-1") == []


async def test_a_structuring_alert_interrupted_after_the_cash_is_recorded_is_raised_on_redelivery() -> None:
    h = harness()
    h.records(CashActivities).fail_after_commits = 1  # the cash is stored, then the process "dies"
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(bank_report(9500, 9800, 9000), markings=GREEN, event_id="r-1")
    assert alerts_of(h, "structuring") == []
    await h.send(bank_report(9500, 9800, 9000), markings=GREEN, event_id="r-1")  # the redelivery
    await h.send(bank_report(9500, 9800, 9000), markings=GREEN, event_id="r-1")
    assert len(alerts_of(h, "structuring")) == 1
    assert len(published(h, "alert.raised.v1")) == 1


async def test_a_structuring_alert_from_a_red_report_is_red() -> None:
    h = harness()
    facts = await h.send(bank_report(9500, 9800, 9000), markings=RED)
    assert_at_least(of(facts, "alert.raised.v1"), RED)


async def test_a_report_answering_an_alert_closes_its_suspicious_report_deadline() -> None:
    h = harness()
    [alert] = of(await h.send(bank_report(9500, 9800, 9000), markings=GREEN), "alert.raised.v1")
    alert_id = alert.data["alert_id"]
    sar = bank_report(9500, reference="SAR-1", report_code="SAR", alert_id=alert_id)
    await h.send(sar, markings=AMBER, event_id="sar-1")
    answered = await h.repository(Alerts).get(alert_id)
    assert answered is not None
    deadline = answered.deadline(SUSPICIOUS_REPORT)
    assert deadline is not None
    assert deadline.state is DeadlineState.MET
    assert answered.markings.is_at_least_as_strict_as(AMBER)


async def test_a_report_naming_an_alert_not_held_here_is_still_recorded() -> None:
    h = harness()
    facts = await h.send(bank_report(5000, alert_id="AL-elsewhere"), markings=GREEN)
    assert len(of(facts, "report.recorded.v1")) == 1


async def test_an_incomplete_report_is_refused_with_its_reason() -> None:
    with pytest.raises(DomainRuleViolation, match="at least one subject"):
        await harness().send(bank_report(5000, subjects=[]), markings=GREEN)


async def test_figures_that_do_not_reconcile_raise_one_alert() -> None:
    h = harness()
    assert await h.send(figures("US", 1_000_000), markings=GREEN) == []
    [alert] = await h.send(figures("MX", 700_000), markings=GREEN, event_id="mx-1")
    assert alert.data["kind"] == "unreconciled_figures"
    assert alert.data["evidence"]["reported_usd"] == {"US": 1_000_000, "MX": 700_000}
    assert await h.send(figures("MX", 700_000), markings=GREEN, event_id="mx-1") == []
    assert await h.send(figures("MX", 650_000), markings=GREEN, event_id="mx-2") == []  # alerted once


@pytest.mark.parametrize("us_first", [True, False])
async def test_unreconciled_figures_whichever_country_reports_first(us_first: bool) -> None:
    h = harness()
    reports = [figures("US", 1_000_000), figures("MX", 700_000)]
    for report in reports if us_first else reversed(reports):
        await h.send(report, markings=GREEN)
    [alert] = published(h, "alert.raised.v1")
    assert alert.data["evidence"]["reported_usd"] == {"US": 1_000_000, "MX": 700_000}


async def test_an_unreconciled_figures_alert_interrupted_after_the_figures_are_stored_is_raised_on_redelivery() -> None:
    h = harness()
    await h.send(figures("US", 1_000_000), markings=GREEN)
    h.records(MonthlyFigures).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(figures("MX", 700_000), markings=GREEN, event_id="mx-1")
    assert alerts_of(h, "unreconciled_figures") == []
    await h.send(figures("MX", 700_000), markings=GREEN, event_id="mx-1")
    await h.send(figures("MX", 700_000), markings=GREEN, event_id="mx-1")
    assert len(alerts_of(h, "unreconciled_figures")) == 1
    assert len(published(h, "alert.raised.v1")) == 1


async def test_an_unreconciled_figures_alert_is_as_strict_as_both_figures() -> None:
    h = harness()
    await h.send(figures("US", 1_000_000), markings=RED)
    facts = await h.send(figures("MX", 700_000), markings=GREEN)
    assert_at_least(facts, RED, GREEN)


# -- flow 2: declared and seized currency, forfeiture (AP12, AP13) -----------------------------------


async def test_a_declaration_is_recorded_and_its_redelivery_publishes_nothing_more() -> None:
    h = harness()
    [recorded] = await h.send(declaration(), markings=AMBER, event_id="d-1")
    assert recorded.type == ML + "currency_declaration.recorded.v1"
    assert (recorded.data["declaration_reference"], recorded.data["amount"]) == ("CMIR-1", 25000)
    assert await h.send(declaration(), markings=AMBER, event_id="d-1") == []


async def test_seized_currency_becomes_an_asset_and_its_redelivery_publishes_nothing_more() -> None:
    h = harness()
    [seized] = await h.send(seizure(25000), markings=AMBER, event_id="s-1")
    assert seized.type == ML + "asset.seized.v1"
    assert (seized.data["seizure_id"], seized.data["amount"], seized.data["seizing_country"]) == ("SZ-1", 25000, "US")
    assert await h.send(seizure(25000), markings=AMBER, event_id="s-1") == []


async def test_a_corrected_seizure_adds_only_the_currency_not_seen_before() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    facts = await h.send(seizure(25000, 3000, corrected=True), markings=AMBER)
    assert [f.data["amount"] for f in of(facts, "asset.seized.v1")] == [3000]
    assert len(h.records(Assets).heads) == 2


async def undeclared_alerts_after_the_window(h: H) -> list[CloudEvent]:
    for asset_id in list(h.records(Assets).heads):
        await h.repository(Assets).escalate_deadlines(asset_id, WINDOW_CLOSED, "money_laundering")
    return of(await h.settle(own_topic=MONEY_LAUNDERING_EVENTS), "alert.raised.v1")


@pytest.mark.parametrize("declaration_first", [True, False])
async def test_a_declaration_covers_seized_currency_whichever_arrives_first(declaration_first: bool) -> None:
    h = harness()
    steps: list[Callable[[], Awaitable[list[CloudEvent]]]] = [
        lambda: h.send(declaration(), markings=AMBER),
        lambda: h.send(seizure(25000), markings=AMBER),
    ]
    for step in steps if declaration_first else reversed(steps):
        await step()
    [asset_id] = h.records(Assets).heads
    asset = await h.repository(Assets).get(asset_id)
    assert asset is not None
    assert asset.declarations == ["CMIR-1"]
    window = asset.deadline(DECLARATION_CHECK)
    assert window is not None
    assert window.state is DeadlineState.MET
    assert await undeclared_alerts_after_the_window(h) == []


async def test_a_declaration_for_less_than_was_carried_does_not_cover_it() -> None:
    h = harness()
    await h.send(declaration(5000), markings=AMBER)
    await h.send(seizure(25000), markings=AMBER)
    [alert] = await undeclared_alerts_after_the_window(h)
    assert alert.data["kind"] == "undeclared_currency"


async def test_undeclared_currency_raises_one_alert_when_the_declaration_window_closes() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    [alert] = await undeclared_alerts_after_the_window(h)
    assert alert.data["kind"] == "undeclared_currency"
    assert alert.data["evidence"]["seizure_id"] == "SZ-1"
    assert await undeclared_alerts_after_the_window(h) == []  # the breach again, and the clock again
    assert len(alerts_of(h, "undeclared_currency")) == 1


async def test_the_window_policy_decides_from_the_stored_asset_not_from_the_breach() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    [asset_id] = h.records(Assets).heads
    await h.repository(Assets).escalate_deadlines(asset_id, WINDOW_CLOSED, "money_laundering")
    await h.send(declaration(), markings=AMBER)  # recorded before the policy reads the breach
    assert of(await h.settle(own_topic=MONEY_LAUNDERING_EVENTS), "alert.raised.v1") == []


async def test_an_undeclared_currency_alert_interrupted_after_it_is_stored_is_not_raised_twice() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    [asset_id] = h.records(Assets).heads
    await h.repository(Assets).escalate_deadlines(asset_id, WINDOW_CLOSED, "money_laundering")
    [breach] = [p for p in h.published if p.event.type == "org.alliance.deadline.breached.v1"]
    h.records(Alerts).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.deliver(breach.event, breach.topic)
    assert await h.deliver(breach.event, breach.topic) == []  # the redelivery: the alert exists
    [alert] = alerts_of(h, "undeclared_currency")
    assert alert["evidence"]["asset_id"] == asset_id
    assert len(h.records(Alerts).journal) == 1


async def test_the_undeclared_currency_alert_is_as_strict_as_the_seizure() -> None:
    h = harness()
    await h.send(seizure(25000), markings=RED)
    assert_at_least(await undeclared_alerts_after_the_window(h), RED)


async def test_a_seizure_interrupted_after_the_asset_is_stored_records_the_declaration_on_redelivery() -> None:
    h = harness()
    await h.send(declaration(), markings=AMBER)
    h.records(Assets).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(seizure(25000), markings=AMBER, event_id="s-1")
    await h.send(seizure(25000), markings=AMBER, event_id="s-1")
    [asset] = h.records(Assets).heads.values()
    assert asset["declarations"] == ["CMIR-1"]
    assert await undeclared_alerts_after_the_window(h) == []


async def test_a_declaration_interrupted_after_it_is_stored_covers_the_seized_money_on_redelivery() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    h.records(Declarations).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(declaration(), markings=AMBER, event_id="d-1")
    await h.send(declaration(), markings=AMBER, event_id="d-1")
    [asset] = h.records(Assets).heads.values()
    assert asset["declarations"] == ["CMIR-1"]
    assert await undeclared_alerts_after_the_window(h) == []


async def forfeit(h: H, markings: Markings, event_id: str = "f-1") -> list[CloudEvent]:
    [asset_id] = h.records(Assets).heads
    ordered = AssetForfeited(
        asset_id=asset_id, legal_basis="21 U.S.C. 881", forfeited_amount=24000, ordered_on=date(2027, 2, 1)
    )
    return await h.send(ordered, markings=markings, event_id=event_id)


async def test_a_forfeiture_is_recorded_with_a_sharing_proposal_once() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    facts = await forfeit(h, AMBER)
    assert [f.type for f in facts] == [ML + "asset.forfeiture_recorded.v1", ML + "asset.sharing_proposed.v1"]
    assert (facts[1].data["to_country"], facts[1].data["share_amount"]) == ("MX", 12000)
    assert await forfeit(h, AMBER) == []


async def test_a_red_forfeiture_order_makes_its_facts_red() -> None:
    h = harness()
    await h.send(seizure(25000), markings=AMBER)
    assert_at_least(await forfeit(h, RED), RED, AMBER)


@pytest.mark.parametrize("declaration_first", [True, False])
async def test_a_red_declaration_covering_an_asset_makes_the_assets_later_facts_red(declaration_first: bool) -> None:
    h = harness()
    steps: list[Callable[[], Awaitable[list[CloudEvent]]]] = [
        lambda: h.send(declaration(), markings=RED),
        lambda: h.send(seizure(25000), markings=AMBER),
    ]
    for step in steps if declaration_first else reversed(steps):
        await step()
    [asset] = h.records(Assets).heads.values()
    assert asset["declarations"] == ["CMIR-1"]
    assert_at_least(await forfeit(h, GREEN), RED, AMBER)  # what the asset says now rests on the declaration


async def test_a_declaration_that_does_not_cover_the_money_leaves_the_assets_markings_alone() -> None:
    h = harness()
    await h.send(declaration(5000), markings=RED)
    await h.send(seizure(25000), markings=AMBER)
    [asset] = h.records(Assets).heads.values()
    assert asset["declarations"] == []
    assert Markings.model_validate(asset["markings"]) == AMBER


async def test_the_forfeiture_of_an_unknown_asset_is_refused_with_a_reason() -> None:
    ordered = AssetForfeited(asset_id="AS-nope", legal_basis="x", forfeited_amount=1, ordered_on=date(2027, 2, 1))
    with pytest.raises(DomainRuleViolation, match="no seized asset AS-nope"):
        await harness().send(ordered, markings=AMBER)


# -- flow 3: companies named in a diversion alert -------------------------------------------------


async def test_a_diversion_alert_flags_both_companies_once() -> None:
    h = harness()
    facts = await h.send(DIVERSION, markings=AMBER, event_id="da-1")
    assert sorted(f.data["country"] for f in of(facts, "company.flagged.v1")) == ["MX", "US"]
    assert len(facts) == 2
    assert await h.send(DIVERSION, markings=AMBER, event_id="da-1") == []


async def test_a_report_naming_a_flagged_company_raises_an_alert_as_strict_as_the_flag() -> None:
    h = harness()
    await h.send(DIVERSION, markings=RED)
    named = {"kind": "company", "company_name": "QUIMICA DEL NORTE SA DE CV", "country": "MX"}
    facts = await h.send(bank_report(250000, subjects=[named], report_code="STR"), markings=GREEN, event_id="r-1")
    [alert] = of(facts, "alert.raised.v1")
    assert alert.data["kind"] == "flagged_company_reported"
    assert_at_least([alert], RED, GREEN)
    assert await h.send(bank_report(250000, subjects=[named]), markings=GREEN, event_id="r-1") == []


NAMING_THE_IMPORTER = {"kind": "company", "company_name": "QUIMICA DEL NORTE SA DE CV", "country": "MX"}
NAMING_THE_EXPORTER = {"kind": "company", "company_name": "GULF COAST SOLVENTS", "country": "US"}


def company_report(named: dict[str, Any]) -> FinancialReportSubmitted:
    return bank_report(250000, reference="STR-9", subjects=[named])


async def flagged_company_alert(flag_first: bool) -> CloudEvent:
    h = harness()
    steps: list[Callable[[], Awaitable[list[CloudEvent]]]] = [
        lambda: h.send(DIVERSION, markings=RED, event_id="da-1", source="urn:alliance:service:chemicals"),
        lambda: h.send(company_report(NAMING_THE_IMPORTER), markings=GREEN, event_id="r-1"),
    ]
    for step in steps if flag_first else reversed(steps):
        await step()
    for step in steps:  # redeliveries change nothing
        assert await step() == []
    [alert] = published(h, "alert.raised.v1")
    assert len(alerts_of(h, "flagged_company_reported")) == 1
    return alert


async def test_a_flagged_company_and_a_report_naming_it_raise_the_same_alert_whichever_arrives_first() -> None:
    after_flag, before_flag = await flagged_company_alert(True), await flagged_company_alert(False)
    same = ("id", "data", "markings")
    assert [getattr(after_flag, a) for a in same] == [getattr(before_flag, a) for a in same]
    assert after_flag.data["kind"] == "flagged_company_reported"
    assert [s["company_name"] for s in after_flag.data["subjects"]] == ["QUIMICA DEL NORTE SA DE CV"]
    assert_at_least([after_flag], RED, GREEN)


async def test_a_report_naming_no_flagged_company_raises_no_alert_when_companies_are_flagged() -> None:
    h = harness()
    named = {"kind": "company", "company_name": "Química del Sur, S.A. de C.V.", "country": "MX"}
    await h.send(company_report(named), markings=GREEN)
    await h.send(DIVERSION, markings=AMBER)
    assert alerts_of(h, "flagged_company_reported") == []


@pytest.mark.parametrize(("flag_first", "failing"), [(False, FlaggedCompanies), (True, FinancialReports)])
async def test_a_flagged_company_alert_interrupted_between_two_writes_is_raised_once_on_redelivery(
    flag_first: bool, failing: type[Repository[Any]]
) -> None:
    h = harness()
    steps: list[Callable[[], Awaitable[list[CloudEvent]]]] = [
        lambda: h.send(DIVERSION, markings=AMBER, event_id="da-1"),
        lambda: h.send(company_report(NAMING_THE_EXPORTER), markings=GREEN, event_id="r-1"),
    ]
    first, second = steps if flag_first else reversed(steps)
    await first()
    h.records(failing).fail_after_commits = 1  # the exporter's flag, or the report, is stored; then the process "dies"
    with pytest.raises(RuntimeError, match="injected"):
        await second()
    assert alerts_of(h, "flagged_company_reported") == []
    await second()  # the redelivery
    await second()
    assert len(alerts_of(h, "flagged_company_reported")) == 1
    assert len(published(h, "alert.raised.v1")) == 1


# -- flow 5: traced guns' purchasers and investigation subjects -------------------------------------


async def test_an_investigation_is_recorded_and_its_redelivery_publishes_nothing_more() -> None:
    h = harness()
    [recorded] = await h.send(INVESTIGATION, markings=GREEN, event_id="i-1")
    assert recorded.type == ML + "investigation.recorded.v1"
    assert recorded.data["investigation_reference"] == "UIF-7"
    assert await h.send(INVESTIGATION, markings=GREEN, event_id="i-1") == []


def open_investigation(h: H) -> Callable[[], Awaitable[list[CloudEvent]]]:
    return lambda: h.send(INVESTIGATION, markings=GREEN, event_id="i-1")


def purchaser_traced(h: H, markings: Markings = AMBER) -> Callable[[], Awaitable[list[CloudEvent]]]:
    return lambda: h.send(trace(), markings=markings, event_id="t-1", source="urn:alliance:service:firearms")


@pytest.mark.parametrize("investigation_first", [True, False])
async def test_a_traced_purchaser_is_linked_to_the_subject_whichever_arrives_first(investigation_first: bool) -> None:
    h = harness()
    steps = [open_investigation(h), purchaser_traced(h)]
    for step in steps if investigation_first else reversed(steps):
        await step()
    for step in steps:  # redeliveries change nothing
        assert await step() == []
    [link] = published(h, "subject.linked.v1")
    assert link.data["trace_request_id"] == "TR-1"
    assert link.data["subject"]["surnames"] == ["Ruiz", "Salinas"]


async def test_a_purchaser_sharing_only_a_surname_is_not_linked() -> None:
    h = harness()
    await open_investigation(h)()
    stranger = Person(given_names="Pedro", surnames=["Ruiz"], date_of_birth=date(1960, 1, 1))
    assert await h.send(trace(stranger), markings=AMBER) == []


async def test_a_purchaser_the_matcher_only_calls_possible_is_not_linked() -> None:
    """Twins-like: same surnames and date of birth, a different second given name. Only a match links."""
    from person_matching.matching import match_persons

    h = harness()
    await open_investigation(h)()
    sister = Person(given_names="Ana Lucía", surnames=["Ruiz", "Salinas"], date_of_birth=date(1985, 2, 2))
    assert match_persons(ANA, sister).possible
    assert await h.send(trace(sister), markings=AMBER) == []


@pytest.mark.parametrize("investigation_first", [True, False])
async def test_a_link_from_a_red_trace_is_red(investigation_first: bool) -> None:
    h = harness()
    steps = [open_investigation(h), purchaser_traced(h, RED)]
    for step in steps if investigation_first else reversed(steps):
        await step()
    assert_at_least(published(h, "subject.linked.v1"), RED, GREEN)


async def test_an_investigation_interrupted_after_it_is_stored_is_linked_on_redelivery() -> None:
    h = harness()
    await purchaser_traced(h)()
    h.records(Investigations).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await open_investigation(h)()
    await open_investigation(h)()
    await open_investigation(h)()
    [investigation] = h.records(Investigations).heads.values()
    assert investigation["links"] == ["TR-1"]
    assert len(published(h, "subject.linked.v1")) == 1


async def test_a_traced_purchaser_interrupted_after_it_is_stored_is_linked_on_redelivery() -> None:
    h = harness()
    await open_investigation(h)()
    h.records(TracedPurchasers).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await purchaser_traced(h)()
    await purchaser_traced(h)()
    await purchaser_traced(h)()
    [investigation] = h.records(Investigations).heads.values()
    assert investigation["links"] == ["TR-1"]
    assert len(published(h, "subject.linked.v1")) == 1


# -- who may act: the authenticated sender, never a data field (AP12, AP13) -------------------------------

AFMLS, FGR, UIF, FINCEN = (registered_sender(a) for a in ("us-doj-afmls", "mx-fgr", "mx-uif", "us-fincen"))
CBP = registered_sender("us-cbp")


async def forfeiture_of(h: H, amount: float, sender: Sender) -> list[CloudEvent]:
    [asset_id] = h.records(Assets).heads
    ordered = AssetForfeited(asset_id=asset_id, legal_basis="x", forfeited_amount=amount, ordered_on=date(2027, 2, 1))
    return await h.send(ordered, markings=AMBER, sender=sender)


async def test_only_the_seizing_countrys_authority_forfeits_and_others_learn_nothing_of_the_asset() -> None:
    h = harness()
    await h.send(seizure(123_456), markings=AMBER)  # seized in the US
    with pytest.raises(RecordNotYetKnown) as refused:
        await forfeiture_of(h, 200_000, FGR)  # Mexico's central authority, asking for more than was seized
    [asset_id] = h.records(Assets).heads
    assert refused.value.public == f"no seized asset {asset_id}"  # what an unknown asset is told
    assert "123,456" not in refused.value.public
    assert "US" not in refused.value.public
    assert published(h, "asset.forfeiture_recorded.v1") == []
    with pytest.raises(RecordNotYetKnown) as customs:
        await forfeiture_of(h, 100, CBP)  # customs of the seizing country: not a forfeiture authority
    assert customs.value.public == f"no seized asset {asset_id}"
    assert "is not a forfeiture or central authority" in str(customs.value)
    [recorded] = of(await forfeiture_of(h, 100_000, AFMLS), "asset.forfeiture_recorded.v1")
    assert recorded.data["forfeited_amount"] == 100_000


async def test_a_forfeiture_beyond_the_seized_amount_does_not_quote_it() -> None:
    h = harness()
    await h.send(seizure(123_456), markings=AMBER)
    with pytest.raises(DomainRuleViolation) as refused:
        await forfeiture_of(h, 200_000, AFMLS)
    assert "123,456.00 USD" in str(refused.value)  # the dead letter's reason, for operators
    assert "123,456" not in refused.value.public
    assert "USD" not in refused.value.public


async def test_a_report_answers_only_an_alert_its_sender_may_see() -> None:
    h = harness()
    [alert] = of(await h.send(bank_report(9500, 9800, 9000), markings=RED), "alert.raised.v1")  # US-only, RED
    sar = bank_report(9500, reference="SAR-1", report_code="SAR", alert_id=alert.data["alert_id"])
    facts = await h.send(sar, markings=GREEN, sender=UIF)  # Mexico's FIU naming the US-only alert
    assert len(of(facts, "report.recorded.v1")) == 1  # recorded, as for an alert not held here
    answered = await h.repository(Alerts).get(alert.data["alert_id"])
    assert answered is not None
    deadline = answered.deadline(SUSPICIOUS_REPORT)
    assert deadline is not None
    assert deadline.state is DeadlineState.OPEN


async def test_an_fiu_files_only_its_own_countrys_reports() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="reporting_country MX is not the sending agency's country"):
        await h.send(bank_report(5000), markings=GREEN, sender=FINCEN)
    assert h.records(FinancialReports).heads == {}


async def test_a_country_reports_only_its_own_figure_and_cannot_overwrite_the_others() -> None:
    h = harness()
    await h.send(figures("US", 1_000_000), markings=GREEN, sender=FINCEN)
    with pytest.raises(DomainRuleViolation, match="reporting_country US is not the sending agency's country"):
        await h.send(figures("US", 700_000), markings=GREEN, sender=UIF)  # MX overwriting the US figure
    outside = CrossBorderFiguresReported(
        reporting_country="MX", from_country="US", to_country="GT", year=2026, month=10, total_usd=1
    )
    with pytest.raises(DomainRuleViolation, match="crossing between the reporting country and another"):
        await h.send(outside, markings=GREEN, sender=UIF)
    another_us = Sender("us-fincen-2", "US", "fiu")
    with pytest.raises(DomainRuleViolation) as refused:
        await h.send(figures("US", 10), markings=GREEN, sender=another_us)
    assert refused.value.public == "US's figure for 2026-10 is another agency's"
    [stored] = h.records(MonthlyFigures).heads.values()
    assert stored["reported"] == {"US": 1_000_000}
    await h.send(figures("US", 990_000), markings=GREEN, sender=FINCEN)  # its own correction
    [stored] = h.records(MonthlyFigures).heads.values()
    assert stored["reported"] == {"US": 990_000}


async def test_declarations_are_filed_in_the_senders_country_under_its_own_reference() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="filed_in US is not the sending agency's country"):
        await h.send(declaration(), markings=GREEN, sender=UIF)
    mx = declaration().model_copy(update={"filed_in": "MX"})
    await h.send(mx, markings=GREEN, sender=registered_sender("mx-anam"))
    await h.send(mx.model_copy(update={"amount": 1}), markings=GREEN, sender=UIF)  # the same reference
    stored = sorted(d["declaration"]["amount"] for d in h.records(Declarations).heads.values())
    assert stored == [1, 25000]  # one each: neither squats the other's reference
