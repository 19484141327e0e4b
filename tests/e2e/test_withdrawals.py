"""Withdrawals on the real broker: a registry change reaches what was released before it.

An agency whose clearance is lowered after it received a record is sent one content-free withdrawal of
that record; an agency that never received it is never told its id, whatever the change.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

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


async def test_a_lower_clearance_withdraws_what_that_agency_received_and_tells_no_one_else(
    system: System, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    holder, bystander = f"mx-rx-{run}", f"mx-bystander-{run}"
    await register_agency(system, receiver(holder, [RECORDED], "AMBER"), [])
    # The bystander may receive trace results only: it could lose access to this seizure but never had it.
    await register_agency(system, receiver(bystander, ["org.alliance.firearms.trace.completed.v1"], "AMBER"), [])
    cbp = Agency(producer, "us-cbp")
    reference = f"WD-{run}"
    seizure = {
        "report_reference": reference,
        "seizure": {
            "mode": "land",
            "seized_at": "2026-11-20T10:00:00-06:00",
            "place": {"description": "Laredo", "country": "US"},
            "drugs": [{"drug": "cocaine", "quantity": 2, "unit": "kg"}],
        },
    }
    reported = "org.alliance.interdiction.seizure.reported.v1"
    await cbp.send(system.topic("alliance.interdiction.intake"), seizure, event_type=reported, tlp="AMBER")

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
