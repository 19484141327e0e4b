"""Flow 3 (first half), the deadline clock, and amendments, end to end on the real stack."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient

from harness import (
    Agency,
    Producers,
    Record,
    System,
    read_all,
    read_until,
    recorded_seizure_id,
    traceparent,
    wait_drained,
    wait_outboxes_empty,
)
from payloads.chemicals import pen_submitted
from payloads.interdiction import seizure_reported

pytestmark = pytest.mark.e2e

TLP_ORDER = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]
CHEM = "org.alliance.chemicals."


def chem(suffix: str, **fields: Any) -> Any:
    def select(records: list[Record]) -> list[Record]:
        return [r for r in records if r.type == CHEM + suffix and all(r.json().get(k) == v for k, v in fields.items())]

    return select


def notification(reference: str, run: str, **overrides: Any) -> dict[str, Any]:
    """A notification between this run's own companies (their names carry ``run``)."""
    exporter = {"name": f"Gulf Coast Solvents {run}, Inc.", "country": "US"}
    importer = {"name": f"Química del Norte {run}, S.A. de C.V.", "country": "MX"}
    fields = {
        "pen_reference": reference,
        "exporter": exporter,
        "importer": importer,
        "substance": "1-phenyl-2-propanone",
    }
    return pen_submitted(**{**fields, **overrides})


async def test_flow_3_precursor_seizure_matches_an_open_notification_and_raises_a_diversion_alert(
    system: System,
    producer: Producers,
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    dea, cofepris, semar = Agency(producer, "us-dea"), Agency(producer, "mx-cofepris"), Agency(producer, "mx-semar")
    intake = system.topic("alliance.chemicals.intake")
    importer = {"name": f"QUIMICA DEL NORTE {run} SA DE CV", "country": "MX"}
    await cofepris.send(
        intake,
        {"importer": importer, "substance": "P2P", "year": 2026, "annual_quantity": 300, "unit": "kg"},
        event_type=CHEM + "legitimate_need.declared.v1",
    )
    await wait_drained(system.group("chemicals", "intake"), [intake])
    pen = f"US-PEN-{run}"
    await dea.send(
        intake, notification(pen, run), event_type=CHEM + "pre_export_notification.submitted.v1", key=pen, tlp="GREEN"
    )
    # The notification is on file before the seizure, so the alert belongs to the seizure's trace (matching
    # runs from both sides: a notification arriving second would raise the same alert in its own trace).
    await wait_drained(system.group("chemicals", "intake"), [intake])

    # A Mexican navy seizure at Manzanillo with P-2-P, reported to interdiction under AMBER+STRICT / ORCON.
    trace_id, parent = traceparent()
    reference = f"SEMAR-{run}"
    await semar.send(
        system.topic("alliance.interdiction.intake"),
        seizure_reported(
            reference,
            mode="sea",
            seized_at="2026-12-02T10:00:00-06:00",
            place={"description": "Puerto de Manzanillo, terminal 3", "country": "MX", "subdivision": "Colima"},
            chemicals=[
                {"substance": "P-2-P", "quantity": 800, "unit": "kg"},
                {"substance": "sodium chloride", "quantity": 20, "unit": "kg"},
            ],
        ),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        key=reference,
        tlp="AMBER+STRICT",
        orcon="true",
        trace=parent,
    )
    seizure_id = await recorded_seizure_id(system, reference)

    events = system.topic("alliance.chemicals.events")
    registered = chem("pre_export_notification.registered.v1", pen_reference=pen)
    alerts = chem("diversion_alert.raised.v1", pen_reference=pen)
    incidents = chem("incident.recorded.v1", seizure_id=seizure_id)
    await read_until([events], lambda rs: bool(registered(rs)) and bool(incidents(rs)) and len(alerts(rs)) >= 2)
    # Read everything once chemicals has consumed the seizure and its own intake: nothing more can follow.
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("chemicals", "seizures"), [system.topic("alliance.interdiction.events")])
    await wait_drained(system.group("chemicals", "intake"), [intake])
    records = await read_all([events])

    [incident] = incidents(records)  # sodium chloride is not a scheduled precursor
    assert incident.json()["substance"]["code"] == "P2P"
    assert incident.json()["quantity_kg"] == 800
    assert sorted(r.json()["reason"].split(" ")[0] for r in alerts(records)) == ["incident", "order"]
    by_reason = {r.json()["reason"].split(" ")[0]: r for r in alerts(records)}
    diversion, excessive = by_reason["incident"], by_reason["order"]
    assert diversion.json()["incident_id"] == incident.json()["incident_id"]
    assert diversion.json()["exporter"]["name"] == f"Gulf Coast Solvents {run}, Inc."
    assert diversion.json()["importer"]["name"] == f"Química del Norte {run}, S.A. de C.V."
    assert any("on the notified route" in why for why in diversion.json()["evidence"]["matched_on"])
    # GREEN notification + AMBER+STRICT/ORCON seizure: the alert is at least AMBER+STRICT with ORCON
    assert TLP_ORDER.index(diversion.headers["ce_tlp"]) >= TLP_ORDER.index("AMBER+STRICT")
    assert diversion.headers["ce_orcon"] == "true"
    assert {"us-dea", "mx-semar"} <= set(diversion.headers["ce_originator"].split(","))
    for record in (incident, diversion):
        assert record.headers["traceparent"].split("-")[1] == trace_id
    assert excessive.json()["evidence"]["ratio"] == pytest.approx(6.67)
    assert {"us-dea", "mx-cofepris"} <= set(excessive.headers["ce_originator"].split(","))


