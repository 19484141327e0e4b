from datetime import UTC, date, datetime
from typing import Any

import pytest

from alliance.contracts.firearms import RestorationRequested, TraceRequestSubmitted
from alliance.contracts.interdiction import SeizureRecorded
from alliance.markings import TLP, Markings
from firearms.domain import RestorationRequest, TraceRequest, TraceStatus, requests_for_seizure

AMBER = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",), originator_control=True)


def seizure(*guns: dict[str, Any]) -> SeizureRecorded:
    return SeizureRecorded.model_validate(
        {
            "seizure_id": "SZ-1",
            "report_reference": "CBP-1",
            "reporting_agency": "urn:agency:us-cbp",
            "recorded_at": datetime.now(UTC),
            "mode": "land",
            "seized_at": "2026-11-20T14:30:00-06:00",
            "place": {"description": "Laredo", "country": "US"},
            "firearms": list(guns),
        }
    )


GLOCK = {"serial_number": "BXR123", "maker": "Glock", "model": "19", "caliber": "9mm", "firearm_type": "pistol"}
OBLITERATED = {"serial_obliterated": True, "maker": "Colt", "firearm_type": "rifle"}


def test_one_trace_per_legible_gun_and_a_restoration_for_an_obliterated_serial() -> None:
    requests = requests_for_seizure(seizure(GLOCK, OBLITERATED, {**GLOCK, "serial_number": "BXR124"}), AMBER)
    assert [type(r) for r in requests] == [TraceRequest, RestorationRequest, TraceRequest]
    assert [r.item_number for r in requests] == [1, 2, 3]
    events = [e for r in requests for e in r.pending_events]
    assert [type(e) for e in events] == [TraceRequestSubmitted, RestorationRequested, TraceRequestSubmitted]


def test_trace_request_carries_etrace_fields_and_starts_submitted() -> None:
    [trace] = requests_for_seizure(seizure(GLOCK), AMBER)
    assert isinstance(trace, TraceRequest)
    assert trace.status is TraceStatus.SUBMITTED
    assert (trace.serial_number, trace.maker, trace.model, trace.caliber) == ("BXR123", "Glock", "19", "9mm")
    assert trace.recovery_date == date(2026, 11, 20)
    assert trace.requesting_agency == "urn:agency:us-cbp"


def test_requests_keep_the_seizure_markings() -> None:
    for request in requests_for_seizure(seizure(GLOCK, OBLITERATED), AMBER):
        assert request.markings.is_at_least_as_strict_as(AMBER)


def test_request_ids_are_deterministic_so_redelivery_is_harmless() -> None:
    first = [r.id for r in requests_for_seizure(seizure(GLOCK, OBLITERATED), AMBER)]
    again = [r.id for r in requests_for_seizure(seizure(GLOCK, OBLITERATED), AMBER)]
    assert first == again
    assert len(set(first)) == 2


def test_a_trace_cannot_be_opened_on_an_obliterated_serial() -> None:
    from alliance.contracts.interdiction import FirearmItem

    gun = FirearmItem.model_validate(OBLITERATED)
    with pytest.raises(ValueError, match="restoration instead"):
        TraceRequest.submit(seizure(OBLITERATED), 1, gun, AMBER)
