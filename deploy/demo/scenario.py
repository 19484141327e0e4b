"""Demo scenario: agencies on both sides of the border report seizures; print what Alliance derives.

Run by ``make demo`` once the stack and the services are up. Publishes the way an agency integration
does (CloudEvents in Kafka binary mode with markings), waits for the derived events, prints them and
exits 0, leaving everything running (``make down`` stops it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alliance.envelope import CloudEvent
from alliance.markings import TLP, Markings
from alliance.settings import FIREARMS_EVENTS, INTERDICTION_EVENTS, INTERDICTION_INTAKE, reply_topic_for

BOOTSTRAP = f"127.0.0.1:{os.environ.get('ALLIANCE_KAFKA_PORT', '9092')}"
RUN = uuid.uuid4().hex[:6].upper()


def reports() -> list[tuple[str, Markings, dict[str, Any]]]:
    cbp = Markings(tlp=TLP.AMBER, releasable_to=("US", "MX"), originators=("us-cbp",))
    fgr = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("MX", "US"), originators=("mx-fgr",), originator_control=True)
    return [
        (
            "urn:agency:us-cbp:laredo",
            cbp,
            {
                "report_reference": f"LRD-2026-{RUN}-001",
                "seizure": {
                    "mode": "land",
                    "seized_at": "2026-11-20T14:30:00-06:00",
                    "place": {
                        "description": "World Trade Bridge, southbound lane 4",
                        "country": "US",
                        "subdivision": "TX",
                        "port_of_entry": "Laredo",
                    },
                    "conveyance": {"kind": "tractor-trailer", "identifier": "TX 4KD-221", "registration_country": "US"},
                    "concealment": "false floor in trailer",
                    "route": {"origin": "US", "destination": "MX"},
                    "firearms": [
                        {
                            "serial_number": f"LW{RUN}01",
                            "maker": "Colt",
                            "model": "AR-15",
                            "caliber": "5.56x45mm",
                            "firearm_type": "rifle",
                        },
                        {
                            "serial_number": f"LW{RUN}02",
                            "maker": "Barrett",
                            "model": "M82A1",
                            "caliber": ".50 BMG",
                            "firearm_type": "rifle",
                        },
                        {
                            "serial_obliterated": True,
                            "maker": "Glock",
                            "model": "17",
                            "caliber": "9mm",
                            "firearm_type": "pistol",
                        },
                    ],
                    "currency": [{"amount": 48500, "currency": "USD"}],
                },
            },
        ),
        (
            "urn:agency:mx-fgr:tamaulipas",
            fgr,
            {
                "report_reference": f"FGR/TAMPS/{RUN}/0042",
                "seizure": {
                    "mode": "land",
                    "seized_at": "2026-11-21T09:10:00-06:00",
                    "place": {
                        "description": "Carretera Federal 85, km 12",
                        "country": "MX",
                        "subdivision": "Tamaulipas",
                        "municipality": "Nuevo Laredo",
                    },
                    "drugs": [
                        {"drug": "fentanyl", "quantity": 12, "unit": "lb"},
                        {"drug": "methamphetamine", "quantity": 35, "unit": "kg"},
                    ],
                    "firearms": [
                        {
                            "serial_number": f"KR{RUN}77",
                            "maker": "Century Arms",
                            "model": "VSKA",
                            "caliber": "7.62x39mm",
                            "firearm_type": "rifle",
                            "importer": "Century International Arms",
                        }
                    ],
                    "detained_persons": [
                        {
                            "given_names": "José Luis",
                            "surnames": ["Hernández", "Garza"],
                            "date_of_birth": "1988-03-14",
                            "nationality": "MX",
                        }
                    ],
                },
            },
        ),
    ]


async def main() -> int:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True)
    await producer.start()
    references = set()
    try:
        for source, markings, data in reports():
            event = CloudEvent(
                id=str(uuid.uuid4()),
                source=source,
                type="org.alliance.interdiction.seizure.reported.v1",
                time=datetime.now(UTC),
                markings=markings,
                data=data,
                traceparent=f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
            )
            value, headers = event.to_kafka()
            await producer.send_and_wait(
                INTERDICTION_INTAKE, value, key=data["report_reference"].encode(), headers=headers
            )
            references.add(data["report_reference"])
        # One report with a mistake, to show the rejection an agency gets back.
        bad = CloudEvent(
            id=f"bad-{RUN}",
            source="urn:agency:us-cbp:laredo",
            type="org.alliance.interdiction.seizure.reported.v1",
            time=datetime.now(UTC),
            markings=reports()[0][1],
            data={"report_reference": f"LRD-2026-{RUN}-002", "seizure": {}},
        )
        value, headers = bad.to_kafka()
        await producer.send_and_wait(INTERDICTION_INTAKE, value, key=b"bad", headers=headers)
    finally:
        await producer.stop()

    print(f"\nAlliance demo — run {RUN}\n")
    seizures: dict[str, dict[str, Any]] = {}
    firearms_events: list[tuple[dict[str, str], dict[str, Any]]] = []

    def derived() -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(h, b) for h, b in firearms_events if b.get("seizure_id") in seizures]

    rejections: list[dict[str, Any]] = []
    consumer = AIOKafkaConsumer(
        INTERDICTION_EVENTS,
        FIREARMS_EVENTS,
        reply_topic_for("urn:agency:us-cbp:laredo"),
        bootstrap_servers=BOOTSTRAP,
        group_id=None,
        auto_offset_reset="earliest",
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while len(seizures) < 2 or len(derived()) < 4 or not rejections:
                for _, messages in (await consumer.getmany(timeout_ms=500)).items():
                    for m in messages:
                        h = {k: v.decode() for k, v in m.headers or []}
                        body = json.loads(m.value or b"{}")
                        if (
                            h.get("ce_type", "").endswith("seizure.recorded.v1")
                            and body["report_reference"] in references
                        ):
                            seizures[body["seizure_id"]] = {**body, "_h": h}
                        elif m.topic == FIREARMS_EVENTS:
                            firearms_events.append((h, body))
                        elif (
                            h.get("ce_type") == "org.alliance.event.rejected.v1"
                            and body["rejected_event_id"] == f"bad-{RUN}"
                        ):
                            rejections.append(body)
    except TimeoutError:
        print("the services did not derive everything within 60 s: see .local/logs/", file=sys.stderr)
        return 1
    finally:
        await consumer.stop()

    def marks(h: dict[str, str]) -> str:
        orcon = " ORCON" if h.get("ce_orcon") == "true" else ""
        return f"TLP:{h['ce_tlp']} rel {h['ce_releasableto']} from {h['ce_originator']}{orcon}"

    print("Interdiction — seizures recorded")
    for s in seizures.values():
        guns = len(s.get("firearms", []))
        print(f"  {s['seizure_id']}  {s['report_reference']}  {s['place']['description']} ({s['place']['country']})")
        print(f"      {s['total_drugs_kg']:.3f} kg of drugs, {guns} firearm(s)   [{marks(s['_h'])}]")
        print(f"      trace {s['_h'].get('traceparent', '-').split('-')[1]}")
    print("\nFirearms — requests opened from those seizures")
    for h, body in derived():
        kind = "trace request" if "trace_request_id" in body else "restoration"
        rid = body.get("trace_request_id") or body.get("restoration_request_id")
        serial = body.get("serial_number", "serial obliterated")
        print(f"  {rid}  {kind:13} {body['status']:10} {body['maker']} {body.get('model', '')} ({serial})")
        print(f"      [{marks(h)}]  trace {h.get('traceparent', '-').split('-')[1]}")
    print("\nRejected and sent back to the agency's reply stream")
    for r in rejections:
        print(f"  {r['rejected_event_id']}: {r['reason']}")
    print(
        "\nHealth: http://127.0.0.1:8101/health  http://127.0.0.1:8102/health   "
        "AsyncAPI: /asyncapi.json on each   Logs: .local/logs/   Stop: make down\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
