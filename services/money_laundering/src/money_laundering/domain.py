"""Financial reports, cash activity, declarations, alerts, investigations and assets (AP12, AP13).

Pure rules, no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from alliance.contracts.chemicals import Company
from alliance.contracts.common import Person, Place
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import Markings, strictest
from alliance.contracts.money_laundering import (
    AlertKind,
    AssetForfeitureRecorded,
    AssetSeized,
    AssetSharingProposed,
    CompanyFlagged,
    CrossBorderFiguresReported,
    CurrencyDeclarationFiled,
    CurrencyDeclarationRecorded,
    FinancialReportRecorded,
    FinancialReportSubmitted,
    InvestigationOpened,
    InvestigationRecorded,
    MoneyLaunderingAlertRaised,
    Party,
    PartyKind,
    ReportCode,
    SubjectLinked,
    Transaction,
    TransactionMode,
)
from alliance.contracts.registry import AgencyKind
from alliance.domain.aggregate import Aggregate
from alliance.domain.deadlines import Deadline, DeadlineBreached
from alliance.domain.errors import DomainRuleViolation, NotYours
from alliance.domain.ids import derived_id
from alliance.domain.names import company_key
from alliance.domain.principals import Sender, require_own_country
from person_matching.matching import MatchResult, match_persons, person_key, surname_keys

CASH_REPORTING_THRESHOLD = 10_000.0  # USD (FinCEN CTR; Mexico's cash reporting uses a similar figure)
STRUCTURING_FLOOR = 0.8  # cash amounts from 80% of the threshold up to it are "just below"
STRUCTURING_COUNT = 3
STRUCTURING_WINDOW = timedelta(days=7)
SUSPICIOUS_REPORT = "suspicious_report_filing"
SUSPICIOUS_REPORT_PERIOD = timedelta(days=30)
CURRENCY_REPORT = "currency_report_filing"
CURRENCY_REPORT_PERIOD = timedelta(days=15)
RECONCILIATION_TOLERANCE = 0.10  # AP12 1.4: figures differing by more than this do not reconcile
DEFAULT_SHARE_PERCENT = 50.0  # AP13: reciprocal sharing; the actual share reflects each country's part

# Who may act, from the sender's registry entry (never from a data field):
# AP12, FATF Rec. 29: an FIU receives the reports of the reporting entities of its own country.
OWN_REPORTS = "an FIU files the reports of its own country's reporting entities (AP12; FATF Rec. 29)"
# AP12, FATF Rec. 32: a cross-border declaration is made to the authorities of the country crossed into or out of.
OWN_DECLARATIONS = "an agency files declarations made to its own country's border authorities (AP12; FATF Rec. 32)"
# AP12 1.4: each country reports its own monthly figure of currency crossing to or from the other.
OWN_FIGURES = "each country reports its own figure of currency crossing to or from the other (AP12 1.4)"
# AP13, 1988 Convention Art. 5(1), 5(5)(b): the Party that seized confiscates under its own law, then
# shares; its forfeiture or central authority reports the order. To any other agency the asset is not known.
FORFEITING_AUTHORITY = "a forfeiture or central authority"
SEIZING_COUNTRY_FORFEITS = "the seizing country's authority reports its forfeiture (AP13; 1988 Convention Art. 5)"


def _day(d: date) -> datetime:
    return datetime.combine(d, time(), UTC)


def company_lookup_key(company: Company) -> str:
    """A company as flags and reports find each other: its country and its name without the legal form."""
    return f"{company.country}|{company_key(company.name)}"


def party_key(party: Party) -> str:
    """The same party across reports: folded names and date of birth, company name, or account."""
    if party.kind is PartyKind.PERSON and party.person:
        return f"person|{person_key(party.person)}"
    if party.kind is PartyKind.COMPANY and party.company_name:
        return f"company|{company_key(party.company_name)}"
    return f"account|{(party.institution or '').lower()}|{party.account_number}"


class Alert(Aggregate):
    """A detection with its evidence; a suspicious-activity report is due within 30 days."""

    RECORD_TYPE = "money_laundering_alert"

    kind: AlertKind
    summary: str
    subjects: list[Party]
    evidence: dict[str, object]

    @classmethod
    def raise_(
        cls,
        alert_id: str,
        kind: AlertKind,
        summary: str,
        subjects: list[Party],
        evidence: dict[str, object],
        markings: Markings,
        now: datetime,
    ) -> Alert:
        alert = cls(id=alert_id, markings=markings, kind=kind, summary=summary, subjects=subjects, evidence=evidence)
        alert._set_deadline(
            Deadline.starting(
                SUSPICIOUS_REPORT, f"suspicious activity report for {kind.value} alert", now, SUSPICIOUS_REPORT_PERIOD
            )
        )
        alert._raise(alert.fact(MoneyLaunderingAlertRaised, alert_id=alert.id))
        return alert

    # One factory per kind of alert (AP12): the id formula, the wording, the evidence and the markings.

    @classmethod
    def for_flagged_company(cls, flagged: FlaggedCompany, report: FinancialReport, now: datetime) -> Alert | None:
        """The alert when the report names the flagged company, else None (flow 3).

        The same alert whichever came first, the flag or the report: its id, its subject (the first
        party naming the company) and its markings (the flag's and the stored report's).
        """
        party = report.subject_naming(flagged.company)
        if party is None:
            return None
        return cls.raise_(
            derived_id("AL", flagged.id, report.id),
            AlertKind.FLAGGED_COMPANY_REPORTED,
            f"{party.company_name}, flagged for precursor diversion, appears in report "
            f"{report.report.report_reference}",
            [party],
            {"flagged_by": flagged.alerts},
            combined(flagged.markings, report.markings),
            now,
        )

    @classmethod
    def for_structuring(cls, activity: CashActivity, trigger: str, party: Party, now: datetime) -> Alert:
        return cls.raise_(
            derived_id("AL", activity.id, trigger),
            AlertKind.STRUCTURING,
            f"structuring: cash amounts just under {CASH_REPORTING_THRESHOLD:,.0f} within a week",
            [party],
            activity.structuring_evidence(trigger),
            activity.markings,
            now,
        )

    @classmethod
    def for_undeclared_currency(cls, asset: Asset, now: datetime) -> Alert:
        return cls.raise_(
            derived_id("AL", asset.id, "undeclared"),
            AlertKind.UNDECLARED_CURRENCY,
            f"{asset.amount:,.2f} {asset.currency} seized at {asset.place.description} was not declared",
            [Party(kind=PartyKind.PERSON, person=p) for p in asset.detained],
            {"asset_id": asset.id, "seizure_id": asset.seizure_id, "declarations_checked": "window closed"},
            asset.markings,
            now,
        )

    @classmethod
    def for_unreconciled_figures(cls, figures: CrossBorderFigures, now: datetime) -> Alert:
        return cls.raise_(
            derived_id("AL", figures.id),
            AlertKind.UNRECONCILED_FIGURES,
            f"{figures.from_country}→{figures.to_country} currency figures for "
            f"{figures.year}-{figures.month:02d} do not reconcile",
            [],
            {"reported_usd": figures.reported},
            figures.markings,
            now,
        )

    def answered_by_report(self) -> None:
        self._close_deadline(SUSPICIOUS_REPORT)


class FinancialReport(Aggregate):
    RECORD_TYPE = "financial_report"

    report: FinancialReportSubmitted

    @classmethod
    def submit(
        cls, report: FinancialReportSubmitted, source: str, markings: Markings, sender: Sender | None = None
    ) -> FinancialReport:
        """goAML business rules: what each kind of report must contain, with the reason when it does not."""
        if report.report_code in {ReportCode.STR, ReportCode.SAR}:
            if not report.subjects:
                raise DomainRuleViolation("a suspicious report needs at least one subject")
            if not report.indicators:
                raise DomainRuleViolation("a suspicious report needs at least one indicator")
        if report.report_code is ReportCode.CTR and not any(
            t.mode is TransactionMode.CASH and t.amount >= CASH_REPORTING_THRESHOLD for t in report.transactions
        ):
            raise DomainRuleViolation(
                f"a currency transaction report needs a cash transaction of at least {CASH_REPORTING_THRESHOLD:,.0f}"
            )
        if any(t.date > report.report_date for t in report.transactions):
            raise DomainRuleViolation("a transaction is dated after the report")
        require_own_country(sender, report.reporting_country, "reporting_country", OWN_REPORTS)
        record = cls(id=derived_id("FR", source, report.report_reference), markings=markings, report=report)
        totals: dict[str, float] = {}
        for t in report.transactions:
            totals[t.currency] = round(totals.get(t.currency, 0.0) + t.amount, 2)
        record._raise(
            record.fact(
                FinancialReportRecorded,
                report,
                report_id=record.id,
                transactions=len(report.transactions),
                total_amount=totals,
            )
        )
        return record

    def lookup_keys(self) -> dict[str, Any]:
        # Flow 3 from the other side: a company flagged after the report finds the reports naming it.
        return {"company_keys": sorted({company_lookup_key(company) for _, company in self.named_companies()})}

    def subject_naming(self, company: Company) -> Party | None:
        """The first subject naming the company, however its name is written; None if none does."""
        key = company_lookup_key(company)
        return next((party for party, named in self.named_companies() if company_lookup_key(named) == key), None)

    def named_companies(self) -> list[tuple[Party, Company]]:
        """The companies the report names as subjects, where it says enough to know them (name and country)."""
        return [
            (party, Company(name=party.company_name, country=party.country))
            for party in self.report.subjects
            if party.kind is PartyKind.COMPANY and party.company_name and party.country
        ]

    def cash_by_party(self) -> dict[str, tuple[Party, list[Transaction]]]:
        """Cash transactions grouped by the party who conducted them (the payer, else the subjects)."""
        grouped: dict[str, tuple[Party, list[Transaction]]] = {}
        for t in self.report.transactions:
            if t.mode is not TransactionMode.CASH:
                continue
            for party in [t.from_party] if t.from_party else self.report.subjects:
                grouped.setdefault(party_key(party), (party, []))[1].append(t)
        return grouped


class CashActivity(Aggregate):
    """One party's cash transactions across reports: structuring and currency-report obligations (AP12)."""

    RECORD_TYPE = "cash_activity"

    party: Party
    transactions: list[dict[str, object]] = []
    structuring_alerted: list[str] = []

    @staticmethod
    def id_for(party: Party) -> str:
        return derived_id("CA", party_key(party))

    @classmethod
    def first(cls, party: Party, markings: Markings) -> CashActivity:
        return cls(id=cls.id_for(party), markings=markings, party=party)

    def record(self, report: FinancialReport, transactions: list[Transaction], markings: Markings) -> list[str]:
        """Add the report's cash transactions; returns the ids of transactions that trigger structuring."""
        self.absorb_markings(markings)
        seen = {str(t["key"]) for t in self.transactions}
        added = []
        for i, t in enumerate(transactions):
            key = f"{report.id}:{i}"
            if key in seen:
                continue
            self.transactions = [
                *self.transactions,
                {
                    "key": key,
                    "date": t.date.isoformat(),
                    "amount": t.amount,
                    "currency": t.currency,
                    "report": report.report.report_code,
                },
            ]
            added.append((key, t))
            large = t.amount >= CASH_REPORTING_THRESHOLD
            if large and report.report.report_code is not ReportCode.CTR:
                # A large cash transaction must also be reported on a CTR within 15 days.
                self._set_deadline(
                    Deadline.starting(
                        f"{CURRENCY_REPORT}:{t.date}:{t.amount:.2f}",
                        f"currency transaction report for {t.amount:,.2f} {t.currency}",
                        _day(t.date),
                        CURRENCY_REPORT_PERIOD,
                    )
                )
            if large and report.report.report_code is ReportCode.CTR:
                self._close_deadline(f"{CURRENCY_REPORT}:{t.date}:{t.amount:.2f}")
        triggered = [(key, t) for key, t in added if self._structured_around(t)]
        if not triggered:
            return []
        key, t = triggered[-1]  # one alert per pattern, not one per deposit in it
        for earlier in self.structuring_alerted:
            when = next(date.fromisoformat(str(x["date"])) for x in self.transactions if x["key"] == earlier)
            if abs(when - t.date) <= STRUCTURING_WINDOW:
                return []
        self.structuring_alerted = [*self.structuring_alerted, key]
        return [key]

    def structuring_in(self, report: FinancialReport) -> list[str]:
        """The structuring patterns the report's transactions triggered, as stored.

        Read from the stored state, not from what one attempt changed: a retry after a crash between
        recording the cash and raising the alert still finds them.
        """
        return [key for key in self.structuring_alerted if key.startswith(f"{report.id}:")]

    def _structured_around(self, t: Transaction) -> bool:
        if not (STRUCTURING_FLOOR * CASH_REPORTING_THRESHOLD <= t.amount < CASH_REPORTING_THRESHOLD):
            return False
        near = [
            x
            for x in self.transactions
            if STRUCTURING_FLOOR * CASH_REPORTING_THRESHOLD <= float(str(x["amount"])) < CASH_REPORTING_THRESHOLD
            and abs(date.fromisoformat(str(x["date"])) - t.date) <= STRUCTURING_WINDOW
        ]
        return len(near) >= STRUCTURING_COUNT

    def structuring_evidence(self, around: str) -> dict[str, object]:
        center = next(x for x in self.transactions if x["key"] == around)
        day = date.fromisoformat(str(center["date"]))
        window = [
            x
            for x in self.transactions
            if STRUCTURING_FLOOR * CASH_REPORTING_THRESHOLD <= float(str(x["amount"])) < CASH_REPORTING_THRESHOLD
            and abs(date.fromisoformat(str(x["date"])) - day) <= STRUCTURING_WINDOW
        ]
        return {
            "threshold": CASH_REPORTING_THRESHOLD,
            "window_days": STRUCTURING_WINDOW.days,
            "transactions": [{k: v for k, v in x.items() if k != "key"} for x in window],
            "total": round(sum(float(str(x["amount"])) for x in window), 2),
        }


