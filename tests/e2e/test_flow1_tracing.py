"""Flow 1, end to end: seizure with guns → trace requests (restoration first for an obliterated serial) →
results from the tracing center and the laboratory → time-to-crime and trafficking indicators."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from pymongo import MongoClient

from harness import (
    Agency,
    Producers,
    Record,
    System,
    firearms_events_for,
    read_all,
    read_until,
    recorded_seizure_id,
    traceparent,
    wait_drained,
)
from payloads.firearms import export_licence_issued, gun
from payloads.interdiction import LAREDO_SOUTHBOUND, seizure_reported

# Its serial is restored, and matches an export licence's (the maker's first word and the serial).
BERETTA_OBLITERATED = {"serial_obliterated": True, "maker": "Beretta", "model": "92FS", "firearm_type": "pistol"}

pytestmark = pytest.mark.e2e

TLP_ORDER = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]
FIREARMS = "org.alliance.firearms."


def of_type(suffix: str, **fields: Any) -> Any:
    def select(records: list[Record]) -> list[Record]:
        return [
            r for r in records if r.type == FIREARMS + suffix and all(r.json().get(k) == v for k, v in fields.items())
        ]

    return select


async def test_flow_1_from_seizure_to_trafficking_indicators(
    system: System,
    agency: Agency,
    producer: Producers,
    mongo: MongoClient[dict[str, object]],
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    trace_id, parent = traceparent()
    reference = f"LRD-{run}"
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        seizure_reported(
            reference,
            place=LAREDO_SOUTHBOUND,
            firearms=[gun(f"G{run}", 0), gun(f"C{run}", 1), BERETTA_OBLITERATED],
        ),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        key=reference,
        trace=parent,
    )
    seizure_id = await recorded_seizure_id(system, reference)
    events = system.topic("alliance.firearms.events")
    opened = firearms_events_for(seizure_id)
    records = await read_until([events], lambda rs: len(opened(rs)) >= 3)
    by_serial = {r.json().get("serial_number", "obliterated"): r for r in opened(records)}
    glock, colt, beretta = by_serial[f"G{run}"], by_serial[f"C{run}"], by_serial["obliterated"]

    # The tracing center answers within the trace of the request it answers (AMBER+STRICT results).
    ntc = Agency(producer, "us-atf-ntc")
    intake = system.topic("alliance.firearms.intake")
    # A purchaser of this test's own: a repeat purchaser counts only the purchases made here.
    buyer = {"given_names": "Juan Carlos", "surnames": ["Rivera", f"Soto{run}"], "date_of_birth": "1990-05-04"}
    dealer = {"name": "Lone Star Guns LLC", "licence_number": "5-74-123-01-2C-45678", "state": "TX"}
    glock_id, colt_id = glock.json()["trace_request_id"], colt.json()["trace_request_id"]
    await ntc.send(
        intake,
        {"trace_request_id": glock_id, "tracing_center_reference": f"NTC-{run}"},
        event_type="org.alliance.firearms.trace_request.acknowledged.v1",
        key=glock_id,
        tlp="AMBER+STRICT",
        trace=glock.headers["traceparent"],
    )
    await ntc.send(
        intake,
        {
            "trace_request_id": glock_id,
            "outcome": "completed",
            "dealer": dealer,
            "purchaser": buyer,
            "sale_date": "2026-01-15",
        },
        event_type="org.alliance.firearms.trace_result.reported.v1",
        key=glock_id,
        tlp="AMBER+STRICT",
        trace=glock.headers["traceparent"],
    )
    await ntc.send(
        intake,
        {
            "trace_request_id": colt_id,
            "outcome": "completed",
            "dealer": dealer,
            "purchaser": {**buyer, "given_names": "JUAN CARLOS"},
            "sale_date": "2025-12-01",
        },
        event_type="org.alliance.firearms.trace_result.reported.v1",
        key=colt_id,
        tlp="AMBER+STRICT",
        trace=colt.headers["traceparent"],
    )

    # The laboratory restores the Beretta's serial; the licensing authority shows it was exported legally.
    lab = Agency(producer, "us-atf-lab")
    restoration_id = beretta.json()["restoration_request_id"]
    await lab.send(
        intake,
        {
            "restoration_request_id": restoration_id,
            "outcome": "restored",
            "restored_serial_number": f"BER-{run}",
            "laboratory": "ATF Laboratory, Ammendale",
        },
        event_type="org.alliance.firearms.restoration_result.reported.v1",
        key=restoration_id,
        trace=beretta.headers["traceparent"],
    )
    ddtc = Agency(producer, "us-ddtc")
    await ddtc.send(
        intake,
        export_licence_issued(f"DSP-{run}", {"maker": "Beretta", "model": "92FS", "serial_number": f"ber {run}"}),
        event_type="org.alliance.firearms.export_licence.issued.v1",
        key=f"DSP-{run}",
        tlp="GREEN",
        trace=beretta.headers["traceparent"],
    )

    restored_trace = of_type("trace_request.submitted.v1", serial_number=f"BER-{run}")
    indicators = of_type("trafficking_indicator.raised.v1")

    def mine(rs: list[Record]) -> list[Record]:
        ids = {glock_id, colt_id} | {r.json()["trace_request_id"] for r in restored_trace(rs)}
        return [r for r in indicators(rs) if set(r.json()["trace_request_ids"]) & ids]

    expected = ["licensed_export_recovered", "repeat_purchaser", "short_time_to_crime", "short_time_to_crime"]

    def kinds(rs: list[Record]) -> list[str]:
        return sorted(r.json()["indicator"] for r in mine(rs))

    await read_until([events], lambda rs: Counter(kinds(rs)) >= Counter(expected))
    # Then read everything once firearms has consumed all the results: an extra indicator would show.
    await wait_drained(system.group("firearms", "intake"), [intake])
    records = await read_all([events])
    assert kinds(records) == expected
    [glock_done] = of_type("trace.completed.v1", trace_request_id=glock_id)(records)
    [colt_done] = of_type("trace.completed.v1", trace_request_id=colt_id)(records)
    completed = {glock_id: glock_done, colt_id: colt_done}
    assert completed[glock_id].json()["time_to_crime_days"] == 309  # 2026-01-15 → 2026-11-20
    assert completed[colt_id].json()["time_to_crime_days"] == 354
    assert of_type("trace_request.in_progress.v1", trace_request_id=glock_id)(records)
    [restored] = restored_trace(records)
    assert restored.json()["seizure_id"] == seizure_id
    assert of_type("restoration.restored.v1", restoration_request_id=restoration_id)(records)

    flow = [*completed.values(), restored, *mine(records)]
    for record in flow:
        assert record.headers["traceparent"].split("-")[1] == trace_id, record.type
    for record in [
        *completed.values(),
        *[r for r in mine(records) if r.json()["indicator"] != "licensed_export_recovered"],
    ]:
        # AMBER seizure + AMBER+STRICT results: never weaker than AMBER+STRICT
        assert TLP_ORDER.index(record.headers["ce_tlp"]) >= TLP_ORDER.index("AMBER+STRICT"), record.type
        assert {"us-cbp", "us-atf-ntc"} <= set(record.headers["ce_originator"].split(","))
    [licensed] = [r for r in mine(records) if r.json()["indicator"] == "licensed_export_recovered"]
    assert licensed.json()["evidence"]["licence_number"] == f"DSP-{run}"
    assert licensed.json()["evidence"]["recovered_while_licence_valid"] is True
    assert {"us-cbp", "us-ddtc"} <= set(licensed.headers["ce_originator"].split(","))
    [repeat] = [r for r in mine(records) if r.json()["indicator"] == "repeat_purchaser"]
    assert set(repeat.json()["trace_request_ids"]) == {glock_id, colt_id}

    db = mongo[system.database("firearms")]
    stored = db.trace_requests.find_one({"_id": glock_id})
    assert stored is not None
    assert (stored["status"], stored["time_to_crime_days"], stored["markings"]["tlp"]) == (
        "completed",
        309,
        "AMBER+STRICT",
    )
    assert db.restoration_requests.find_one({"_id": restoration_id})["status"] == "restored"  # type: ignore[index]


async def test_trace_statistics_are_reproducible_from_the_stored_records(
    system: System,
    agency: Agency,
    mongo: MongoClient[dict[str, object]],
) -> None:
    # This test's own seizure, recovered in 2025-Q1: no other test records or asks for that period.
    run = uuid.uuid4().hex[:6].upper()
    reference = f"STAT-{run}"
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        seizure_reported(
            reference, seized_at="2025-02-10T10:00:00-06:00", firearms=[gun(f"S{run}", 0), gun(f"R{run}", 1)]
        ),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        key=reference,
    )
    seizure_id = await recorded_seizure_id(system, reference)
    events = system.topic("alliance.firearms.events")
    opened = firearms_events_for(seizure_id)
    completed_id = opened(await read_until([events], lambda rs: len(opened(rs)) >= 2))[0].json()["trace_request_id"]
    atf = Agency(agency.producer, "us-atf")
    intake = system.topic("alliance.firearms.intake")
    await Agency(agency.producer, "us-atf-ntc").send(
        intake,
        {
            "trace_request_id": completed_id,
            "outcome": "completed",
            "dealer": {"name": "Border Sporting Goods", "state": "TX"},
            "purchaser": {"given_names": "Ana", "surnames": [f"Stat{run}"], "date_of_birth": "1985-01-01"},
            "sale_date": "2024-06-01",
        },
        event_type="org.alliance.firearms.trace_result.reported.v1",
        key=completed_id,
    )
    await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")])
    await wait_drained(system.group("firearms", "intake"), [intake])

    ask = {"period_start": "2025-01-01", "period_end": "2025-03-31", "language": "es"}
    first = await atf.send(intake, ask, event_type="org.alliance.firearms.trace_statistics.requested.v1")
    second = await atf.send(intake, ask, event_type="org.alliance.firearms.trace_statistics.requested.v1")

    db = mongo[system.database("firearms")]
    period = {"recovery_date": {"$gte": "2025-01-01", "$lte": "2025-03-31"}}
    expected_total = db.trace_requests.count_documents(period)
    expected_completed = db.trace_requests.count_documents({**period, "status": "completed"})

    published = of_type("trace_statistics.published.v1", period_start="2025-01-01", language="es")
    await read_until([events], lambda rs: len(published(rs)) >= 2)
    await wait_drained(system.group("firearms", "intake"), [intake])
    figures = [r.json() for r in published(await read_all([events]))]
    assert len(figures) == 2  # one publication per request
    assert figures[0] == figures[1]  # the same records give the same figures
    assert figures[0]["trace_requests"] == expected_total == 2
    assert figures[0]["by_status"].get("Concluida", 0) == expected_completed == 1
    assert set(figures[0]["by_status"]) <= {"Enviada", "En trámite", "Concluida", "No concluida"}
    assert db.trace_statistics.count_documents({"report.period_start": "2025-01-01"}) == 2
    assert first != second
