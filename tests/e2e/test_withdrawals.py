"""Disclosure after the fact, on the real broker: registry changes, and what the store says.

An agency whose clearance is lowered after it received a record is sent one content-free withdrawal of
that record; an agency that never received it is never told its id, whatever the change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient

from alliance.application.records import PendingEvent
from alliance.contracts.disclosure import RecipientDecision, Release, markings_digest
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from harness import (
    Agency,
    Producers,
    Record,
    System,
    kafka_login,
    read_all,
    read_until,
    register_agency,
    wait_drained,
    wait_outboxes_empty,
)
from payloads.interdiction import COCAINE, REPORTED, seizure_reported

pytestmark = pytest.mark.e2e

RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
WITHDRAWN = "org.alliance.delivery.withdrawn.v1"


def receiver(agency_id: str, receives: list[str], clearance: str) -> dict[str, Any]:
    return {
        "id": agency_id,
        "name": f"receiving system {agency_id}",
        "country": "MX",
        "kind": "customs",
        "receives": receives,
        "clearance": clearance,
    }


async def report_seizure(system: System, producer: Producers, reference: str) -> None:
    """CBP reports a seizure at Laredo, TLP:AMBER, releasable to both countries."""
    seizure = seizure_reported(reference, drugs=[{**COCAINE, "quantity": 2}])
    await Agency(producer, "us-cbp").send(system.topic("alliance.interdiction.intake"), seizure, event_type=REPORTED)


async def test_a_lower_clearance_withdraws_what_that_agency_received_and_tells_no_one_else(
    system: System, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    holder, bystander = f"mx-rx-{run}", f"mx-bystander-{run}"
    await register_agency(system, receiver(holder, [RECORDED], "AMBER"), [])
    # The bystander may receive trace results only: it could lose access to this seizure but never had it.
    await register_agency(system, receiver(bystander, ["org.alliance.firearms.trace.completed.v1"], "AMBER"), [])
    reference = f"WD-{run}"
    await report_seizure(system, producer, reference)

    def recorded(records: list[Record]) -> list[Record]:
        return [r for r in records if r.type == RECORDED and r.json()["report_reference"] == reference]

    holder_topic, bystander_topic = (
        system.topic(f"alliance.deliveries.{holder}"),
        system.topic(f"alliance.deliveries.{bystander}"),
    )
    [delivered] = recorded(await read_until([holder_topic], lambda rs: bool(recorded(rs)), login=kafka_login(holder)))
    seizure_id = delivered.json()["seizure_id"]

    # The bystander's change first: the pass that withdraws from the holder has seen both changes.
    await register_agency(system, receiver(bystander, ["org.alliance.firearms.trace.completed.v1"], "GREEN"), [])
    await register_agency(system, receiver(holder, [RECORDED], "GREEN"), [])

    def withdrawals(records: list[Record]) -> list[Record]:
        return [r for r in records if r.type == WITHDRAWN and r.json()["record_id"] == seizure_id]

    await read_until([holder_topic], lambda rs: bool(withdrawals(rs)), login=kafka_login(holder))
    # Everything settled: the intake consumed and every outbox published.
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake.us-cbp")])
    await wait_outboxes_empty(system, ["interdiction"])
    held = await read_all([holder_topic], login=kafka_login(holder))
    [withdrawal] = withdrawals(held)
    assert withdrawal.json() == {
        "record_id": seizure_id,
        "reason": "your agency may no longer hold this record; delete what you received about it",
    }
    assert reference not in str(withdrawal.value)  # ids only: no content of the record
    assert len(recorded(held)) == 1
    assert await read_all([bystander_topic], login=kafka_login(bystander)) == []


async def test_a_write_to_the_store_cannot_widen_a_disclosure(
    system: System, producer: Producers, mongo: MongoClient[dict[str, Any]]
) -> None:
    """An outbox entry forged in the store (a US-only fact whose stored release lets a Mexican agency
    receive it) is published, but the release is decided again at publication: the Mexican agency
    receives nothing, and the audit says why."""
    run = uuid.uuid4().hex[:6]
    mexican = f"mx-rx-{run}"
    await register_agency(system, receiver(mexican, [RECORDED], "RED"), [])
    reference = f"FORGE-{run}"
    await report_seizure(system, producer, reference)
    events = system.topic("alliance.interdiction.events")

    def genuine(records: list[Record]) -> list[Record]:
        return [r for r in records if r.type == RECORDED and r.json()["report_reference"] == reference]

    [fact] = genuine(await read_until([events], lambda rs: bool(genuine(rs))))
    forged_id = f"forged-{run}"
    us_only = Markings(tlp=TLP.GREEN, releasable_to=("US",), originators=("us-cbp",))
    event = CloudEvent(
        id=forged_id,
        source="urn:alliance:service:interdiction",
        type=RECORDED,
        time=datetime.now(UTC),
        subject=fact.key,
        markings=us_only,
        data=fact.json(),
    )
    release = Release(
        registry_version=1,
        markings_digest=markings_digest(us_only),
        decided_at=datetime.now(UTC),
        decisions=(RecipientDecision(recipient=mexican, allowed=True, rule="released"),),
    )
    pending = PendingEvent(topic=events, key=fact.key or "", event=event, release=release)
    mongo[system.database("interdiction")]["_outbox"].insert_one(
        {
            "_id": f"seizures|{fact.key}@999",
            "collection": "seizures",
            "record": fact.key,
            "version": 999,
            "events": [pending.to_document()],
            "created_at": datetime.now(UTC) - timedelta(minutes=5),
            "attempts": 0,
        }
    )

    def forged(records: list[Record]) -> list[Record]:
        return [r for r in records if r.headers.get("ce_id") == forged_id]

    def audited(records: list[Record]) -> list[Record]:
        return [r for r in records if r.json().get("fact_id") == forged_id]

    await read_until([events], lambda rs: bool(forged(rs)))  # the relay published it
    [audit] = audited(await read_until([system.topic("alliance.audit")], lambda rs: bool(audited(rs))))
    await wait_outboxes_empty(system, ["interdiction"])
    assert audit.json()["decisions"] == [{"recipient": mexican, "allowed": False, "rule": "releasability"}]
    received = await read_all([system.topic(f"alliance.deliveries.{mexican}")], login=kafka_login(mexican))
    assert forged(received) == []
    assert len(genuine(received)) == 1  # the genuine AMBER US,MX fact did reach it
