"""A service's /metrics on the real broker: labels only from a fixed vocabulary, scrapes that open no
Kafka connection and send nothing to the store, and an HTTP port on loopback unless a deployment says
otherwise.

The connections a service opens to Kafka are counted from inside its process by a test instrument
(``tests/tools/count_connections``, on PYTHONPATH), which logs every connection the event loop opens
to the broker's port.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import (
    BOOTSTRAP,
    ROOT,
    Agency,
    OtlpReceiver,
    Producers,
    ServiceProcess,
    System,
    read_until,
    wait_drained,
    wait_outboxes_empty,
)
from interdiction.app import SPEC as INTERDICTION
from money_laundering.domain import DEADLINE_KINDS
from payloads.money_laundering import ANA_PARTY, financial_report

pytestmark = pytest.mark.e2e

COUNTER = ROOT / "tests" / "tools" / "count_connections"
BREACHED = "org.alliance.deadline.breached.v1"
REPORTED = "org.alliance.interdiction.seizure.reported.v1"


@pytest.fixture(scope="module")
def counted(stack: None, otlp: OtlpReceiver) -> Iterator[tuple[System, dict[str, Path]]]:
    """Interdiction and money laundering in a namespace of their own, each counting its Kafka connections."""
    system = System(namespace=f"m{uuid.uuid4().hex[:10]}", otlp=otlp)
    folder = Path(tempfile.mkdtemp())
    logs = {name: folder / f"{name}.connections" for name in ("interdiction", "money_laundering")}
    try:
        for name, log in logs.items():
            system.start(
                name,
                {
                    "PYTHONPATH": str(COUNTER),
                    "ALLIANCE_TEST_CONNECTIONS_LOG": str(log),
                    "ALLIANCE_TEST_CONNECTIONS_PORT": BOOTSTRAP.rpartition(":")[2],
                    "ALLIANCE_DEADLINE_SCAN_SECONDS": "0.5",
                },
            )
        yield system, logs
    finally:
        system.stop_all()


def metrics_text(service: ServiceProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=30) as response:
        return str(response.read().decode())


def label_values(text: str, sample: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and label in s.labels:
                found[s.labels[label]] = found.get(s.labels[label], 0) + s.value
    return found


def cash_report(reference: str) -> dict[str, Any]:
    """A suspicious report naming a large cash transaction two months old: its CTR deadline has passed."""
    long_ago = date.today() - timedelta(days=60)
    cash = {"date": long_ago.isoformat(), "amount": 15000, "currency": "USD", "mode": "cash", "from_party": ANA_PARTY}
    return financial_report(reference=reference, report_date=date.today().isoformat(), transactions=[cash])


async def test_labels_come_only_from_the_service_s_vocabulary(
    counted: tuple[System, dict[str, Path]], producer: Producers
) -> None:
    system, _ = counted
    run = uuid.uuid4().hex[:8]
    made_up = f"org.alliance.interdiction.made_up_{run}.v1"
    cbp = Agency(producer, "us-cbp")
    intake = system.topic("alliance.interdiction.intake")
    for n in range(3):  # a sender inventing types: each would have been a series of its own
        await cbp.send(intake, {"x": n}, event_type=made_up.replace("made_up", f"made_up{n}"))
    ml_intake = system.topic("alliance.money_laundering.intake")
    uif = Agency(producer, "mx-uif")
    await uif.send(ml_intake, {"x": 1}, event_type=f"org.alliance.money_laundering.made_up_{run}.v1", tlp="RED")
    await uif.send(
        ml_intake,
        cash_report(f"CTR-{run}"),
        event_type="org.alliance.money_laundering.report.submitted.v1",
        tlp="AMBER",
    )
    # The currency report deadline is breached at once; its kind names the date and the amount.
    escalations = await read_until(
        [system.topic("alliance.money_laundering.events")],
        lambda rs: any(r.type == BREACHED and r.json()["kind"].startswith("currency_report_filing:") for r in rs),
    )
    kind = next(r.json()["kind"] for r in escalations if r.type == BREACHED)
    assert "15000" in kind
    await wait_drained(system.group("interdiction", "intake"), [intake])
    await wait_drained(system.group("money_laundering", "intake"), [ml_intake])

    for name in ("interdiction", "money_laundering"):
        text = metrics_text(system.services[name])
        assert run not in text  # nothing a sender chose
        handled = {route.event.EVENT_TYPE for route in importlib.import_module(f"{name}.app").SPEC.routes}
        refusals = label_values(text, "alliance_refusals_total", "event_type")
        assert refusals.get("other", 0) >= 1
        assert set(refusals) <= {*handled, "other", "unreadable"}
    ml = metrics_text(system.services["money_laundering"])
    kinds = label_values(ml, "alliance_deadline_escalations_total", "kind")
    assert kinds.get("currency_report_filing", 0) >= 1
    assert set(kinds) <= {*DEADLINE_KINDS, "other"}
    assert not [k for k in kinds if ":" in k]  # no date, no amount


async def test_scrapes_open_no_kafka_connection(counted: tuple[System, dict[str, Path]]) -> None:
    system, logs = counted
    service = system.services["interdiction"]
    # Lag is measured in the background; wait for a measurement (its age is then reported).
    async with asyncio.timeout(30):
        while "alliance_consumer_lag_age_seconds" not in metrics_text(service):
            await asyncio.sleep(0.25)  # watching the service's own report
    opened = logs["interdiction"].read_text().splitlines()
    scrapes = 20
    started = datetime.now(UTC)
    for _ in range(scrapes):
        text = metrics_text(service)
        assert "alliance_consumer_lag{" in text
    during = logs["interdiction"].read_text().splitlines()[len(opened) :]
    took = (datetime.now(UTC) - started).total_seconds()
    print(f"{scrapes} scrapes in {took:.1f} s opened {len(during)} Kafka connections ({len(opened)} before)")
    assert during == []


def outward_address() -> str | None:
    """This machine's address on its outward interface (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def test_health_and_metrics_listen_on_loopback_by_default(counted: tuple[System, dict[str, Path]]) -> None:
    system, _ = counted
    service = system.services["interdiction"]  # started without ALLIANCE_HTTP_HOST
    assert service.health()["status"] == "ok"
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, service.port), timeout=5).close()


