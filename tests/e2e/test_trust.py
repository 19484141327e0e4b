"""Trust on the real broker: who may connect, write and read; what each agency receives, and its audit.

The expected recipients are written out here from the registry's entries with the rules of docs/trust-model.md
(an oracle independent of ``alliance.domain.release``): an agency receives a fact when the registry
routes the type to it, its country is releasable, its clearance covers the TLP level, it is named
(AMBER+STRICT, RED) and, for originator-controlled information, it is the originator.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAuthorizationFailedError

from alliance.contracts.registry import baseline_registry
from harness import (
    BOOTSTRAP,
    LOGS,
    STACK_HOME,
    VENV_BIN,
    Agency,
    Producers,
    Record,
    System,
    kafka_login,
    operator_cli,
    read_all,
    read_until,
    security,
    wait_drained,
    wait_outboxes_empty,
)
from payloads.interdiction import COCAINE, seizure_reported

pytestmark = pytest.mark.e2e

RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
PUBLISHED = "org.alliance.interdiction.route_report.published.v1"
REGISTRY = baseline_registry()
RANK = {"CLEAR": 0, "GREEN": 1, "AMBER": 2, "AMBER+STRICT": 3, "RED": 4}
COUNTRIES = {"US": "US", "MX": "MX", "US,MX": "MX,US"}
NAMED = ("mx-semar", "us-epic")  # named recipients of AMBER+STRICT and RED profiles (the sender is added)


def expected(agency: str, event_type: str, tlp: str, releasable: str, orcon: bool, sender: str) -> bool:
    entry = REGISTRY.get(agency)
    assert entry is not None
    domain = event_type.split(".")[2]
    routed = any(p == event_type or p == f"org.alliance.{domain}.*" for p in entry.receives)
    named = tlp not in ("AMBER+STRICT", "RED") or agency in (*NAMED, sender)
    return (
        routed
        and entry.country in releasable.split(",")
        and RANK[tlp] <= RANK[entry.clearance.value]
        and named
        and (not orcon or agency == sender)
    )


def profiles() -> list[tuple[str, str, bool]]:
    return list(itertools.product(RANK, COUNTRIES, [False, True]))


def seizure(reference: str, canary: str) -> dict[str, Any]:
    return seizure_reported(reference, place={"description": f"Laredo {canary}", "country": "US"}, drugs=[COCAINE])


def route_report(reference: str, canary: str) -> dict[str, Any]:
    return {
        "report_reference": reference,
        "kind": "concealment_method",
        "summary": f"Fentanyl pills inside spare tyres {canary}",
        "modes": ["land"],
        "concealment_method": "tyres",
        "drugs": ["fentanyl"],
    }


async def test_each_agency_receives_exactly_what_the_markings_allow_and_every_decision_is_audited(
    system: System, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:8]
    cbp = Agency(producer, "us-cbp")
    sent: dict[str, tuple[str, str, str, bool]] = {}  # reference → (event type, tlp, releasable, orcon)
    canaries: dict[str, str] = {}
    for (tlp, releasable, orcon), (event_type, build) in itertools.product(
        profiles(), [(RECORDED, seizure), (PUBLISHED, route_report)]
    ):
        reference = f"ACL-{run}-{len(sent)}"
        canary = f"CANARY{uuid.uuid4().hex}"
        intake_type = (
            "org.alliance.interdiction.seizure.reported.v1"
            if event_type == RECORDED
            else "org.alliance.interdiction.route_report.submitted.v1"
        )
        headers = {"ce_recipients": ",".join(NAMED)} if tlp in ("AMBER+STRICT", "RED") else {}
        await cbp.send(
            system.topic("alliance.interdiction.intake"),
            build(reference, canary),
            event_type=intake_type,
            tlp=tlp,
            releasable_to=COUNTRIES[releasable],
            orcon="true" if orcon else "false",
            extra=headers,
        )
        sent[reference] = (event_type, tlp, releasable, orcon)
        canaries[reference] = canary

    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_outboxes_empty(system, ["interdiction"])

    facts = {
        r.json()["report_reference"]: r
        for r in await read_all([system.topic("alliance.interdiction.events")])
        if r.type in (RECORDED, PUBLISHED) and r.json().get("report_reference") in sent
    }
    assert set(facts) == set(sent)
    by_id = {r.headers["ce_id"]: reference for reference, r in facts.items()}

    audit = [r.json() for r in await read_all([system.topic("alliance.audit")]) if r.json().get("fact_id") in by_id]
    assert sorted(a["fact_id"] for a in audit) == sorted(by_id)  # exactly one audit record per fact
    audited = {a["fact_id"]: a for a in audit}

    agencies = [a.id for a in REGISTRY.agencies]
    for agency in agencies:
        delivered = await read_all([system.topic(f"alliance.deliveries.{agency}")], login=kafka_login(agency))
        mine = [r for r in delivered if r.headers.get("ce_id") in by_id]
        got = sorted(by_id[r.headers["ce_id"]] for r in mine)
        want = sorted(
            ref for ref, (t, tlp, rel, orcon) in sent.items() if expected(agency, t, tlp, rel, orcon, "us-cbp")
        )
        assert got == want, agency  # no extra, none missing, none twice
        for r in mine:  # each delivery has its audit record, allowing exactly this agency under a rule
            decision = {d["recipient"]: d for d in audited[r.headers["ce_id"]]["decisions"]}[agency]
            assert decision["allowed"]
            assert decision["rule"] == "released"
        # Canary: nothing of a fact this agency may not receive appears in its deliveries, in any form.
        raw = b"".join(r.value for r in delivered) + b"".join(str(r.headers).encode() for r in delivered)
        for reference, canary in canaries.items():
            if reference not in want:
                assert canary.encode() not in raw, (agency, reference)
    for record in audited.values():
        # Every registered agency is decided on (agencies registered by other tests of this run too).
        assert {d["recipient"] for d in record["decisions"]} >= set(agencies)
        assert record["registry_version"] >= 1
        assert all(d["rule"] for d in record["decisions"])

    # The operators' answers: "who saw record X" and "what did agency Y receive" (the per-agency export).
    reference, fact = next((ref, r) for ref, r in facts.items() if sent[ref][1] == "GREEN")
    saw = operator_cli(system, "audit", "who-saw", str(fact.key), "--format", "json")
    allowed = {
        row["recipient"] for row in saw if row["fact_id"] == fact.headers["ce_id"] and row["decision"] == "allowed"
    }
    assert allowed == {a for a in agencies if expected(a, *sent[reference], "us-cbp")}
    exported = operator_cli(system, "audit", "received", "mx-semar", "--format", "json")
    semar = sorted(by_id[row["fact_id"]] for row in exported if row["fact_id"] in by_id)
    assert semar == sorted(
        ref for ref, (t, tlp, rel, orcon) in sent.items() if expected("mx-semar", t, tlp, rel, orcon, "us-cbp")
    )


async def expect_denied(action: Any) -> None:
    with pytest.raises((TopicAuthorizationFailedError, KafkaError)):
        await asyncio.wait_for(action(), 30)


async def test_strangers_and_agencies_are_kept_to_their_own_topics(system: System) -> None:
    anonymous = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):  # no SASL: the broker does not talk to it at all
        await asyncio.wait_for(anonymous.start(), 30)
    await anonymous.stop()

    wrong = {**kafka_login("us-cbp"), "sasl_plain_password": "not-the-password"}
    impostor = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000, **wrong)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(impostor.start(), 30)
    await impostor.stop()

    cbp = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000, **kafka_login("us-cbp"))
    await cbp.start()
    try:
        for topic in (
            "alliance.interdiction.intake.mx-semar",  # another agency's intake
            "alliance.interdiction.events",  # a forged fact on a domain's events topic
            "alliance.registry",  # the registry
            "alliance.deliveries.mx-semar",
        ):
            await expect_denied(lambda t=topic: cbp.send_and_wait(system.topic(t), b"{}"))
    finally:
        await cbp.stop()

    # A service may not forge another domain's facts either.
    firearms = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000, **kafka_login("svc-firearms"))
    await firearms.start()
    try:
        await expect_denied(lambda: firearms.send_and_wait(system.topic("alliance.interdiction.events"), b"{}"))
    finally:
        await firearms.stop()

    for topic in (
        "alliance.deliveries.mx-semar",
        "alliance.interdiction.events",
        "alliance.interdiction.deadletter",
        "alliance.audit",
        "alliance.replies.mx-semar",
    ):
        reader = AIOKafkaConsumer(
            system.topic(topic), bootstrap_servers=BOOTSTRAP, group_id=None, **kafka_login("us-cbp")
        )

        async def read(r: AIOKafkaConsumer = reader) -> None:
            await r.start()  # refused here or at the first fetch
            await r.getmany(timeout_ms=5000, max_records=1)

        try:
            await expect_denied(read)
        finally:
            await reader.stop()


async def test_a_spoofed_source_is_refused_and_the_sender_told(system: System, producer: Producers) -> None:
    cbp = Agency(producer, "us-cbp")
    cbp.source = "urn:agency:mx-semar:spoof"  # claims to be the Mexican navy, from CBP's own topic
    reference = f"SPOOF-{uuid.uuid4().hex[:6]}"
    spoofed = await cbp.send(
        system.topic("alliance.interdiction.intake"),
        seizure(reference, "x"),
        event_type="org.alliance.interdiction.seizure.reported.v1",
    )

    def rejected(records: list[Record]) -> list[dict[str, Any]]:
        return [r.json() for r in records if r.headers.get("ce_subject") == spoofed]

    replies = await read_until([system.topic("alliance.replies.us-cbp")], lambda rs: bool(rejected(rs)))
    [rejection] = rejected(replies)
    assert "is not agency us-cbp's" in rejection["reason"]
    letters = await read_all([system.topic("alliance.interdiction.deadletter")])
    assert [r.headers["ce_id"] for r in letters if r.headers.get("ce_id") == spoofed] == [spoofed]
    events = await read_all([system.topic("alliance.interdiction.events")])
    assert not [r for r in events if r.type == RECORDED and r.json()["report_reference"] == reference]


def test_a_service_with_a_wrong_password_stops_at_once_and_says_why(system: System) -> None:
    env = {
        **os.environ,
        "ALLIANCE_NAMESPACE": system.namespace,
        "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "ALLIANCE_KAFKA_USERNAME": "svc-firearms",
        "ALLIANCE_KAFKA_PASSWORD": "wrong",
        "ALLIANCE_HTTP_PORT": "0",
    }
    log = LOGS / f"test-{system.namespace}-wrong-password.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(VENV_BIN / "alliance-firearms")], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
    assert code != 0
    assert "Kafka refused principal 'svc-firearms'" in log.read_text()
    assert security.password(STACK_HOME, "svc-firearms") not in log.read_text()  # the password never printed