class Declaration(Aggregate):
    RECORD_TYPE = "currency_declaration"

    declaration: CurrencyDeclarationFiled
    surname_keys: list[str]

    @classmethod
    def file(
        cls, event: CurrencyDeclarationFiled, markings: Markings, by: str, sender: Sender | None = None
    ) -> Declaration:
        """A declaration under the filing agency's own reference (its namespace: no agency takes another's)."""
        require_own_country(sender, event.filed_in, "filed_in", OWN_DECLARATIONS)
        record = cls(
            id=derived_id("CD", by, event.declaration_reference),
            markings=markings,
            declaration=event,
            surname_keys=surname_keys(event.traveller),
        )
        record._raise(record.fact(CurrencyDeclarationRecorded, event, declaration_id=record.id))
        return record


DECLARATION_CHECK = "declaration_check"
DECLARATION_WINDOW = timedelta(days=1)  # a declaration is reported within a day of the crossing
# The names of the deadline kinds this domain sets (a closed set: metrics are labelled by them).
DEADLINE_KINDS = (SUSPICIOUS_REPORT, CURRENCY_REPORT, DECLARATION_CHECK)


class AssetStatus(StrEnum):
    SEIZED = "seized"
    FORFEITED = "forfeited"


class Asset(Aggregate):
    """Seized currency on its way to forfeiture and sharing (AP13)."""

    RECORD_TYPE = "asset"

    seizure_id: str
    amount: float
    currency: str
    seizing_country: str
    place: Place
    seized_on: date
    detained: list[Person]
    status: AssetStatus = AssetStatus.SEIZED
    forfeited_amount: float | None = None
    declarations: list[str] = []
    surname_keys: list[str] = []

    @classmethod
    def seize(
        cls,
        seizure_id: str,
        item: int,
        amount: float,
        currency: str,
        place: Place,
        seized_on: date,
        detained: list[Person],
        markings: Markings,
    ) -> Asset:
        asset = cls(
            id=derived_id("AS", seizure_id, item),
            markings=markings,
            seizure_id=seizure_id,
            amount=amount,
            currency=currency,
            seizing_country=place.country,
            place=place,
            seized_on=seized_on,
            detained=detained,
            surname_keys=sorted({k for p in detained for k in surname_keys(p)}),
        )
        # AP12: whether the money was declared is decided when the declaration window has closed, so a
        # declaration reported after the seizure counts the same as one reported before it.
        asset._set_deadline(
            Deadline.starting(
                DECLARATION_CHECK,
                "cross-border currency declaration window",
                datetime.combine(seized_on, time(), UTC),
                DECLARATION_WINDOW,
                warn_fraction=0.0,
            )
        )
        asset._raise(asset.fact(AssetSeized, asset_id=asset.id))
        return asset

    @classmethod
    def from_seizure(cls, seizure: SeizureRecorded, markings: Markings) -> list[Asset]:
        """Flow 2: each currency item of a seizure is an asset (ids by item: a correction re-creates none)."""
        return [
            cls.seize(
                seizure.seizure_id,
                item,
                money.amount,
                money.currency,
                seizure.place,
                seizure.seized_at.date(),
                seizure.detained_persons,
                markings,
            )
            for item, money in enumerate(seizure.currency, start=1)
        ]

    @staticmethod
    def is_declaration_window(breach: DeadlineBreached) -> bool:
        """Whether a breached deadline is an asset's declaration window (the clock breaches every kind)."""
        return breach.record_type == Asset.RECORD_TYPE and breach.kind == DECLARATION_CHECK

    def record_declarations(self, declarations: list[Declaration]) -> None:
        """Declarations that cover this money close the declaration window: no alert will follow.

        What the asset says from then on (no undeclared-currency alert, the forfeiture and sharing
        facts) rests on the declarations too, so it takes their markings: never weaker than them.
        """
        new = [d for d in declarations if d.declaration.declaration_reference not in self.declarations]
        covering = [d for d in new if self.declared_by([d])]
        if covering:
            for d in covering:
                self.absorb_markings(d.markings)
            self.declarations = [*self.declarations, *(d.declaration.declaration_reference for d in covering)]
            self._close_deadline(DECLARATION_CHECK)

    @property
    def undeclared(self) -> bool:
        """The declaration window closed with no declaration covering the money."""
        window = self.deadline(DECLARATION_CHECK)
        return not self.declarations and window is not None and window.breached_raised

    def declared_by(self, declarations: list[Declaration]) -> list[str]:
        """Declarations by people detained with the currency, within 3 days, covering the amount."""
        covered: list[str] = []
        for d in declarations:
            decl = d.declaration
            near = abs((decl.declared_on - self.seized_on).days) <= 3
            who = any(match_persons(decl.traveller, p).match for p in self.detained)
            if near and who and decl.currency == self.currency and decl.amount >= self.amount * 0.95:
                covered.append(decl.declaration_reference)
        return covered

    def forfeit(
        self,
        amount: float,
        legal_basis: str,
        ordered_on: date,
        share_percent: float = DEFAULT_SHARE_PERCENT,
        sender: Sender | None = None,
    ) -> None:
        """Forfeiture by the seizing country, then a sharing proposal to the cooperating country (AP13)."""
        authorities = {AgencyKind.ASSET_FORFEITURE.value, AgencyKind.CENTRAL_AUTHORITY.value}
        if sender is not None and (sender.country != self.seizing_country or sender.kind not in authorities):
            raise NotYours(
                f"asset {self.id} was seized in {self.seizing_country}; {sender.agency} ({sender.kind}, "
                f"{sender.country}) is not {FORFEITING_AUTHORITY}: {SEIZING_COUNTRY_FORFEITS}"
            )
        if self.status is not AssetStatus.SEIZED:
            raise DomainRuleViolation(
                f"asset {self.id} is already {self.status.value}", public=f"asset {self.id} cannot be forfeited again"
            )
        if amount > self.amount:
            raise DomainRuleViolation(
                f"cannot forfeit {amount:,.2f}: only {self.amount:,.2f} {self.currency} was seized",
                public=f"cannot forfeit {amount:,.2f}: more than was seized",
            )
        self.status, self.forfeited_amount = AssetStatus.FORFEITED, amount
        self._raise(
            self.fact(AssetForfeitureRecorded, asset_id=self.id, legal_basis=legal_basis, ordered_on=ordered_on)
        )
        other = "MX" if self.seizing_country == "US" else "US"
        self._raise(
            self.fact(
                AssetSharingProposed,
                asset_id=self.id,
                from_country=self.seizing_country,
                to_country=other,
                share_percent=share_percent,
                share_amount=round(amount * share_percent / 100, 2),
                legal_basis=f"{legal_basis}; reciprocal asset sharing between the United States and Mexico (AP13)",
            )
        )


