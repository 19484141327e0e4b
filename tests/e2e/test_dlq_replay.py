"""Dead-letter replay through the service: a refused event, fixed and replayed, is processed once as its
sender's; a second replay does nothing; no operator (nor service) can write an agency's intake topic."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

from harness import (
    BOOTSTRAP,
    STACK_HOME,
    VENV_BIN,
    Agency,
    Record,
    System,
    kafka_login,
    operator,
    operator_cli,
    read_all,
    read_until,
    security,
    wait_drained,
)
from payloads.interdiction import COCAINE, seizure_contents

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
AMENDED = "org.alliance.interdiction.seizure.amended.v1"
CORRECTED = "org.alliance.interdiction.seizure.corrected.v1"
SEIZURE = seizure_contents(drugs=[{**COCAINE, "quantity": 3}])


def replay(system: System, event_id: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALLIANCE_NAMESPACE": system.namespace, "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP}
    secret = str(security.secret_file(STACK_HOME, security.OPERATOR))
    command = [str(VENV_BIN / "alliance"), "dlq", "replay", event_id, "--format", "json", "--password-file", secret]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_a_fixed_dead_letter_replayed_is_processed_once_and_a_second_replay_does_nothing(
    system: System, agency: Agency
) -> None:
    """The operator names the dead letter; the service replays it as CBP's (the topic it came from)."""
    reference = f"RPL-{uuid.uuid4().hex[:8]}"
    intake = system.topic("alliance.interdiction.intake")
    dead_topic = system.topic("alliance.interdiction.deadletter")
    events = system.topic("alliance.interdiction.events")
    amendment = {"report_reference": reference, "reason": "weight re-measured", "seizure": SEIZURE}

    # The amendment arrives before the seizure it amends is reported: refused after the wait, with a reason.
    amended = await agency.send(intake, amendment, event_type=AMENDED, key=reference)
    await read_until([dead_topic], lambda rs: any(r.headers.get("ce_id") == amended for r in rs))
    # The fix: the seizure is reported.
    await agency.send(intake, {"report_reference": reference, "seizure": SEIZURE}, event_type=REPORTED, key=reference)
    await wait_drained(system.group("interdiction", "intake"), [agency.topic_for(intake)])

    first = replay(system, amended)
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)[0]
    assert done["event_id"] == amended
    assert done["requested_by"] == "operator"
    assert done["replayed_by"] == "interdiction"  # the service re-read its own dead letter
    assert done["outcome"] == "processed"
    assert done["intake_topic"] == agency.topic_for(intake)
    assert done["reason"].startswith("rule violated")

    def corrected(records: list) -> list:  # type: ignore[type-arg]
        return [r for r in records if r.type == CORRECTED and r.json().get("report_reference") == reference]

    await read_until([events], lambda rs: len(corrected(rs)) >= 1)

    second = replay(system, amended)
    assert second.returncode == 1
    assert "replayed already, by operator" in second.stderr

    # After everything is read: one correction, one dead letter, one replay record naming who did it.
    await wait_drained(system.group("interdiction", "intake"), [agency.topic_for(intake)])
    assert len(corrected(await read_all([events]))) == 1
    assert len([r for r in await read_all([dead_topic]) if r.headers.get("ce_id") == amended]) == 1
    replays = [r for r in operator_cli(system, "dlq", "replays", "--format", "json") if r["event_id"] == amended]
    assert len(replays) == 1
    assert replays[0]["requested_by"] == "operator"
    # Nothing was written to the intake topic by anyone but the agency (of this case's records: the
    # module's other tests share the topic).
    written = [r for r in await read_all([agency.topic_for(intake)]) if r.json().get("report_reference") == reference]
    assert {r.headers["ce_source"] for r in written} == {agency.source}
    assert len([r for r in written if r.headers.get("ce_id") == amended]) == 1


@pytest.mark.parametrize("principal", ["operator", "svc-interdiction"])
async def test_no_principal_but_the_agency_can_write_its_intake_topic(system: System, principal: str) -> None:
    """The topic proves the sender: an operator (or the service itself) writing a record as CBP's is
    refused by the broker, and the refusal is in the broker's authorizer log."""
    system.provision()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **kafka_login(principal))
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(
                system.topic("alliance.interdiction.intake.us-cbp"),
                json.dumps({"report_reference": "FORGED", "seizure": SEIZURE}).encode(),
                headers=[("ce_source", b"urn:agency:us-cbp:forged"), ("ce_type", REPORTED.encode())],
            )
    finally:
        await producer.stop()
    denial = f"Principal = User:{principal} is Denied operation = WRITE"
    topic = system.topic("alliance.interdiction.intake.us-cbp")
    # The broker's authorizer log is the audit of refused requests (the stack's, wherever the tests run from).
    async with asyncio.timeout(30):
        while not any(
            denial in line and topic in line for line in (STACK_HOME / "logs" / "kafka.log").read_text().splitlines()
        ):
            await asyncio.sleep(0.5)


async def test_two_requests_to_replay_one_dead_letter_replay_it_once(system: System, agency: Agency) -> None:
    """Requests written directly (no CLI check first), twice: one replay, the other declined."""
    reference = f"RPL2-{uuid.uuid4().hex[:8]}"
    intake = system.topic("alliance.interdiction.intake")
    dead_topic = system.topic("alliance.interdiction.deadletter")
    amendment = {"report_reference": reference, "reason": "weight re-measured", "seizure": SEIZURE}
    amended = await agency.send(intake, amendment, event_type=AMENDED, key=reference)
    [letter] = [
        r
        for r in await read_until([dead_topic], lambda rs: any(r.headers.get("ce_id") == amended for r in rs))
        if r.headers.get("ce_id") == amended
    ]
    await agency.send(intake, {"report_reference": reference, "seizure": SEIZURE}, event_type=REPORTED, key=reference)
    await wait_drained(system.group("interdiction", "intake"), [agency.topic_for(intake)])
    where = f"{letter.topic}:{letter.partition}:{letter.offset}"
    request_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **operator())
    await producer.start()
    try:
        for request_id in request_ids:
            request = {"dead_letter": where, "event_id": amended, "requested_at": datetime.now(UTC).isoformat()}
            headers = {
                "ce_id": request_id,
                "ce_source": "urn:alliance:operator:operator",
                "ce_type": "org.alliance.operations.dead_letter_replay_requested.v1",
                "ce_specversion": "1.0",
                "ce_time": datetime.now(UTC).isoformat(),
                "content-type": "application/json",
                "ce_tlp": "AMBER",
                "ce_releasableto": "MX,US",
                "ce_originator": "alliance",
                "ce_orcon": "false",
            }
            await producer.send_and_wait(
                system.topic("alliance.operations.replay_requests"),
                json.dumps(request).encode(),
                key=where.encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()

    def answers(records: list[Record]) -> dict[str, dict[str, Any]]:
        return {a["request_id"]: a for r in records if (a := r.json()).get("request_id") in request_ids}

    replays_topic = system.topic("alliance.operations.replays")
    answered = answers(await read_until([replays_topic], lambda rs: len(answers(rs)) == 2))
    assert sorted(a["outcome"] for a in answered.values()) == ["not_replayed", "processed"]
    assert "replayed already" in answered[request_ids[1]]["detail"]
    await wait_drained(system.group("interdiction", "replays"), [system.topic("alliance.operations.replay_requests")])
    corrected = [
        r
        for r in await read_all([system.topic("alliance.interdiction.events")])
        if r.type == CORRECTED and r.json().get("report_reference") == reference
    ]
    assert len(corrected) == 1
    assert len(answers(await read_all([replays_topic]))) == 2
