"""The trust tests over TLS: the broker's SASL_SSL listener (ALLIANCE_KAFKA_TLS_PORT), whose
certificate the stack's own CA signed, as compose and Kubernetes run every client.

A client that trusts that CA connects; one that trusts only the public CAs, or another CA, or that
speaks plaintext to the TLS port, never gets to authenticate. The ACLs hold the same over TLS, and a
seizure flows end to end (agency → interdiction → firearms → deliveries) with every client on TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from harness import (
    BOOTSTRAP_TLS,
    STACK_CA,
    Agency,
    OtlpReceiver,
    Producers,
    Record,
    System,
    kafka_login,
    read_all,
    read_until,
    security,
)
from payloads.firearms import gun
from payloads.interdiction import seizure_reported

pytestmark = pytest.mark.e2e

RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
TRACE_SUBMITTED = "org.alliance.firearms.trace_request.submitted.v1"


def over_tls(principal: str) -> dict[str, Any]:
    return kafka_login(principal, STACK_CA)


async def connects(**login: Any) -> bool:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP_TLS, request_timeout_ms=5000, **login)
    try:
        await asyncio.wait_for(producer.start(), 30)
    except KafkaConnectionError:
        return False
    finally:
        await producer.stop()
    return True


async def test_an_agency_connects_over_tls_only_trusting_the_stack_s_ca(stack: None, tmp_path: Path) -> None:
    assert await connects(**over_tls("us-cbp"))

    public_only = {
        **kafka_login("us-cbp"),
        "security_protocol": "SASL_SSL",
        "ssl_context": ssl.create_default_context(),
    }
    assert not await connects(**public_only)  # the certificate is not one the public CAs vouch for
    other = security.make_tls(tmp_path / "other", ["127.0.0.1"], ca_name="Another CA")
    assert not await connects(**kafka_login("us-cbp", other.ca))  # nor one another CA signed
    assert not await connects(**kafka_login("us-cbp"))  # plaintext to the TLS port
    assert not await connects(**{**over_tls("us-cbp"), "sasl_plain_password": "not-the-password"})
    assert not await connects(security_protocol="SSL", ssl_context=security.client_tls(STACK_CA))  # no login


async def expect_denied(action: Any) -> None:
    with pytest.raises((TopicAuthorizationFailedError, KafkaError)):
        await asyncio.wait_for(action(), 30)


@pytest.fixture
def tls_pair(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    """Interdiction and firearms in a namespace of their own, every client of theirs on TLS."""
    system = System(namespace=f"tls{uuid.uuid4().hex[:8]}", otlp=otlp)
    env = {"ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP_TLS, "ALLIANCE_KAFKA_CA_FILE": str(STACK_CA)}
    try:
        system.start("interdiction", env)
        system.start("firearms", env)
        yield system
    finally:
        system.stop_all()


async def test_agencies_are_kept_to_their_own_topics_over_tls(tls_pair: System) -> None:
    system = tls_pair
    cbp = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP_TLS, request_timeout_ms=5000, **over_tls("us-cbp"))
    await cbp.start()
    try:
        for topic in ("alliance.interdiction.intake.mx-semar", "alliance.interdiction.events", "alliance.registry"):
            await expect_denied(lambda t=topic: cbp.send_and_wait(system.topic(t), b"{}"))
    finally:
        await cbp.stop()
    for topic in ("alliance.deliveries.mx-semar", "alliance.interdiction.deadletter", "alliance.audit"):
        reader = AIOKafkaConsumer(
            system.topic(topic), bootstrap_servers=BOOTSTRAP_TLS, group_id=None, **over_tls("us-cbp")
        )

        async def read(r: AIOKafkaConsumer = reader) -> None:
            await r.start()
            await r.getmany(timeout_ms=5000, max_records=1)

        try:
            await expect_denied(read)
        finally:
            await reader.stop()


async def test_a_seizure_flows_end_to_end_over_tls(tls_pair: System) -> None:
    system = tls_pair
    producers = Producers(BOOTSTRAP_TLS, STACK_CA)
    reference = f"TLS-{uuid.uuid4().hex[:8]}"
    try:
        await Agency(producers, "us-cbp").send(
            system.topic("alliance.interdiction.intake"),
            seizure_reported(reference, firearms=[gun(f"SN-{reference}")]),
            event_type="org.alliance.interdiction.seizure.reported.v1",
            tlp="GREEN",
            key=reference,
        )
    finally:
        await producers.stop()

    def mine(records: list[Record], event_type: str) -> list[Record]:
        return [r for r in records if r.type == event_type and reference in r.value.decode()]

    # interdiction's fact, firearms' reaction to it (service to service), each as the operator over TLS
    operator = over_tls(security.OPERATOR)
    events = [system.topic("alliance.interdiction.events"), system.topic("alliance.firearms.events")]
    seen = await read_until(events, lambda rs: bool(mine(rs, TRACE_SUBMITTED)), login=operator, bootstrap=BOOTSTRAP_TLS)
    [recorded] = mine(seen, RECORDED)
    # and the agencies receive them on their delivery topics, each reading as itself over TLS
    delivered = await read_until(
        [system.topic("alliance.deliveries.us-cbp")],
        lambda rs: bool(mine(rs, RECORDED)) and bool(mine(rs, TRACE_SUBMITTED)),
        login=over_tls("us-cbp"),
        bootstrap=BOOTSTRAP_TLS,
    )
    assert [r.headers["ce_id"] for r in mine(delivered, RECORDED)] == [recorded.headers["ce_id"]]
    await read_until(
        [system.topic("alliance.deliveries.us-atf")],
        lambda rs: bool(mine(rs, TRACE_SUBMITTED)),
        login=over_tls("us-atf"),
        bootstrap=BOOTSTRAP_TLS,
    )
    atf = await read_all(
        [system.topic("alliance.deliveries.us-atf")], login=over_tls("us-atf"), bootstrap=BOOTSTRAP_TLS
    )
    assert len(mine(atf, TRACE_SUBMITTED)) == 1  # once, counted after reading to the end