class CrossBorderFigures(Aggregate):
    """Both countries' figures for one month and direction; they must reconcile (AP12 1.4)."""

    RECORD_TYPE = "cross_border_figures"

    from_country: str
    to_country: str
    year: int
    month: int
    reported: dict[str, float] = {}
    reporters: dict[str, str] = {}  # country → the agency whose figure it is (only it may correct it)
    alerted: bool = False

    @staticmethod
    def id_for(e: CrossBorderFiguresReported) -> str:
        return derived_id("XB", e.from_country, e.to_country, e.year, e.month)

    @classmethod
    def first(cls, e: CrossBorderFiguresReported, markings: Markings) -> CrossBorderFigures:
        return cls(
            id=cls.id_for(e),
            markings=markings,
            from_country=e.from_country,
            to_country=e.to_country,
            year=e.year,
            month=e.month,
        )

    @staticmethod
    def check(e: CrossBorderFiguresReported, sender: Sender | None) -> None:
        """A figure is the sender's own country's, for currency crossing between it and the other."""
        require_own_country(sender, e.reporting_country, "reporting_country", OWN_FIGURES)
        if e.from_country == e.to_country or e.reporting_country not in (e.from_country, e.to_country):
            raise DomainRuleViolation(
                f"a figure is for currency crossing between the reporting country and another: {OWN_FIGURES}"
            )

    def report(self, e: CrossBorderFiguresReported, markings: Markings, by: str = "") -> bool:
        """Record one country's figure; True when both are in and they do not reconcile.

        A country's figure is corrected only by the agency that reported it; neither country's agency
        can set the other's (the reporting country is the sender's, :meth:`check`).
        """
        owner = self.reporters.get(e.reporting_country)
        if owner is not None and owner != by:
            raise DomainRuleViolation(
                f"{e.reporting_country}'s figure {self.id} was reported by {owner}, not {by}",
                public=f"{e.reporting_country}'s figure for {e.year}-{e.month:02d} is another agency's",
            )
        self.reporters = {**self.reporters, e.reporting_country: by}
        self.absorb_markings(markings)
        self.reported = {**self.reported, e.reporting_country: e.total_usd}
        if len(self.reported) < 2 or self.alerted:
            return False
        low, high = sorted(self.reported.values())
        if high == 0 or (high - low) / high <= RECONCILIATION_TOLERANCE:
            return False
        self.alerted = True
        return True