# What a scrape used to send: a count of each collection (FerretDB v1 reads every document for it) and
# a read of the oldest outbox entry. Any command on these is reading data.
RECORDS = [r.collection for r in INTERDICTION.repositories]
READS_DATA = {"count", "aggregate", "collStats", "dbStats", "distinct"}


def reading(by_target: dict[str, int]) -> dict[str, int]:
    """The store commands of ``by_target`` that read records, the outbox, or count anything."""
    collections = {*RECORDS, *(f"{r}.journal" for r in RECORDS), *(f"{r}.cards" for r in RECORDS), "_outbox"}
    return {
        target: n
        for target, n in by_target.items()
        if target.split(" ")[0] in READS_DATA or target.partition(" ")[2] in collections
    }


def gauge(text: str, sample: str, collection: str) -> float:
    return label_values(text, sample, "collection").get(collection, 0.0)


async def test_scrapes_send_the_store_nothing_and_records_rise_by_exactly_those_stored(
    stack: None, otlp: OtlpReceiver, producer: Producers
) -> None:
    system = System(namespace=f"m{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        # The sweep for left-overs reads the outbox in the background: not during this test's scrapes.
        service = system.start("interdiction", {"ALLIANCE_OUTBOX_SWEEP_SECONDS": "3600"})
        run = uuid.uuid4().hex[:6].upper()
        cbp = Agency(producer, "us-cbp")
        intake = system.topic("alliance.interdiction.intake")
        seizure = {
            "mode": "land",
            "seized_at": "2026-11-20T10:00:00-06:00",
            "place": {"description": "Laredo", "country": "US"},
            "drugs": [{"drug": "cocaine", "quantity": 1, "unit": "kg"}],
        }
        await cbp.send(intake, {"report_reference": f"MH-{run}-0", "seizure": seizure}, event_type=REPORTED)
        await wait_drained(system.group("interdiction", "intake"), [intake])
        await wait_outboxes_empty(system, ["interdiction"])

        before = service.health()["store_operations_by_target"]
        first = metrics_text(service)
        scrapes = 30
        for _ in range(scrapes - 1):
            metrics_text(service)
        during = {
            t: n - before.get(t, 0)
            for t, n in service.health()["store_operations_by_target"].items()
            if n != before.get(t, 0)
        }
        print(f"{scrapes} scrapes; store commands meanwhile (background work included): {during}")
        assert reading(during) == {}

        # Five new seizures, and two reports of seizures already stored (a redelivery, a resend).
        for n in range(1, 6):
            await cbp.send(intake, {"report_reference": f"MH-{run}-{n}", "seizure": seizure}, event_type=REPORTED)
        for n in (0, 3):
            await cbp.send(intake, {"report_reference": f"MH-{run}-{n}", "seizure": seizure}, event_type=REPORTED)
        await wait_drained(system.group("interdiction", "intake"), [intake])
        await wait_outboxes_empty(system, ["interdiction"])
        after = metrics_text(service)
        assert gauge(after, "alliance_records", "seizures") == gauge(first, "alliance_records", "seizures") + 5
        stored = "alliance_records_stored_total"
        assert (gauge(first, stored, "seizures"), gauge(after, stored, "seizures")) == (1, 6)
        assert label_values(after, "alliance_records", "collection").keys() == set(RECORDS)
        assert label_values(after, "alliance_outbox_lag_seconds", "service") == {"interdiction": 0.0}
    finally:
        system.stop_all()
