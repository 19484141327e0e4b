"""Dates of birth as agencies know them: to the day, to the month, or to the year only.

A date is compared at the coarser precision of the two. A stored ``YYYY-01-01`` is read as the year only:
it is how many registers store a birth known by year, so it cannot tell two people apart by day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import IntEnum


class Precision(IntEnum):
    YEAR = 1
    MONTH = 2
    DAY = 3


@dataclass(frozen=True)
class BirthDate:
    year: int
    month: int | None = None
    day: int | None = None
    placeholder: bool = False  # 1 January as written, read as year only

    @property
    def precision(self) -> Precision:
        if self.day is not None:
            return Precision.DAY
        return Precision.MONTH if self.month is not None else Precision.YEAR

    def __str__(self) -> str:
        parts = [f"{self.year:04d}", *(f"{p:02d}" for p in (self.month, self.day) if p is not None)]
        return "-".join(parts)

    @classmethod
    def of(cls, value: date | str | None, precision: Precision | None = None) -> BirthDate | None:
        """From a date (with the precision its source gave, if any) or text: YYYY, YYYY-MM, YYYY-MM-DD,
        YYYY-DD-MM (read when the month would be over 12), DD/MM/YYYY."""
        if value is None:
            return None
        if isinstance(value, date):
            return cls._from_date(value, precision)
        return cls._parse(value.strip())

    @classmethod
    def _from_date(cls, value: date, precision: Precision | None) -> BirthDate:
        if precision is Precision.YEAR:
            return cls(value.year)
        if precision is Precision.MONTH:
            return cls(value.year, value.month)
        if precision is None and (value.month, value.day) == (1, 1):
            return cls(value.year, placeholder=True)
        return cls(value.year, value.month, value.day)

    @classmethod
    def _parse(cls, text: str) -> BirthDate | None:
        if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text):
            text = f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"
        parts = [int(p) for p in re.findall(r"\d+", text)]
        if not parts or not 1800 < parts[0] < 2200:
            return None
        if len(parts) == 1:
            return cls(parts[0])
        if len(parts) == 2:
            return cls(parts[0], parts[1]) if 1 <= parts[1] <= 12 else cls(parts[0])
        year, first, second = parts[:3]
        for month, day in ((first, second), (second, first)):  # YYYY-DD-MM when the month cannot be one
            try:
                return cls._from_date(date(year, month, day), None)
            except ValueError:
                continue
        return cls(year)


class DateAgreement(IntEnum):
    """How far two dates of birth agree; ordered from strongest contradiction to strongest agreement."""

    CONFLICT = 0
    UNKNOWN = 1  # one side or both have no date
    YEAR = 2
    NEAR_DAY = 3  # same month, a day apart: a typing slip, or two different people
    MONTH = 4
    TRANSPOSED = 5  # day and month swapped (US and Mexican order)
    DAY = 6


# How much a date agreement narrows the people who could share a name: one in so many.
NARROWING = {
    DateAgreement.UNKNOWN: 1.0,
    DateAgreement.YEAR: 1 / 60,
    DateAgreement.NEAR_DAY: 1 / 60,
    DateAgreement.MONTH: 1 / 720,
    DateAgreement.TRANSPOSED: 1 / 10000,
    DateAgreement.DAY: 1 / 21900,
}


def compare_dates(a: BirthDate | None, b: BirthDate | None) -> tuple[DateAgreement, str | None]:
    """Agreement at the coarser precision of the two, with the reason to show."""
    if a is None or b is None:
        return DateAgreement.UNKNOWN, None
    if a.year != b.year:
        return DateAgreement.CONFLICT, f"different years of birth ({a.year} / {b.year})"
    both = min(a.precision, b.precision)
    shown = " (1 January read as year only)" if a.placeholder or b.placeholder else ""
    if both is Precision.YEAR:
        return DateAgreement.YEAR, f"same year of birth ({a.year}), day unknown{shown}"
    if a.month == b.month:
        if both is Precision.MONTH:
            return DateAgreement.MONTH, f"same month of birth ({a.year}-{a.month:02d}), day unknown"
        if a.day == b.day:
            return DateAgreement.DAY, "same date of birth"
        assert a.day is not None
        assert b.day is not None
        if abs(a.day - b.day) == 1:
            return DateAgreement.NEAR_DAY, f"dates of birth a day apart ({a} / {b})"
        return DateAgreement.CONFLICT, f"different dates of birth ({a} / {b})"
    if both is Precision.DAY and (a.month, a.day) == (b.day, b.month):
        return DateAgreement.TRANSPOSED, "date of birth with day and month transposed"
    return DateAgreement.CONFLICT, f"different dates of birth ({a} / {b})"
