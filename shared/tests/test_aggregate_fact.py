"""``Aggregate.fact``: a fact's fields are taken from its record (and the parts the record keeps whole),
so each field is declared once, on the record, and never listed again where the fact is raised."""

from __future__ import annotations

from alliance.contracts.base import Fact
from alliance.contracts.common import ValueObject
from alliance.contracts.markings import TLP, Markings
from alliance.domain.aggregate import Aggregate

AMBER = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))


class Contents(ValueObject):
    place: str
    quantity: float
    note: str | None = None


class Shipment(Aggregate):
    reference: str
    note: str
    contents: Contents


class ShipmentRecorded(Fact):
    EVENT_TYPE = "org.alliance.test.shipment.recorded.v1"

    shipment_id: str
    reference: str
    place: str
    quantity: float
    note: str | None = None
    version: int | None = None  # a bookkeeping name: never taken from the record


def shipment() -> Shipment:
    contents = Contents(place="Laredo", quantity=2.5, note="in the part")
    return Shipment(id="SH-1", version=7, markings=AMBER, reference="R-1", note="on the record", contents=contents)


def test_a_fact_takes_the_fields_of_the_record_and_of_the_parts_it_keeps_whole() -> None:
    record = shipment()
    fact = record.fact(ShipmentRecorded, record.contents, shipment_id=record.id)
    assert fact.to_data() == {
        "shipment_id": "SH-1",
        "reference": "R-1",
        "place": "Laredo",
        "quantity": 2.5,
        "note": "in the part",
    }


def test_a_given_value_wins_over_a_part_which_wins_over_the_record() -> None:
    record = shipment()
    assert record.fact(ShipmentRecorded, shipment_id="SH-1", place="here", quantity=1).note == "on the record"
    assert record.fact(ShipmentRecorded, record.contents, shipment_id="SH-1").note == "in the part"
    assert record.fact(ShipmentRecorded, record.contents, shipment_id="SH-1", note="given").note == "given"


def test_the_kernels_bookkeeping_is_never_copied_into_a_fact() -> None:
    record = shipment()
    assert record.fact(ShipmentRecorded, record.contents, shipment_id=record.id).version is None
