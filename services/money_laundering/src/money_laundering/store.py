"""Money laundering's own database: one repository per aggregate, with the queries the handlers need by name.

People are looked up by the surname keys stored with each record (equality, indexed): the queries
return candidates who share a surname, and the domain decides who is the same person.
"""

from __future__ import annotations

from alliance.application.repository import Repository
from alliance.application.sightings import TracedPurchasers as SharedTracedPurchasers
from alliance.contracts.chemicals import Company
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
    company_lookup_key,
)


class FinancialReports(Repository[FinancialReport]):
    kind = FinancialReport
    collection = "financial_reports"
    indexes = ("company_keys",)

    async def naming(self, company: Company) -> list[FinancialReport]:
        """Reports naming the company among their subjects (however its name is written)."""
        return await self.where("company_keys", company_lookup_key(company))


class CashActivities(Repository[CashActivity]):
    kind = CashActivity
    collection = "cash_activity"
    deadlines = True  # a large cash transaction's currency transaction report (AP12)


class Declarations(Repository[Declaration]):
    kind = Declaration
    collection = "currency_declarations"
    indexes = ("surname_keys",)

    async def that_may_cover(self, asset: Asset) -> list[Declaration]:
        """Declarations by travellers sharing a surname with someone detained with the money."""
        return await self.where_any("surname_keys", asset.surname_keys)


class Alerts(Repository[Alert]):
    kind = Alert
    collection = "alerts"
    deadlines = True  # the suspicious activity report an alert calls for


class Assets(Repository[Asset]):
    kind = Asset
    collection = "assets"
    indexes = ("surname_keys",)
    deadlines = True  # the declaration window, then the undeclared-currency check

    async def that_may_be_declared_in(self, declaration: Declaration) -> list[Asset]:
        """Money seized with someone sharing a surname with the declaring traveller."""
        return await self.where_any("surname_keys", declaration.surname_keys)


class MonthlyFigures(Repository[CrossBorderFigures]):
    """Both countries' cross-border currency figures, one record per month and direction."""

    kind = CrossBorderFigures
    collection = "cross_border_figures"


class Investigations(Repository[Investigation]):
    kind = Investigation
    collection = "investigations"
    indexes = ("subject_surname_keys",)

    async def that_may_name(self, purchaser: TracedPurchaser) -> list[Investigation]:
        """Investigations with a subject sharing a surname with a traced gun's purchaser."""
        return await self.where_any("subject_surname_keys", purchaser.surname_keys)


class FlaggedCompanies(Repository[FlaggedCompany]):
    kind = FlaggedCompany
    collection = "flagged_companies"

    async def flagged(self, company: Company) -> FlaggedCompany | None:
        """The company as flagged for precursor diversion (however its name is written), if it is."""
        return await self.get(FlaggedCompany.id_for(company))


class TracedPurchasers(SharedTracedPurchasers):
    async def that_may_be_subjects_of(self, investigation: Investigation) -> list[TracedPurchaser]:
        """Purchasers of traced guns sharing a surname with one of the investigation's subjects."""
        return await self.sharing_surname_keys(investigation.subject_surname_keys)
