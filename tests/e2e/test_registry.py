"""The agency registry cannot silently go stale (real broker and store, each test in a namespace of its own).

- a change is a compare-and-set: a stale one is refused by the operators' CLI and by every service,
  visibly (CLI answer, ``/health``, ``/metrics``);
- the follower is supervised: when it cannot read the registry, ``/health`` turns degraded, and it
  follows again once it can;
- a deleted registry topic does not bring the baseline back: a revocation stays applied, the service
  says the topic is older, and restoring the exported history heals it;
- an agency whose delivery topic does not exist blocks no one: its deliveries are parked and
  delivered, all of them, once it is provisioned.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import (
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from prometheus_client.parser import text_string_to_metric_families

from alliance.contracts.registry import baseline_registry
from harness import (
    BOOTSTRAP,
    STACK_HOME,
    VENV_BIN,
    Agency,
    OtlpReceiver,
    Producers,
    Record,
    ServiceProcess,
    System,
    kafka_login,
    read_all,
    read_until,
    register_agency,
    security,
    wait_drained,
    write_registry_change,
)
from payloads.interdiction import COCAINE, seizure_reported

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
REJECTED = "org.alliance.event.rejected.v1"
FAST_RESTARTS = {"ALLIANCE_RETRY_MAX_SECONDS": "1"}


@pytest.fixture(scope="module")
def shared(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    """Interdiction in a namespace of its own (the registry is per namespace); each test leaves it healthy."""
    system = System(namespace=f"g{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        system.start("interdiction", FAST_RESTARTS)
        yield system
    finally:
        system.stop_all()


@pytest.fixture
def fresh(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    """A namespace for one test, with no service started yet."""
    system = System(namespace=f"g{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        yield system
    finally:
        system.stop_all()


def kafka_admin() -> AdminClient:
    return AdminClient(security.confluent_config(BOOTSTRAP, "admin", security.password(STACK_HOME, "admin")))


def cli(system: System, *args: str) -> tuple[int, Any]:
    """The operators' CLI as ``operator``: its exit code and JSON answer (refusals included)."""
    env = {**os.environ, "ALLIANCE_NAMESPACE": system.namespace, "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP}
    secret = str(security.secret_file(STACK_HOME, security.OPERATOR))  # the operator's own, nothing else
    command = [str(VENV_BIN / "alliance"), *args, "--password-file", secret, "--format", "json"]
    done = subprocess.run(command, env=env, capture_output=True, check=False, timeout=120)
    return done.returncode, json.loads(done.stdout or b"null")


def entry_file(entry: dict[str, Any]) -> str:
    path = Path(tempfile.mkdtemp()) / "entry.json"
    path.write_text(json.dumps(entry))
    return str(path)


def cbp_entry(**changes: Any) -> dict[str, Any]:
    cbp = baseline_registry().get("us-cbp")
    assert cbp is not None
    return {**cbp.model_dump(mode="json"), **changes}


def scrape(service: ServiceProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def health_until(
    service: ServiceProcess, condition: Callable[[dict[str, Any]], bool], what: str, timeout: float = 60
) -> dict[str, Any]:
    """Watch the service's own report until ``condition`` holds."""
    seen: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                seen = await asyncio.to_thread(service.health)
                if condition(seen):
                    return seen
                await asyncio.sleep(0.25)  # observing the service's report, not waiting for time to pass
    except TimeoutError:
        raise AssertionError(f"{what}: not within {timeout}s; last health {seen}") from None


def seizure(reference: str) -> dict[str, Any]:
    return seizure_reported(reference, drugs=[COCAINE])


def refusals_counted(service: ServiceProcess) -> float:
    return sum(
        v
        for (name, labels), v in scrape(service).items()
        if name == "alliance_registry_changes_total" and dict(labels)["outcome"] == "refused"
    )


async def test_a_stale_registry_change_is_refused_by_the_cli_and_by_every_service_visibly(
    shared: System, producer: Producers
) -> None:
    service = shared.services["interdiction"]
    before = service.health()["registry"]
    counted = refusals_counted(service)
    run = uuid.uuid4().hex[:6]
    entry = {"id": f"test-{run}", "name": "registry test", "country": "US", "kind": "customs", "sends": [REPORTED]}
    done = await register_agency(shared, entry, ["interdiction"])
    version = before["version"] + 1
    assert (done["outcome"], done["registry_version"], done["replaces_version"]) == ("applied", version, version - 1)

    # An operator who read the version before and did not see the change above: refused, nothing written.
    stale_entry = entry_file({**entry, "name": "stale"})
    code, answer = cli(shared, "registry", "register", stale_entry, "--replaces", str(version - 1))
    assert code == 1
    assert answer["outcome"] == "refused"
    assert f"at version {version}, not {version - 1}" in answer["reason"]

    # A change written anyway against that version (a second operator racing the first): every service
    # refuses it, says so, and keeps its version.
    stale = await write_registry_change(shared, {**entry, "name": "stale", "sends": []}, version, version - 1)
    report = await health_until(
        service,
        lambda h: h["registry"]["changes_refused"] == before["changes_refused"] + 1,
        "the refusal reported",
    )
    assert report["status"] == "ok"
    assert (report["registry_version"], report["registry"]["version"]) == (version, version)
    assert refusals_counted(service) == counted + 1
    log = service.log.read_text()
    assert "registry change refused" in log
    assert f"not newer than the registry's version {version}" in log

    # The operators see each change's fate, and the refused one changed nothing: the agency still sends.
    code, rows = cli(shared, "registry", "show")
    assert code == 0
    assert [(r["change_id"], r["outcome"]) for r in rows][-2:] == [(done["change_id"], "applied"), (stale, "refused")]
    sender = Agency(producer, entry["id"])
    reference = f"REG-{run}"
    await sender.send(shared.topic("alliance.interdiction.intake"), seizure(reference), event_type=REPORTED)
    facts = await read_until(
        [shared.topic("alliance.interdiction.events")],
        lambda rs: any(r.type == RECORDED and r.json()["report_reference"] == reference for r in rs),
    )
    assert facts


async def test_the_follower_is_supervised_and_health_says_when_it_is_not_following(shared: System) -> None:
    service = shared.services["interdiction"]
    assert service.health()["registry"]["following"] is True
    # The service loses the right to read the registry (the broker refuses each fetch): its follower fails.
    topic = shared.topic("alliance.registry")
    grant = AclBindingFilter(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        f"User:{security.service_principal('interdiction')}",
        "*",
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = kafka_admin()  # kept: the futures need their client alive
    for future in admin.delete_acls([grant]).values():
        assert future.result(timeout=30)
    down = await health_until(service, lambda h: h["status"] == "degraded", "degraded while not following")
    assert down["registry"]["following"] is False
    assert "follower failed" in down["registry"]["problem"]
    assert down["kafka"]
    assert down["store"]

    shared.provision()  # the grant again (idempotent provisioning)
    up = await health_until(service, lambda h: h["status"] == "ok", "following again after the grant", timeout=90)
    assert up["registry"]["following"] is True
    assert up["registry"]["restarts"] >= 1
    # ... and it does follow: an agency registered now is served.
    entry = {
        "id": f"sup-{uuid.uuid4().hex[:6]}",
        "name": "after",
        "country": "MX",
        "kind": "customs",
        "sends": [REPORTED],
    }
    done = await register_agency(shared, entry, ["interdiction"])
    assert service.health()["registry_version"] == done["registry_version"] == up["registry_version"] + 1


async def test_a_deleted_registry_topic_does_not_undo_a_revocation(fresh: System, producer: Producers) -> None:
    service = fresh.start("interdiction")
    # Revoke: CBP may no longer report seizures.
    revoked = cbp_entry(sends=[s for s in cbp_entry()["sends"] if s != REPORTED])
    code, answer = cli(fresh, "registry", "register", entry_file(revoked))
    assert code == 0, answer
    await health_until(service, lambda h: h["registry_version"] == 2, "the revocation applied")
    code, exported = cli(fresh, "registry", "export")
    assert code == 0
    assert len(exported) == 1

    cbp = Agency(producer, "us-cbp")
    intake = fresh.topic("alliance.interdiction.intake")
    first = await cbp.send(intake, seizure(f"REV-{uuid.uuid4().hex[:6]}"), event_type=REPORTED)

    # The registry topic is lost while the service is down, and comes back empty.
    fresh.stop("interdiction")
    admin = kafka_admin()
    topic = fresh.topic("alliance.registry")
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=30)
    async with asyncio.timeout(60):
        while topic in admin.list_topics(timeout=10).topics:
            await asyncio.sleep(0.2)  # the broker's metadata, observed
    fresh.provision()
    service = fresh.start("interdiction", wait=False)
    kept = await health_until(service, lambda h: h["registry"]["problem"] is not None, "the older topic reported")
    assert kept["status"] == "degraded"
    assert kept["registry_version"] == 2  # not the baseline's 1
    assert "older than the registry applied here" in kept["registry"]["problem"]
    assert "registry topic older than the registry applied" in service.log.read_text()

    # The revocation still holds: CBP's seizure is refused, like the one before the loss.
    second = await cbp.send(intake, seizure(f"REV-{uuid.uuid4().hex[:6]}"), event_type=REPORTED)
    await wait_drained(fresh.group("interdiction", "intake"), [intake])
    replies = await read_all([fresh.topic("alliance.replies.us-cbp")])
    reasons = {r.json()["rejected_event_id"]: r.json()["reason"] for r in replies if r.type == REJECTED}
    assert "may not send" in reasons[first]
    assert "may not send" in reasons[second]
    facts = await read_all([fresh.topic("alliance.interdiction.events")])
    assert not [r for r in facts if r.type == RECORDED]

    # Restoring the exported history heals it, without a restart.
    path = Path(tempfile.mkdtemp()) / "registry.json"
    path.write_text(json.dumps(exported))
    code, answer = cli(fresh, "registry", "restore", str(path))
    assert code == 0, answer
    healed = await health_until(service, lambda h: h["status"] == "ok", "healed by the restore")
    assert healed["registry_version"] == 2
    assert healed["registry"]["problem"] is None


async def test_an_agency_without_a_delivery_topic_blocks_no_one_and_loses_nothing(
    shared: System, producer: Producers
) -> None:
    service = shared.services["interdiction"]
    version = service.health()["registry_version"]
    run = uuid.uuid4().hex[:6]
    late = f"late-{run}"
    entry = {
        "id": late,
        "name": "registered before it was provisioned",
        "country": "US",
        "kind": "intelligence_centre",
        "receives": ["org.alliance.interdiction.*"],
        "clearance": "AMBER",
    }
    # The CLI refuses to register an agency that has no topics yet ...
    code, answer = cli(shared, "registry", "register", entry_file(entry))
    assert code == 1
    assert "provision it first" in answer["reason"]
    # ... but a change written without it (or a delivery topic deleted later) must not block anyone.
    await write_registry_change(shared, entry, version + 1, version)
    await health_until(service, lambda h: h["registry_version"] == version + 1, "the agency registered")

    cbp = Agency(producer, "us-cbp")
    # More seizures than the service handles at once (3 partitions): a delivery that held its partition
    # would hold every later seizure of it (measured before the change: 12 of 20 in 150 s).
    references = [f"PARK-{run}-{n}" for n in range(20)]
    started = time.monotonic()
    for reference in references:
        await cbp.send(shared.topic("alliance.interdiction.intake"), seizure(reference), event_type=REPORTED)

    def delivered(records: list[Record]) -> set[str]:
        return {r.json()["report_reference"] for r in records if r.type == RECORDED}

    # Every other recipient gets every seizure at once (a held delivery waits 40 s for the topic's metadata).
    await read_until(
        [shared.topic("alliance.deliveries.us-epic")],
        lambda rs: set(references) <= delivered(rs),
        timeout=60,  # before: 40 s per held record, three at a time
        login=kafka_login("us-epic"),
    )
    took = time.monotonic() - started
    parked = service.health()
    assert parked["deliveries_waiting_for_topic"] == [late]
    assert parked["deliveries_parked"] >= len(references)
    assert parked["status"] == "ok"

    # Provisioned now: the parked deliveries arrive, all of them, in order, and new ones go straight.
    shared.provision(f"{late}:interdiction")
    records = await read_until(
        [shared.topic(f"alliance.deliveries.{late}")],
        lambda rs: set(references) <= delivered(rs),
        timeout=90,
        login=kafka_login(late),
    )
    assert sorted(delivered(records)) == sorted(references)
    done = await health_until(service, lambda h: not h["deliveries_waiting_for_topic"], "nothing parked any more")
    assert done["deliveries_delivered_late"] >= len(references)
    print(f"{len(references)} seizures delivered to the other agencies in {took:.1f} s while one had no topic")
