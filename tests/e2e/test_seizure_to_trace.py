"""Flow 1 (first part): a seizure reported by an agency → trace and restoration requests in firearms."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from pymongo import MongoClient

from harness import (
    SEIZURE_RECORDED,
    Agency,
    Record,
    System,
    firearms_events_for,
    read_all,
    read_until,
    recorded_seizure_id,
    traceparent,
    wait_drained,
)
from payloads.firearms import GUNS, gun
from payloads.interdiction import TRACTOR_TRAILER, seizure_reported

pytestmark = pytest.mark.e2e

SEIZURE_REPORTED = "org.alliance.interdiction.seizure.reported.v1"
TRACE_SUBMITTED = "org.alliance.firearms.trace_request.submitted.v1"
RESTORATION_REQUESTED = "org.alliance.firearms.restoration.requested.v1"
REJECTED = "org.alliance.event.rejected.v1"
TLP_ORDER = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


def three_gun_seizure(reference: str) -> dict[str, Any]:
    """A Colt rifle and a Glock pistol with legible serials, a revolver whose serial is obliterated, and cash."""
    guns = [
        gun("PX4-" + reference, 1, importer=None),
        gun("G19-" + reference, 0),
        {"serial_obliterated": True, **GUNS[2]},
    ]
    return seizure_reported(
        reference, **TRACTOR_TRAILER, firearms=guns, currency=[{"amount": 48500, "currency": "USD"}]
    )


async def test_amber_seizure_with_three_guns_opens_two_traces_and_one_restoration(
    system: System,
    agency: Agency,
    mongo: MongoClient[dict[str, object]],
) -> None:
    reference = f"LRD-{uuid.uuid4().hex[:8]}"
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        three_gun_seizure(reference),
        event_type=SEIZURE_REPORTED,
        tlp="AMBER",
        key=reference,
    )

    seizure_id = await recorded_seizure_id(system, reference)
    matching = firearms_events_for(seizure_id)
    await read_until([system.topic("alliance.firearms.events")], lambda rs: len(matching(rs)) >= 3)
    # the handler returns (and commits) only after its events are published and marked
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")])
    published = matching(await read_all([system.topic("alliance.firearms.events")]))

    assert sorted(r.type for r in published) == sorted([TRACE_SUBMITTED, TRACE_SUBMITTED, RESTORATION_REQUESTED])
    for record in published:
        assert TLP_ORDER.index(record.headers["ce_tlp"]) >= TLP_ORDER.index("AMBER")
        assert set(record.headers["ce_releasableto"].split(",")) <= {"US", "MX"}
        assert "us-cbp" in record.headers["ce_originator"].split(",")
        assert record.key == record.json().get("trace_request_id", record.json().get("restoration_request_id"))

    db = mongo[system.database("firearms")]
    traces = list(db.trace_requests.find({"seizure_id": seizure_id}))
    restorations = list(db.restoration_requests.find({"seizure_id": seizure_id}))
    assert len(traces) == 2
    assert len(restorations) == 1
    assert {t["serial_number"] for t in traces} == {"PX4-" + reference, "G19-" + reference}
    assert restorations[0]["maker"] == "Smith & Wesson"
    assert all(t["status"] == "submitted" for t in traces)
    assert all(doc["markings"]["tlp"] in TLP_ORDER[2:] for doc in [*traces, *restorations])
    ids = [doc["_id"] for doc in [*traces, *restorations]]
    assert db["_outbox"].count_documents({"record": {"$in": ids}}) == 0  # published, then removed


async def test_same_seizure_delivered_twice_still_yields_two_traces_and_one_restoration(
    system: System,
    agency: Agency,
    mongo: MongoClient[dict[str, object]],
) -> None:
    reference = f"LRD-{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    for _ in range(2):  # the very same event (same source and id), as Kafka may redeliver it
        await agency.send(
            system.topic("alliance.interdiction.intake"),
            three_gun_seizure(reference),
            event_type=SEIZURE_REPORTED,
            event_id=event_id,
            key=reference,
        )
    # …and the same report re-sent by the agency under a new event id.
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        three_gun_seizure(reference),
        event_type=SEIZURE_REPORTED,
        key=reference,
    )

    seizure_id = await recorded_seizure_id(system, reference)
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")])

    db = mongo[system.database("firearms")]
    assert db.trace_requests.count_documents({"seizure_id": seizure_id}) == 2
    assert db.restoration_requests.count_documents({"seizure_id": seizure_id}) == 1
    assert mongo[system.database("interdiction")].seizures.count_documents({"report_reference": reference}) == 1

    matching = firearms_events_for(seizure_id)
    published = matching(await read_all([system.topic("alliance.firearms.events")]))
    assert len(published) == 3  # each request published once: redelivery added nothing
    assert len({r.headers["ce_id"] for r in published}) == 3
    recorded = [
        r
        for r in await read_all([system.topic("alliance.interdiction.events")])
        if r.type == SEIZURE_RECORDED and r.json()["report_reference"] == reference
    ]
    assert len(recorded) == 1


async def test_malformed_seizures_are_dead_lettered_and_rejected_and_the_next_one_still_flows(
    system: System,
    agency: Agency,
) -> None:
    intake = system.topic("alliance.interdiction.intake")
    missing_fields = await agency.send(intake, {"report_reference": "LRD-broken"}, event_type=SEIZURE_REPORTED)
    bad_json = await agency.send(intake, b'{"report_reference": "LRD-x", ', event_type=SEIZURE_REPORTED)
    unknown_type = await agency.send(
        intake, three_gun_seizure("LRD-y"), event_type="org.alliance.interdiction.seizure.teleported.v1"
    )
    no_markings = await agency.send(intake, three_gun_seizure("LRD-z"), event_type=SEIZURE_REPORTED, omit=["ce_tlp"])
    reference = f"LRD-{uuid.uuid4().hex[:8]}"
    await agency.send(intake, three_gun_seizure(reference), event_type=SEIZURE_REPORTED, key=reference)

    expected_reasons = {
        missing_fields: "seizure: Field required",
        bad_json: "not valid JSON",
        unknown_type: "unknown event type",
        no_markings: "missing marking attribute(s): ce_tlp",
    }
    bad_ids = set(expected_reasons)

    def dead(records: list[Record]) -> list[Record]:  # a list: a second dead letter for an event must show
        return [r for r in records if r.headers.get("ce_id") in bad_ids]

    def rejections(records: list[Record]) -> list[dict[str, Any]]:
        # The agency's reply stream holds the rejections of all its systems: keep this one's (by its
        # source) and any of this test's events that were too broken to name their source.
        return [
            r.json()
            for r in records
            if r.type == REJECTED
            and (r.json().get("rejected_event_source") == agency.source or r.json()["rejected_event_id"] in bad_ids)
        ]

    dead_topic, reply_topic = system.topic("alliance.interdiction.deadletter"), system.topic(agency.reply_topic_suffix)
    await read_until([dead_topic], lambda rs: {r.headers["ce_id"] for r in dead(rs)} == bad_ids)
    await read_until([reply_topic], lambda rs: {r["rejected_event_id"] for r in rejections(rs)} >= bad_ids)
    # Count once interdiction has consumed its whole intake: each bad event refused exactly once.
    await wait_drained(system.group("interdiction", "intake"), [intake])
    letters = dead(await read_all([dead_topic]))
    assert Counter(r.headers["ce_id"] for r in letters) == Counter(bad_ids)
    dead_letters = {r.headers["ce_id"]: r for r in letters}
    for event_id, reason in expected_reasons.items():
        assert reason in dead_letters[event_id].headers["alliance_dlq_reason"]
        assert dead_letters[event_id].headers["alliance_dlq_topic"] == agency.topic_for(intake)

    replied = rejections(await read_all([reply_topic]))
    assert Counter(r["rejected_event_id"] for r in replied) == Counter(bad_ids)
    replies = {r["rejected_event_id"]: r for r in replied}
    for event_id, reason in expected_reasons.items():
        assert reason in replies[event_id]["reason"]
        assert replies[event_id]["rejected_by"] == "interdiction"
    assert any(e["location"] == "seizure" for e in replies[missing_fields]["errors"])

    seizure_id = await recorded_seizure_id(system, reference)
    matching = firearms_events_for(seizure_id)
    await read_until([system.topic("alliance.firearms.events")], lambda rs: len(matching(rs)) >= 3)
    assert system.services["interdiction"].process.poll() is None  # type: ignore[union-attr]


async def test_the_whole_flow_is_one_trace(system: System, agency: Agency) -> None:
    trace_id, parent = traceparent()
    reference = f"LRD-{uuid.uuid4().hex[:8]}"
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        three_gun_seizure(reference),
        event_type=SEIZURE_REPORTED,
        key=reference,
        trace=parent,
    )

    seizure_id = await recorded_seizure_id(system, reference)
    matching = firearms_events_for(seizure_id)
    records = await read_until([system.topic("alliance.firearms.events")], lambda rs: len(matching(rs)) >= 3)
    for record in matching(records):
        assert record.headers["traceparent"].split("-")[1] == trace_id

    intake = system.topic("alliance.interdiction.intake.us-cbp")  # the customs post's own intake topic
    events = system.topic("alliance.interdiction.events")
    firearms = system.topic("alliance.firearms.events")
    wanted = {
        ("alliance-interdiction", f"{intake} process"),
        ("alliance-interdiction", f"{events} publish"),
        ("alliance-firearms", f"{events} process"),
        ("alliance-firearms", f"{firearms} publish"),
    }
    import asyncio

    async with asyncio.timeout(30):
        while not wanted <= {(s.service, s.name) for s in system.otlp.in_trace(trace_id)}:
            await asyncio.sleep(0.2)  # spans arrive from the services' batch exporters
    spans = system.otlp.in_trace(trace_id)
    assert {s.trace_id for s in spans} == {trace_id}
    assert sum(1 for s in spans if (s.service, s.name) == ("alliance-firearms", f"{firearms} publish")) == 3


def test_each_service_publishes_its_asyncapi_document_with_event_schemas(system: System) -> None:
    interdiction = system.services["interdiction"].asyncapi()
    firearms = system.services["firearms"].asyncapi()
    assert interdiction["asyncapi"] == "3.0.0"
    intake = system.topic("alliance.interdiction.intake.{agency}")  # one channel per agency, as a parameter
    assert any(c["address"] == intake and "agency" in c["parameters"] for c in interdiction["channels"].values())
    report = interdiction["components"]["messages"]["SeizureReported"]
    assert report["headers"]["properties"]["ce_type"] == {"const": SEIZURE_REPORTED}
    assert "ce_tlp" in report["headers"]["required"]
    assert "report_reference" in report["payload"]["required"]
    sent = {op["channel"]["$ref"] for op in firearms["operations"].values() if op["action"] == "send"}
    channels = ["alliance.firearms.events", "alliance.deliveries.agency", "alliance.audit", "alliance.replies.agency"]
    assert sent == {"#/channels/" + system.topic(c).replace(".", "_") for c in channels}
    assert set(firearms["components"]["messages"]) >= {"TraceRequestSubmitted", "RestorationRequested"}
