from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alliance.contracts.interdiction import MassUnit, SeizureRecorded, SeizureReported
from alliance.markings import TLP, Markings
from interdiction.domain import Seizure, seizure_id, to_kilograms

MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))


def report(**seizure: Any) -> SeizureReported:
    body: dict[str, Any] = {
        "mode": "land",
        "seized_at": "2026-11-20T14:30:00-06:00",
        "place": {"description": "Colombia Solidarity Bridge", "country": "US", "port_of_entry": "Laredo"},
    }
    body.update(seizure)
    return SeizureReported.model_validate({"report_reference": "CBP-1", "seizure": body})


@pytest.mark.parametrize(
    ("quantity", "unit", "kg"),
    [(1, MassUnit.KILOGRAM, 1), (500, MassUnit.GRAM, 0.5), (10, MassUnit.POUND, 4.535924), (2, MassUnit.TONNE, 2000)],
)
def test_quantities_are_normalised_to_kilograms(quantity: float, unit: MassUnit, kg: float) -> None:
    assert to_kilograms(quantity, unit) == pytest.approx(kg)


def test_recording_a_seizure_produces_seizure_recorded_with_kilograms() -> None:
    seizure = Seizure.record(
        report(
            drugs=[{"drug": "fentanyl", "quantity": 12, "unit": "lb"}, {"drug": "cocaine", "quantity": 3, "unit": "kg"}]
        ),
        reporting_source="urn:agency:us-cbp",
        markings=MARKINGS,
        recorded_at=datetime.now(UTC),
    )
    [fact] = seizure.pending_events
    assert isinstance(fact, SeizureRecorded)
    assert fact.seizure_id == seizure.id
    assert [d.quantity_kg for d in fact.drugs] == [pytest.approx(5.443108), 3.0]
    assert fact.total_drugs_kg == pytest.approx(8.443108)


def test_same_agency_reference_is_the_same_seizure() -> None:
    assert seizure_id("urn:agency:us-cbp", "CBP-1") == seizure_id("urn:agency:us-cbp", "CBP-1")
    assert seizure_id("urn:agency:us-cbp", "CBP-1") != seizure_id("urn:agency:mx-fgr", "CBP-1")


def test_an_empty_seizure_is_refused() -> None:
    with pytest.raises(ValidationError, match="must contain drugs, firearms"):
        report()


def test_a_firearm_needs_a_serial_unless_obliterated() -> None:
    with pytest.raises(ValidationError, match="serial_number is required"):
        report(firearms=[{"maker": "Glock", "firearm_type": "pistol"}])
    ok = report(firearms=[{"maker": "Glock", "firearm_type": "pistol", "serial_obliterated": True}])
    assert ok.seizure.firearms[0].serial_number is None


def test_unknown_fields_in_an_agency_report_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        SeizureReported.model_validate({"report_reference": "x", "seizure": {}, "sezure": {}})
