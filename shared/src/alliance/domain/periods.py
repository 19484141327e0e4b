"""Reporting periods looked up by month: statistics find their records by equality, never by range.

A record that belongs to a reporting period stores the month it falls in (``month_of``) as a lookup
key; a report for a period looks up each month of it (``months_between``) and keeps the exact days.
"""

from __future__ import annotations

from datetime import date

from alliance.domain.errors import DomainRuleViolation

MAX_REPORT_MONTHS = 120  # ten years per report request: a longer one is refused with this reason


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(start: date, end: date) -> list[str]:
    """Every month from ``start`` to ``end`` (inclusive) as ``YYYY-MM``."""
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    if count > MAX_REPORT_MONTHS:
        raise DomainRuleViolation(f"a report period spans {count} months; at most {MAX_REPORT_MONTHS} per request")
    months = []
    year, month = start.year, start.month
    for _ in range(max(count, 0)):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months
