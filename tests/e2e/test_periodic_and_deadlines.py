"""The tracing-center reply deadline and the quarterly seizure statistics, on the real stack."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient

from harness import (
    Agency,
    Record,
    System,
    firearms_events_for,
    read_all,
    read_until,
    recorded_seizure_id,
    wait_deadline_sweeps,
    wait_drained,
    wait_outboxes_empty,
)
from payloads.firearms import gun
from payloads.interdiction import seizure_reported

pytestmark = pytest.mark.e2e


async def test_unanswered_trace_request_escalates_before_and_at_the_tracing_center_deadline(
    system: System,
    agency: Agency,
) -> None:
    reference = f"ELP-{uuid.uuid4().hex[:8]}"
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        seizure_reported(reference, firearms=[gun(reference)]),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        key=reference,
    )
    seizure_id = await recorded_seizure_id(system, reference)
    events = system.topic("alliance.firearms.events")
    opened = firearms_events_for(seizure_id)
    trace_id = opened(await read_until([events], lambda rs: bool(opened(rs))))[0].json()["trace_request_id"]

    def escalations(rs: list[Record]) -> list[str]:
        return [
            r.type.rsplit(".", 2)[-2]
            for r in rs
            if r.type and r.type.startswith("org.alliance.deadline.") and r.json()["record_id"] == trace_id
        ]

    # The test system shortens the 24-hour reply period to 20 seconds.
    await read_until([events], lambda rs: "breached" in escalations(rs), timeout=60)
    # Let the clock look several more times and its outbox empty, then read everything: a repeat would show.
    await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")])
    await wait_deadline_sweeps([system.services["firearms"]])
    await wait_outboxes_empty(system, ["firearms"])
    records = await read_all([events])
    assert escalations(records) == ["approaching", "breached"]
    breach = next(
        r for r in records if r.type == "org.alliance.deadline.breached.v1" and r.json()["record_id"] == trace_id
    )
    assert breach.json()["kind"] == "tracing_center_reply"
    assert breach.json()["record_type"] == "trace_request"
    assert breach.headers["ce_tlp"] == "AMBER"


def seizure(reference: str, country: str, drugs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A seizure in the second quarter of 2019 (a quarter of its own: no other test's seizure is counted)."""
    place = {"description": "test crossing", "country": country}
    return seizure_reported(reference, seized_at="2019-05-10T12:00:00+00:00", place=place, drugs=drugs, **extra)


async def test_quarterly_seizure_statistics_are_reproducible_from_the_stored_records(
    system: System,
    agency: Agency,
    mongo: MongoClient[dict[str, object]],
) -> None:
    intake = system.topic("alliance.interdiction.intake")
    mx = Agency(agency.producer, "mx-fgr")
    await agency.send(
        intake,
        seizure(
            f"Q-{uuid.uuid4().hex[:6]}",
            "US",
            [{"drug": "cocaine", "quantity": 100, "unit": "lb"}],
            currency=[{"amount": 2500, "currency": "USD"}],
        ),
        event_type="org.alliance.interdiction.seizure.reported.v1",
    )
    await mx.send(
        intake,
        seizure(
            f"Q-{uuid.uuid4().hex[:6]}",
            "MX",
            [{"drug": "methamphetamine", "quantity": 1.5, "unit": "t"}],
            detained_persons=[{"given_names": "Ana", "surnames": ["Pérez", "Ruiz"]}],
        ),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        tlp="AMBER+STRICT",
    )
    await wait_drained(system.group("interdiction", "intake"), [intake])
    ask = {"year": 2019, "quarter": 2, "language": "es"}
    for _ in range(2):
        await agency.send(intake, ask, event_type="org.alliance.interdiction.seizure_statistics.requested.v1")

    def published(rs: list[Record]) -> list[dict[str, Any]]:
        return [
            r.json()
            for r in rs
            if r.type == "org.alliance.interdiction.seizure_statistics.published.v1"
            and r.json()["year"] == 2019
            and r.json()["quarter"] == 2
        ]

    await read_until([system.topic("alliance.interdiction.events")], lambda rs: len(published(rs)) >= 2)
    await wait_drained(system.group("interdiction", "intake"), [intake])
    records = await read_all([system.topic("alliance.interdiction.events")])
    first, second = published(records)  # one publication per request, and only this test asks for 2019-Q2
    assert first == second
    us, mexico = first["countries"]["US"], first["countries"]["MX"]
    # Only this test reports seizures in 2019-Q2 in this run's namespace: the figures are exact.
    assert (us["seizures"], us["drugs_kg"], us["currency"]) == (1, {"Cocaína": 45.359}, {"USD": 2500.0})
    assert (mexico["seizures"], mexico["drugs_kg"], mexico["detained_persons"]) == (1, {"Metanfetamina": 1500.0}, 1)
    stored = mongo[system.database("interdiction")].seizures
    quarter = {"$gte": datetime(2019, 4, 1, tzinfo=UTC), "$lt": datetime(2019, 7, 1, tzinfo=UTC)}
    for country, figures in (("US", us), ("MX", mexico)):
        assert figures["seizures"] == stored.count_documents(
            {"contents.place.country": country, "contents.seized_at": quarter}
        )
    statistics = [
        r
        for r in records
        if r.type == "org.alliance.interdiction.seizure_statistics.published.v1"
        and (r.json()["year"], r.json()["quarter"]) == (2019, 2)
    ]
    for record in statistics:
        assert record.headers["ce_tlp"] in {"AMBER+STRICT", "RED"}  # never weaker than the MX seizure counted
