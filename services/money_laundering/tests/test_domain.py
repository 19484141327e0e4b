from datetime import UTC, date, datetime
from typing import Any

import pytest

from alliance.contracts.chemicals import Company
from alliance.contracts.common import Person, Place
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.money_laundering import (
    AssetSharingProposed,
    CrossBorderFiguresReported,
    InvestigationOpened,
    Party,
    SubjectLinked,
)
from alliance.domain.errors import DomainRuleViolation
from money_laundering.domain import (
    CURRENCY_REPORT,
    Asset,
    AssetStatus,
    CashActivity,
    CrossBorderFigures,
    Declaration,
    FinancialReport,
    FlaggedCompany,
    Investigation,
)
from payloads.money_laundering import ANA, ANA_PARTY, bank_report
from payloads.money_laundering import declaration as declared

UIF = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-uif",))
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def report(code: str = "STR", amounts: tuple[float, ...] = (9500,), **extra: Any) -> FinancialReport:
    submitted = bank_report(*amounts, reference=f"R-{code}-{amounts}", report_code=code, **extra)
    return FinancialReport.submit(submitted, "urn:agency:mx-uif", UIF)


@pytest.mark.parametrize(
    ("code", "extra", "message"),
    [
        ("STR", {"subjects": []}, "at least one subject"),
        ("SAR", {"indicators": []}, "at least one indicator"),
        ("CTR", {}, "cash transaction of at least 10,000"),
        ("STR", {"report_date": "2026-11-01"}, "after the report"),
    ],
)
def test_goaml_business_rules_refuse_incomplete_reports(code: str, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(DomainRuleViolation, match=message):
        report(code, **extra)


def test_three_cash_deposits_just_under_the_threshold_within_a_week_are_structuring() -> None:
    r = report(amounts=(9500, 9800, 9000))
    [(party, transactions)] = r.cash_by_party().values()
    activity = CashActivity(id=CashActivity.id_for(party), markings=UIF, party=party)
    triggers = activity.record(r, transactions, UIF)
    assert len(triggers) == 1
    assert activity.structuring_evidence(triggers[0])["total"] == 28300
    assert activity.record(r, transactions, UIF) == []  # the same report again changes nothing


def test_large_cash_in_a_suspicious_report_needs_a_ctr_within_15_days() -> None:
    r = report(amounts=(15000,))
    [(party, transactions)] = r.cash_by_party().values()
    activity = CashActivity(id=CashActivity.id_for(party), markings=UIF, party=party)
    activity.record(r, transactions, UIF)
    [deadline] = activity.deadlines
    assert deadline.kind.startswith(CURRENCY_REPORT)
    assert deadline.due_at == datetime(2026, 11, 25, tzinfo=UTC)
    ctr = report("CTR", amounts=(15000,), report_reference="CTR-1")
    activity.record(ctr, next(iter(ctr.cash_by_party().values()))[1], UIF)
    assert activity.next_deadline_at() is None


def asset(detained: list[Person]) -> Asset:
    return Asset.seize(
        "SZ-1", 1, 48500, "USD", Place(description="Laredo", country="US"), date(2026, 11, 20), detained, UIF
    )


def declaration(amount: float, traveller: Person = ANA) -> Declaration:
    return Declaration.file(declared(amount, reference=f"CMIR-{amount}", traveller=traveller), UIF, "us-cbp")


def test_seized_currency_is_compared_with_the_declarations() -> None:
    assert asset([ANA]).declared_by([declaration(48500)]) == ["CMIR-48500"]
    assert asset([ANA]).declared_by([declaration(10000)]) == []  # declared less than was carried
    other = Person(given_names="Luis", surnames=["Soto"], date_of_birth=date(1970, 1, 1))
    assert asset([ANA]).declared_by([declaration(48500, other)]) == []


def test_undeclared_is_decided_when_the_declaration_window_closes_whatever_arrived_first() -> None:
    closes = datetime(2026, 11, 21, tzinfo=UTC)
    late = asset([ANA])  # the declaration is reported after the seizure, within the window
    late.record_declarations([declaration(48500)])
    late.escalate_deadlines(closes, "money_laundering")
    assert late.declarations == ["CMIR-48500"]
    assert not late.undeclared
    assert late.next_deadline_at() is None  # the window was met: the clock has nothing left to do
    missing = asset([ANA])
    missing.record_declarations([declaration(10000)])  # less than was carried: does not count
    assert not missing.undeclared  # not before the window closes
    missing.escalate_deadlines(closes, "money_laundering")
    assert missing.undeclared


def test_forfeiture_produces_a_sharing_proposal_to_the_other_country() -> None:
    a = asset([ANA])
    a.forfeit(40000, "21 U.S.C. 881", date(2027, 2, 1))
    assert a.status is AssetStatus.FORFEITED
    sharing = a.pending_events[-1]
    assert isinstance(sharing, AssetSharingProposed)
    assert (sharing.from_country, sharing.to_country, sharing.share_amount) == ("US", "MX", 20000)
    with pytest.raises(DomainRuleViolation, match="already forfeited"):
        a.forfeit(1, "x", date(2027, 2, 2))
    with pytest.raises(DomainRuleViolation, match=r"only 48,500\.00 USD was seized"):
        asset([ANA]).forfeit(50000, "x", date(2027, 2, 1))


def test_figures_that_do_not_reconcile_raise_once() -> None:
    def figures(country: str, total: float) -> CrossBorderFiguresReported:
        return CrossBorderFiguresReported(
            reporting_country=country, from_country="US", to_country="MX", year=2026, month=10, total_usd=total
        )

    record = CrossBorderFigures(id="XB-1", markings=UIF, from_country="US", to_country="MX", year=2026, month=10)
    assert not record.report(figures("US", 1_000_000), UIF)
    assert record.report(figures("MX", 700_000), UIF)
    assert not record.report(figures("MX", 650_000), UIF)
    close = CrossBorderFigures(id="XB-2", markings=UIF, from_country="US", to_country="MX", year=2026, month=11)
    close.report(figures("US", 1_000_000), UIF)
    assert not close.report(figures("MX", 950_000), UIF)


def test_trace_purchaser_matching_a_subject_is_linked_once() -> None:
    inv = Investigation.open(
        InvestigationOpened(
            investigation_reference="UIF-7", agency="UIF", subjects=[Party.model_validate(ANA_PARTY)], coordinated=True
        ),
        "urn:x",
        UIF,
    )
    buyer = Person(given_names="ANA MARIA", surnames=["RUIZ"], date_of_birth=date(1985, 2, 2))
    atf = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("MX", "US"), originators=("us-atf",))
    assert inv.link_purchaser("TR-1", buyer, atf)
    assert not inv.link_purchaser("TR-1", buyer, atf)
    assert isinstance(inv.pending_events[-1], SubjectLinked)
    assert inv.markings.tlp is TLP.AMBER_STRICT
    stranger = Person(given_names="Pedro", surnames=["Ruiz"], date_of_birth=date(1960, 1, 1))
    assert not inv.link_purchaser("TR-2", stranger, atf)


def test_company_flagged_once_per_diversion_alert() -> None:
    company = Company(name="Química del Norte, S.A. de C.V.", country="MX")
    f = FlaggedCompany.first(company, UIF)
    f.flag("DA-1", "incident matches an open pre-export notification", UIF)
    f.flag("DA-1", "again", UIF)
    assert len(f.pending_events) == 1
    assert FlaggedCompany.id_for(Company(name="QUIMICA DEL NORTE SA DE CV", country="MX")) == f.id