async def test_reply_deadline_escalates_exactly_once_across_a_restart_and_with_two_instances(
    system: System,
    producer: Producers,
    mongo: MongoClient[dict[str, object]],
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    dea, cofepris = Agency(producer, "us-dea"), Agency(producer, "mx-cofepris")
    intake = system.topic("alliance.chemicals.intake")
    due = datetime.now(UTC) + timedelta(seconds=12)  # warns 3 s before it is due
    unanswered, answered = f"US-PEN-{run}-A", f"US-PEN-{run}-B"
    for pen in (unanswered, answered):
        await dea.send(
            intake,
            notification(pen, run, reply_due_by=due.isoformat()),
            event_type=CHEM + "pre_export_notification.submitted.v1",
            key=pen,
        )
    await cofepris.send(
        intake,
        {"pen_reference": answered, "exporting_country": "US", "decision": "no_objection"},
        event_type=CHEM + "pre_export_notification.replied.v1",
        key=answered,
    )

    events = system.topic("alliance.chemicals.events")
    registered = chem("pre_export_notification.registered.v1", pen_reference=unanswered)
    ids = await read_until([events], lambda rs: bool(registered(rs)))
    notification_id = registered(ids)[0].json()["notification_id"]
    approaching = [CHEM[: -len("chemicals.")] + "deadline.approaching.v1"]
    breached = [CHEM[: -len("chemicals.")] + "deadline.breached.v1"]

    def escalations(rs: list[Record], types: list[str], record_id: str) -> list[Record]:
        return [r for r in rs if r.type in types and r.json()["record_id"] == record_id]

    records = await read_until([events], lambda rs: bool(escalations(rs, approaching, notification_id)), timeout=60)
    [warning] = escalations(records, approaching, notification_id)
    assert warning.json()["kind"] == "importing_country_reply"

    # Crash the service between the warning and the breach, then run two instances side by side. The
    # crash comes after the warning is marked published: a crash inside the publish itself would make
    # the restarted relay publish the same event id again (at-least-once), which is not the clock's doing.
    outbox = mongo[system.database("chemicals")]["_outbox"]
    async with asyncio.timeout(30):
        while outbox.count_documents({"record": notification_id}):
            await asyncio.sleep(0.1)  # observing the stored outbox state
    system.stop("chemicals", signal.SIGKILL)
    chemicals = system.start("chemicals")
    second = system.start("chemicals", chemicals.env, instance="chemicals-2")
    records = await read_until([events], lambda rs: bool(escalations(rs, breached, notification_id)), timeout=60)
    # Let both clocks look several more times before counting.
    marks = {s.name + str(s.port): s.health()["deadline_sweeps"] for s in (chemicals, second)}
    async with asyncio.timeout(30):
        while any(s.health()["deadline_sweeps"] < marks[s.name + str(s.port)] + 4 for s in (chemicals, second)):
            await asyncio.sleep(0.25)  # watching the clocks' own counters
    system.stop("chemicals-2")
    await wait_drained(system.group("chemicals", "intake"), [intake])
    # The clock publishes through the outbox: once it is empty, every escalation raised is on the topic.
    await wait_outboxes_empty(system, ["chemicals"])

    records = await read_all([events])
    assert len(escalations(records, approaching, notification_id)) == 1
    assert len(escalations(records, breached, notification_id)) == 1
    answered_id = next(r.json()["notification_id"] for r in records if r.json().get("pen_reference") == answered)
    assert escalations(records, approaching + breached, answered_id) == []
    doc = mongo[system.database("chemicals")].pre_export_notifications.find_one({"_id": notification_id})
    assert doc is not None
    assert doc["next_deadline_at"] is None
    assert doc["deadlines"][0]["breached_raised"] is True


async def test_amendment_is_applied_downstream_without_duplicating_work(
    system: System,
    agency: Agency,
    mongo: MongoClient[dict[str, object]],
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    reference = f"LRD-{run}"
    contents: dict[str, Any] = {
        "mode": "land",
        "seized_at": "2026-11-23T08:00:00-06:00",
        "place": {"description": "Nogales, Mariposa port of entry", "country": "US", "port_of_entry": "Nogales"},
        "firearms": [{"serial_number": f"A{run}", "maker": "Ruger", "firearm_type": "pistol"}],
        "chemicals": [{"substance": "ephedrine", "quantity": 25, "unit": "kg"}],
    }
    intake = system.topic("alliance.interdiction.intake")
    await agency.send(
        intake,
        {"report_reference": reference, "seizure": contents},
        event_type="org.alliance.interdiction.seizure.reported.v1",
        key=reference,
    )
    corrected = {
        **contents,
        "firearms": [*contents["firearms"], {"serial_number": f"B{run}", "maker": "Ruger", "firearm_type": "rifle"}],
        "chemicals": [{"substance": "ephedrine", "quantity": 27.5, "unit": "kg"}],
    }
    amendment = {"report_reference": reference, "reason": "second rifle found in the spare tyre", "seizure": corrected}
    for _ in range(2):  # the same amendment redelivered
        await agency.send(
            intake,
            amendment,
            event_type="org.alliance.interdiction.seizure.amended.v1",
            key=reference,
            event_id=f"amend-{run}",
        )

    seizure_id = await recorded_seizure_id(system, reference)

    def corrections(rs: list[Record]) -> list[Record]:
        return [
            r
            for r in rs
            if r.type == "org.alliance.interdiction.seizure.corrected.v1" and r.json()["seizure_id"] == seizure_id
        ]

    await read_until([system.topic("alliance.interdiction.events")], lambda rs: bool(corrections(rs)))
    for service, topic in (("interdiction", "intake"), ("firearms", "seizures"), ("chemicals", "seizures")):
        source = "alliance.interdiction.intake" if topic == "intake" else "alliance.interdiction.events"
        await wait_drained(system.group(service, topic), [system.topic(source)])
    # The redelivered amendment is consumed too: a second correction would be on the topic by now.
    records = await read_all([system.topic("alliance.interdiction.events")])
    assert [c.json()["revision"] for c in corrections(records)] == [2]
    firearms = mongo[system.database("firearms")]
    assert firearms.trace_requests.count_documents({"seizure_id": seizure_id}) == 2
    assert mongo[system.database("chemicals")].incidents.count_documents({"seizure_id": seizure_id}) == 1
    assert mongo[system.database("interdiction")].seizures.find_one({"_id": seizure_id})["revision"] == 2  # type: ignore[index]
