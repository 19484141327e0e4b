"""Financial reports and currency declarations as banks and customs send them."""

from __future__ import annotations

from datetime import date
from typing import Any

from alliance.contracts.common import Person
from alliance.contracts.money_laundering import CurrencyDeclarationFiled, FinancialReportSubmitted

ANA = Person(given_names="Ana María", surnames=["Ruiz", "Salinas"], date_of_birth=date(1985, 2, 2))
ANA_PARTY = {"kind": "person", "person": ANA.model_dump(mode="json")}


def financial_report(*amounts: float, reference: str = "STR-1", **fields: Any) -> dict[str, Any]:
    """The data of ``report.submitted.v1``: Banco del Norte's suspicious report (STR) of 20 November 2026 on
    Ana María Ruiz Salinas, with one cash deposit of hers in USD per amount, from 10 November on."""
    body: dict[str, Any] = {
        "report_reference": reference,
        "report_code": "STR",
        "reporting_entity": "Banco del Norte",
        "reporting_country": "MX",
        "report_date": "2026-11-20",
        "indicators": ["structuring"],
        "subjects": [ANA_PARTY],
        "transactions": [
            {"date": f"2026-11-{10 + i:02d}", "amount": a, "currency": "USD", "mode": "cash", "from_party": ANA_PARTY}
            for i, a in enumerate(amounts)
        ],
    }
    return {**body, **fields}


def bank_report(*amounts: float, reference: str = "STR-1", **fields: Any) -> FinancialReportSubmitted:
    """:func:`financial_report` as the handlers receive it."""
    return FinancialReportSubmitted.model_validate(financial_report(*amounts, reference=reference, **fields))


def currency_declaration(
    amount: float = 25000, *, reference: str = "CMIR-1", traveller: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """The data of ``currency_declaration.filed.v1``: ``traveller`` (Ana María Ruiz Salinas) declares ``amount``
    USD leaving the US at Laredo on 20 November 2026."""
    body: dict[str, Any] = {
        "declaration_reference": reference,
        "direction": "outbound",
        "filed_in": "US",
        "port": "Laredo",
        "traveller": traveller or ANA.model_dump(mode="json"),
        "amount": amount,
        "currency": "USD",
        "declared_on": "2026-11-20",
    }
    return {**body, **fields}


def declaration(
    amount: float = 25000, *, reference: str = "CMIR-1", traveller: Person = ANA, **fields: Any
) -> CurrencyDeclarationFiled:
    """:func:`currency_declaration` as the handlers receive it."""
    data = currency_declaration(amount, reference=reference, traveller=traveller.model_dump(mode="json"), **fields)
    return CurrencyDeclarationFiled.model_validate(data)
