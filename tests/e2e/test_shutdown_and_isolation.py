"""SIGTERM under load loses nothing and dead-letters nothing; the outbox sweep and the deadline clock
carry on past a record they cannot handle. Each test runs its services in a namespace of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient

from alliance.application.records import PendingEvent
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from alliance.runtime.store import due_bucket
from harness import Agency, OtlpReceiver, Producers, Record, System, read_all, read_until, wait_drained
from payloads.firearms import gun
from payloads.interdiction import seizure_reported

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
SUBMITTED = "org.alliance.firearms.trace_request.submitted.v1"
APPROACHING = "org.alliance.deadline.approaching.v1"
BREACHED = "org.alliance.deadline.breached.v1"


@pytest.fixture
def pair(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    system = System(namespace=f"s{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        env = {"ALLIANCE_DEADLINE_SCAN_SECONDS": "0.5", "ALLIANCE_TRACE_REPLY_HOURS": str(20 / 3600)}
        system.start("interdiction", env)
        system.start("firearms", env)
        yield system
    finally:
        system.stop_all()


def one_gun_seizure(reference: str) -> dict[str, Any]:
    return seizure_reported(reference, firearms=[gun("SN-" + reference)])


async def test_sigterm_under_load_loses_nothing_and_dead_letters_nothing(pair: System) -> None:
    producer = Producers()
    agency = Agency(producer, "us-cbp")
    references = [f"load-{i}-{uuid.uuid4().hex[:6]}" for i in range(150)]
    try:
        for reference in references:
            await agency.send(
                pair.topic("alliance.interdiction.intake"), one_gun_seizure(reference), event_type=REPORTED
            )

        # Stop both services while they work through the burst, then bring them back.
        await read_until([pair.topic("alliance.firearms.events")], lambda rs: any(r.type == SUBMITTED for r in rs))
        pair.stop("interdiction")
        pair.stop("firearms")
        # A graceful stop ends with the store closed after the consumers (uvicorn re-raises SIGTERM, so
        # the exit code says "terminated" either way): the service logs it as its last step.
        stopped = {k: '"event": "service stopped"' in s.log.read_text() for k, s in pair.services.items()}
        pair.start("interdiction")
        pair.start("firearms")
    finally:
        await producer.stop()

    await wait_drained(pair.group("interdiction", "intake"), [pair.topic("alliance.interdiction.intake")], 120)
    await wait_drained(pair.group("firearms", "seizures"), [pair.topic("alliance.interdiction.events")], 120)
    await pair_outboxes_empty(pair)
    seizures = await read_all([pair.topic("alliance.interdiction.events")])
    traces = await read_all([pair.topic("alliance.firearms.events")])
    letters = await read_all(
        [pair.topic("alliance.interdiction.deadletter"), pair.topic("alliance.firearms.deadletter")]
    )

    assert stopped == {"interdiction": True, "firearms": True}
    assert sorted({r.json()["report_reference"] for r in seizures if r.type == RECORDED}) == sorted(references)
    submitted = {r.json()["serial_number"] for r in traces if r.type == SUBMITTED}
    assert submitted == {"SN-" + reference for reference in references}
    assert letters == []


async def pair_outboxes_empty(system: System) -> None:
    """Events committed before the stop are published by the restarted relay: wait for the outboxes."""
    client: MongoClient[dict[str, Any]] = MongoClient(_mongo_uri(), tz_aware=True)
    try:
        async with asyncio.timeout(60):
            for service in ("interdiction", "firearms"):
                while client[system.database(service)]["_outbox"].count_documents({}):
                    await asyncio.sleep(0.2)  # observing stored state, as wait_drained observes offsets
    finally:
        client.close()


def _mongo_uri() -> str:
    from harness import MONGO_URI

    return MONGO_URI


MARKINGS = Markings(tlp=TLP.GREEN, releasable_to=("US", "MX"), originators=("test",))


async def test_the_sweep_and_the_clock_carry_on_past_records_they_cannot_handle(pair: System) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(_mongo_uri(), tz_aware=True)
    db = client[pair.database("firearms")]
    events_topic = pair.topic("alliance.firearms.events")
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    # An outbox entry that cannot be published (not an event), and a good one a crash left behind.
    db["_outbox"].insert_one(
        {
            "_id": "trace_requests|BROKEN@0000000001",
            "collection": "trace_requests",
            "record": "BROKEN",
            "version": 1,
            "events": [{"garbage": True}],
            "created_at": long_ago,
            "attempts": 0,
        }
    )
    leftover = PendingEvent(
        topic=events_topic,
        key="LEFTOVER",
        event=CloudEvent(
            id=f"leftover-{uuid.uuid4().hex[:8]}",
            source="urn:alliance:service:firearms",
            type="org.alliance.firearms.trace_request.in_progress.v1",
            time=datetime.now(UTC),
            markings=MARKINGS,
            data={"trace_request_id": "LEFTOVER", "tracing_center_reference": "T-1", "status": "in_progress"},
        ),
    )
    db["_outbox"].insert_one(
        {
            "_id": "trace_requests|LEFTOVER@0000000002",
            "collection": "trace_requests",
            "record": "LEFTOVER",
            "version": 2,
            "events": [leftover.to_document()],
            "created_at": long_ago,
            "attempts": 0,
        }
    )
    # A due deadline on a record that cannot be loaded.
    db["trace_requests"].insert_one({"_id": "UNLOADABLE", "version": 1, "status": 42})
    db["_deadlines"].insert_one(
        {
            "_id": "trace_requests|UNLOADABLE",
            "collection": "trace_requests",
            "record": "UNLOADABLE",
            "due_at": long_ago,
            "bucket": due_bucket(datetime.now(UTC)),
            "version": 1,
        }
    )

    producer = Producers()
    try:
        reference = f"clock-{uuid.uuid4().hex[:6]}"
        await Agency(producer, "us-cbp").send(
            pair.topic("alliance.interdiction.intake"), one_gun_seizure(reference), event_type=REPORTED
        )
    finally:
        await producer.stop()

    def escalated(records: list[Record], kind: str) -> list[Record]:
        return [r for r in records if r.type == kind and r.json()["record_type"] == "trace_request"]

    records = await read_until([events_topic], lambda rs: bool(escalated(rs, BREACHED)), timeout=90)
    assert any(r.headers.get("ce_id") == leftover.event.id for r in records)
    assert len(escalated(records, APPROACHING)) == 1
    health = pair.services["firearms"].health()
    assert health["outbox_failures"] >= 1
    assert health["deadline_failures"] >= 1
    broken = db["_outbox"].find_one({"_id": "trace_requests|BROKEN@0000000001"})
    assert broken is not None
    assert broken["attempts"] >= 1  # kept, retried later with backoff; never blocks the others
    client.close()
