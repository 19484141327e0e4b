"""Seizure records: validation beyond the contract, unit normalisation, and the facts they produce.

Pure rules, no I/O.
"""

from __future__ import annotations

from datetime import datetime

from alliance.aggregate import Aggregate
from alliance.contracts.interdiction import (
    MassUnit,
    RecordedDrug,
    SeizureContents,
    SeizureRecorded,
    SeizureReported,
)
from alliance.ids import derived_id
from alliance.markings import Markings

KILOGRAMS_PER_UNIT: dict[MassUnit, float] = {
    MassUnit.KILOGRAM: 1.0,
    MassUnit.GRAM: 0.001,
    MassUnit.MILLIGRAM: 0.000001,
    MassUnit.POUND: 0.45359237,
    MassUnit.OUNCE: 0.028349523125,
    MassUnit.TONNE: 1000.0,
}


def to_kilograms(quantity: float, unit: MassUnit) -> float:
    """Quantities are exchanged in kilograms so both countries' statistics add up (AP14)."""
    return round(quantity * KILOGRAMS_PER_UNIT[unit], 6)


def seizure_id(reporting_source: str, report_reference: str) -> str:
    """One seizure per agency case number: a report sent twice is still one seizure."""
    return derived_id("SZ", reporting_source, report_reference)


class Seizure(Aggregate):
    report_reference: str
    reporting_agency: str
    recorded_at: datetime
    contents: SeizureContents

    @classmethod
    def record(
        cls, report: SeizureReported, *, reporting_source: str, markings: Markings, recorded_at: datetime
    ) -> Seizure:
        """Record a reported seizure; produces ``seizure recorded``."""
        seizure = cls(
            id=seizure_id(reporting_source, report.report_reference),
            markings=markings,
            report_reference=report.report_reference,
            reporting_agency=reporting_source,
            recorded_at=recorded_at,
            contents=report.seizure,
        )
        seizure._raise(seizure.recorded_fact())
        return seizure

    def recorded_fact(self) -> SeizureRecorded:
        c = self.contents
        drugs = [RecordedDrug(**d.model_dump(), quantity_kg=to_kilograms(d.quantity, d.unit)) for d in c.drugs]
        return SeizureRecorded(
            seizure_id=self.id,
            report_reference=self.report_reference,
            reporting_agency=self.reporting_agency,
            recorded_at=self.recorded_at,
            mode=c.mode,
            seized_at=c.seized_at,
            place=c.place,
            conveyance=c.conveyance,
            concealment=c.concealment,
            route=c.route,
            drugs=drugs,
            firearms=c.firearms,
            currency=c.currency,
            chemicals=c.chemicals,
            detained_persons=c.detained_persons,
            total_drugs_kg=round(sum(d.quantity_kg for d in drugs), 6),
        )