class Investigation(Aggregate):
    RECORD_TYPE = "investigation"

    investigation_reference: str
    agency: str
    subjects: list[Party]
    coordinated: bool
    alert_ids: list[str]
    subject_surname_keys: list[str]
    links: list[str] = []

    @classmethod
    def open(cls, event: InvestigationOpened, source: str, markings: Markings) -> Investigation:
        keys = sorted({k for p in event.subjects if p.person for k in surname_keys(p.person)})
        inv = cls(
            id=derived_id("IN", source, event.investigation_reference),
            markings=markings,
            investigation_reference=event.investigation_reference,
            agency=event.agency,
            subjects=event.subjects,
            coordinated=event.coordinated,
            alert_ids=event.alert_ids,
            subject_surname_keys=keys,
        )
        inv._raise(inv.fact(InvestigationRecorded, investigation_id=inv.id))
        return inv

    def link_purchaser(self, trace_request_id: str, purchaser: Person, markings: Markings) -> bool:
        """Flow 5: a traced gun's first purchaser is one of the subjects."""
        if trace_request_id in self.links:
            return False
        best: tuple[Person, MatchResult] | None = None
        for party in self.subjects:
            if party.person:
                result = match_persons(party.person, purchaser)
                if result.match and (best is None or result.score > best[1].score):
                    best = (party.person, result)
        if best is None:
            return False
        self.absorb_markings(markings)
        self.links = [*self.links, trace_request_id]
        self._raise(
            SubjectLinked(
                investigation_id=self.id,
                trace_request_id=trace_request_id,
                subject=best[0],
                purchaser=purchaser,
                score=best[1].score,
                reasons=best[1].reasons,
            )
        )
        return True


class FlaggedCompany(Aggregate):
    RECORD_TYPE = "flagged_company"

    company: Company
    key: str
    alerts: list[str] = []

    @staticmethod
    def id_for(company: Company) -> str:
        return derived_id("FC", company.country, company_key(company.name))

    @classmethod
    def first(cls, company: Company, markings: Markings) -> FlaggedCompany:
        return cls(id=cls.id_for(company), markings=markings, company=company, key=company_key(company.name))

    def flag(self, alert_id: str, reason: str, markings: Markings) -> None:
        if alert_id in self.alerts:
            return
        self.absorb_markings(markings)
        self.alerts = [*self.alerts, alert_id]
        self._raise(
            self.fact(CompanyFlagged, self.company, company_id=self.id, reason=reason, source_alert_id=alert_id)
        )


def combined(*markings: Markings) -> Markings:
    return strictest(list(markings))
