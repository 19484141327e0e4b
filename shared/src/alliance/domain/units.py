"""Quantities are exchanged in kilograms so both countries' figures add up (AP14)."""

from __future__ import annotations

from alliance.contracts.common import MassUnit

KILOGRAMS_PER_UNIT: dict[MassUnit, float] = {
    MassUnit.KILOGRAM: 1.0,
    MassUnit.GRAM: 0.001,
    MassUnit.MILLIGRAM: 0.000001,
    MassUnit.POUND: 0.45359237,
    MassUnit.OUNCE: 0.028349523125,
    MassUnit.TONNE: 1000.0,
}


def to_kilograms(quantity: float, unit: MassUnit) -> float:
    return round(quantity * KILOGRAMS_PER_UNIT[unit], 6)
