"""Reporting periods looked up by month: statistics find their records by equality, never by range.

A record that belongs to a reporting period stores the month it falls in (``month_of``) as a lookup
key; a report for a period looks up each month of it (``months_between``) and keeps the exact days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from alliance.contracts.common import QUARTER_PATTERN
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


# -- calendar quarters (the periods sanitised statistics are released for) -------------------------------


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, named like ``2026-Q3``: the fixed periods sanitised statistics are released for."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        if not re.fullmatch(QUARTER_PATTERN, text):
            raise DomainRuleViolation(f"{text!r} is not a calendar quarter such as 2026-Q3")
        return cls(int(text[:4]), int(text[-1]))

    def __str__(self) -> str:
        return f"{self.year:04d}-Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def next_first_day(self) -> date:
        """The first day of the next quarter (the end of this one, exclusive)."""
        return date(self.year + 1, 1, 1) if self.number == 4 else date(self.year, 3 * self.number + 1, 1)

    @property
    def last_day(self) -> date:
        return self.next_first_day - timedelta(days=1)

    def bounds(self) -> tuple[datetime, datetime]:
        """From its first instant up to, not including, the next quarter's, in UTC."""
        start, end = self.first_day, self.next_first_day
        return datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(
            end.year, end.month, end.day, tzinfo=UTC
        )
