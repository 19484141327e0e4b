"""Faults: a dependency that is down makes the services wait and retry; no event is lost."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pymongo import MongoClient

from harness import (
    Agency,
    System,
    firearms_events_for,
    read_until,
    recorded_seizure_id,
    stack,
    wait_drained,
    wait_outboxes_empty,
)
from payloads.firearms import OBLITERATED, gun
from payloads.interdiction import seizure_reported

pytestmark = pytest.mark.e2e

SEIZURE_REPORTED = "org.alliance.interdiction.seizure.reported.v1"


def one_gun_seizure(reference: str) -> dict[str, object]:
    """A gun to trace and one whose serial is obliterated: each service of the flow has work (sent by CBP,
    so seized in the US: an agency reports its own country's seizures)."""
    return seizure_reported(reference, firearms=[gun("FN-" + reference), OBLITERATED])


async def test_store_outage_delays_but_loses_nothing(
    system: System, agency: Agency, mongo: MongoClient[dict[str, object]]
) -> None:
    interdiction = system.services["interdiction"]
    stack("down", "--only", "ferretdb")
    try:
        reference = f"ENS-{uuid.uuid4().hex[:8]}"
        await agency.send(
            system.topic("alliance.interdiction.intake"),
            one_gun_seizure(reference),
            event_type=SEIZURE_REPORTED,
            key=reference,
        )
        async with asyncio.timeout(30):
            while interdiction.health()["store"]:
                await asyncio.sleep(0.2)  # observing the service's own health report
        assert interdiction.health()["status"] == "degraded"
        assert interdiction.process is not None
        assert interdiction.process.poll() is None  # waiting, not crashed
    finally:
        stack("up", "--only", "ferretdb")

    seizure_id = await recorded_seizure_id(system, reference, timeout=90)
    matching = firearms_events_for(seizure_id)
    await read_until([system.topic("alliance.firearms.events")], lambda rs: len(matching(rs)) >= 2, timeout=90)
    # Count stored records only once all is consumed: interdiction's intake, whatever the outage left in its
    # outbox, and firearms' reading of the seizures interdiction published.
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")], 90)
    await wait_outboxes_empty(system, ["interdiction"])
    await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")], 90)
    assert mongo[system.database("interdiction")].seizures.count_documents({"report_reference": reference}) == 1
    db = mongo[system.database("firearms")]
    assert db.trace_requests.count_documents({"seizure_id": seizure_id}) == 1
    assert db.restoration_requests.count_documents({"seizure_id": seizure_id}) == 1
    assert interdiction.health()["status"] == "ok"
