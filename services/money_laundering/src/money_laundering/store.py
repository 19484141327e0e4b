"""Money laundering's own database."""

from __future__ import annotations

REPORTS = "financial_reports"
CASH = "cash_activity"
DECLARATIONS = "currency_declarations"
ALERTS = "alerts"
ASSETS = "assets"
FIGURES = "cross_border_figures"
INVESTIGATIONS = "investigations"
COMPANIES = "flagged_companies"
TRACED_PURCHASERS = "traced_purchasers"
COLLECTIONS = [REPORTS, CASH, DECLARATIONS, ALERTS, ASSETS, FIGURES, INVESTIGATIONS, COMPANIES, TRACED_PURCHASERS]
