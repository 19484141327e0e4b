"""Money-laundering and asset-forfeiture events (goAML, FinCEN SAR/CTR/CMIR; AP12 and AP13)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, model_validator

from alliance.contracts.base import Fact, Intake
from alliance.contracts.common import CountryCode, CurrencyCode, Person, Place, Text, ValueObject
from alliance.contracts.limits import MAX_PERSONS, MAX_SMALL_LIST, MAX_TRANSACTIONS

Reference = Annotated[str, Field(min_length=1, max_length=80)]


class PartyKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"
    ACCOUNT = "account"


class Party(ValueObject):
    """A person, company or account, as goAML reports them."""

    kind: PartyKind
    person: Person | None = None
    company_name: str | None = Field(default=None, max_length=300)
    country: CountryCode | None = None
    institution: str | None = Field(default=None, max_length=200)
    account_number: str | None = Field(default=None, max_length=60)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Self:
        field_for = {PartyKind.PERSON: "person", PartyKind.COMPANY: "company_name", PartyKind.ACCOUNT: "account_number"}
        if not getattr(self, field_for[self.kind]):
            raise ValueError(f"a {self.kind.value} party needs {field_for[self.kind]}")
        return self


class TransactionMode(StrEnum):
    CASH = "cash"
    WIRE = "wire"
    CHECK = "check"
    CARD = "card"
    CRYPTO = "crypto"
    OTHER = "other"


class Transaction(ValueObject):
    date: date
    amount: float = Field(gt=0)
    currency: CurrencyCode
    mode: TransactionMode
    from_party: Party | None = None
    to_party: Party | None = None


class ReportCode(StrEnum):
    STR = "STR"  # suspicious transaction report (Mexico: reporte de operaciones inusuales)
    SAR = "SAR"  # suspicious activity report (FinCEN)
    CTR = "CTR"  # currency transaction report


class FinancialReportSubmitted(Intake):
    """A suspicious-transaction/activity or currency-transaction report from a reporting entity (goAML)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.report.submitted.v1"

    report_reference: Reference
    report_code: ReportCode
    reporting_entity: Text
    reporting_country: CountryCode
    report_date: date
    reason: str | None = Field(default=None, max_length=4000)
    indicators: list[Text] = Field(default_factory=list, max_length=MAX_SMALL_LIST)
    transactions: list[Transaction] = Field(min_length=1, max_length=MAX_TRANSACTIONS)
    subjects: list[Party] = Field(default_factory=list, max_length=MAX_PERSONS)
    alert_id: str | None = Field(default=None, max_length=80, description="the alert this report answers")


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CurrencyDeclarationFiled(Intake):
    """A cross-border currency declaration (FinCEN CMIR / declaración de dinero en efectivo)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.currency_declaration.filed.v1"

    declaration_reference: Reference
    direction: Direction
    filed_in: CountryCode
    port: Text
    traveller: Person
    amount: float = Field(gt=0)
    currency: CurrencyCode
    declared_on: date


class CrossBorderFiguresReported(Intake):
    """One country's monthly total of declared currency crossing to or from the other (AP12 1.4)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.cross_border_figures.reported.v1"

    reporting_country: CountryCode
    from_country: CountryCode
    to_country: CountryCode
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)
    total_usd: float = Field(ge=0)


class InvestigationOpened(Intake):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.investigation.opened.v1"

    investigation_reference: Reference
    agency: Text
    subjects: list[Party] = Field(min_length=1, max_length=MAX_PERSONS)
    coordinated: bool = Field(default=False, description="a binational investigation")
    alert_ids: list[str] = Field(default_factory=list, max_length=MAX_SMALL_LIST)


class AssetForfeited(Intake):
    """A court ordered the forfeiture of a seized asset (AP13)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.asset.forfeited.v1"

    asset_id: Reference
    legal_basis: Text
    forfeited_amount: float = Field(gt=0)
    ordered_on: date


# -- facts ----------------------------------------------------------------------------------------


class FinancialReportRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.report.recorded.v1"

    report_id: str
    report_reference: str
    report_code: ReportCode
    reporting_entity: str
    reporting_country: str
    transactions: int
    total_amount: dict[str, float]
    subjects: list[Party]


class CurrencyDeclarationRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.currency_declaration.recorded.v1"

    declaration_id: str
    declaration_reference: str
    direction: Direction
    filed_in: str
    traveller: Person
    amount: float
    currency: str
    declared_on: date


class AlertKind(StrEnum):
    STRUCTURING = "structuring"
    UNDECLARED_CURRENCY = "undeclared_currency"
    UNRECONCILED_FIGURES = "unreconciled_figures"
    FLAGGED_COMPANY_REPORTED = "flagged_company_reported"


class MoneyLaunderingAlertRaised(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.alert.raised.v1"

    alert_id: str
    kind: AlertKind
    summary: str
    subjects: list[Party] = Field(default_factory=list)
    evidence: dict[str, Any] = Field(default_factory=dict)


class InvestigationRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.investigation.recorded.v1"

    investigation_id: str
    investigation_reference: str
    agency: str
    subjects: list[Party]
    coordinated: bool
    alert_ids: list[str]


class AssetSeized(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.asset.seized.v1"

    asset_id: str
    seizure_id: str
    amount: float
    currency: str
    seizing_country: str
    place: Place
    seized_on: date
    status: str


class AssetForfeitureRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.asset.forfeiture_recorded.v1"

    asset_id: str
    legal_basis: str
    forfeited_amount: float
    currency: str
    ordered_on: date
    status: str


class AssetSharingProposed(Fact):
    """A proposal to share a forfeited asset with the cooperating country (AP13)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.asset.sharing_proposed.v1"

    asset_id: str
    from_country: str
    to_country: str
    forfeited_amount: float
    share_percent: float
    share_amount: float
    currency: str
    legal_basis: str


class CompanyFlagged(Fact):
    """A company named in a precursor diversion alert is flagged for financial scrutiny (flow 3)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.company.flagged.v1"

    company_id: str
    name: str
    country: str
    reason: str
    source_alert_id: str


class SubjectLinked(Fact):
    """A traced gun's purchaser matches an investigation subject (flow 5)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.money_laundering.subject.linked.v1"

    investigation_id: str
    trace_request_id: str
    subject: Person
    purchaser: Person
    score: float
    reasons: list[str]
