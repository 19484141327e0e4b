"""Demo scenario: agencies on both sides of the border exchange events; print what Alliance derives.

Run by ``make demo`` once the stack and the services are up. Agencies publish CloudEvents in Kafka
binary mode with markings; the script waits for the derived events, prints them and exits 0, leaving
everything running (``make down`` stops it).

Flow 1 — a US CBP seizure with three guns → trace requests and a serial-number restoration → the
tracing center, the laboratory and the export-licensing authority answer → time-to-crime and
trafficking indicators.
Flow 3 — a US pre-export notification of P-2-P to Mexico, the importer's declared legitimate need, and
a Mexican navy seizure of P-2-P at Manzanillo → chemical incident → diversion alerts.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.topics import (
    CHEMICALS_EVENTS,
    CHEMICALS_INTAKE,
    EXTRADITION_EVENTS,
    EXTRADITION_INTAKE,
    FIREARMS_EVENTS,
    FIREARMS_INTAKE,
    INTERDICTION_EVENTS,
    INTERDICTION_INTAKE,
    MONEY_LAUNDERING_EVENTS,
    MONEY_LAUNDERING_INTAKE,
    intake_topic,
    reply_topic_for,
)
from alliance.operator.cli import read_audit
from alliance.runtime.settings import Settings

BOOTSTRAP = f"127.0.0.1:{os.environ.get('ALLIANCE_KAFKA_PORT', '9092')}"
HOME = Path(os.environ.get("ALLIANCE_HOME", Path(__file__).resolve().parents[2] / ".local")).resolve()
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "local"))
import security  # noqa: E402 - the stack's principals: each agency logs in as itself

RUN = uuid.uuid4().hex[:6].upper()
Record = tuple[str, dict[str, str], dict[str, Any]]


def marks(tlp: TLP, originator: str, orcon: bool = False) -> Markings:
    return Markings(tlp=tlp, releasable_to=("MX", "US"), originators=(originator,), originator_control=orcon)


def login(principal: str) -> dict[str, Any]:
    return security.aiokafka_config(principal, security.password(HOME, principal))  # its own secret file


class Demo:
    """Agencies publish as their own principals to their own intake topics; the demo watches as operator."""

    def __init__(self) -> None:
        self.producers: dict[str, AIOKafkaProducer] = {}
        self.started = datetime.now(UTC)
        self.seizure_trace = ""
        self.seizure_id = ""
        self.seen: list[Record] = []
        self.consumer = AIOKafkaConsumer(
            INTERDICTION_EVENTS,
            FIREARMS_EVENTS,
            CHEMICALS_EVENTS,
            MONEY_LAUNDERING_EVENTS,
            EXTRADITION_EVENTS,
            reply_topic_for("us-cbp"),
            bootstrap_servers=BOOTSTRAP,
            group_id=None,
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
            **login(security.OPERATOR),
        )

    async def producer(self, agency: str) -> AIOKafkaProducer:
        if agency not in self.producers:
            self.producers[agency] = AIOKafkaProducer(
                bootstrap_servers=BOOTSTRAP, enable_idempotence=True, **login(agency)
            )
            await self.producers[agency].start()
        return self.producers[agency]

    async def close(self) -> None:
        await self.consumer.stop()
        for producer in self.producers.values():
            await producer.stop()

    async def send(
        self,
        topic: str,
        event_type: str,
        source: str,
        markings: Markings,
        data: dict[str, Any],
        key: str,
        trace: str | None = None,
        event_id: str | None = None,
    ) -> None:
        event = CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=event_type,
            time=datetime.now(UTC),
            markings=markings,
            data=data,
            traceparent=trace or f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        )
        value, headers = event.to_kafka()
        agency = source.split(":")[2]  # urn:agency:<id>[:<system>]
        producer = await self.producer(agency)
        await producer.send_and_wait(intake_topic(topic, agency), value, key=key.encode(), headers=headers)

    async def wait_for(self, what: str, done: Callable[[list[Record]], bool], timeout: float = 60) -> None:
        try:
            async with asyncio.timeout(timeout):
                while not done(self.seen):
                    for _, messages in (await self.consumer.getmany(timeout_ms=500)).items():
                        for m in messages:
                            headers = {k: v.decode() for k, v in m.headers or []}
                            self.seen.append((m.topic, headers, json.loads(m.value or b"{}")))
        except TimeoutError:
            raise SystemExit(f"the services did not produce {what} within {timeout:.0f} s: see .local/logs/") from None

    def of(self, suffix: str, **fields: Any) -> list[Record]:
        """The events seen of a type with these fields, each once: delivery is at least once, and a
        consumer drops a repeat by its id (as an agency's integration must)."""
        found: dict[str, Record] = {}
        for r in self.seen:
            if r[1].get("ce_type", "").endswith(suffix) and all(r[2].get(k) == v for k, v in fields.items()):
                found.setdefault(r[1].get("ce_id", str(len(found))), r)
        return list(found.values())


def label(h: dict[str, str]) -> str:
    orcon = " ORCON" if h.get("ce_orcon") == "true" else ""
    trace = h.get("traceparent", "---").split("-")[1][:12]
    return f"[TLP:{h['ce_tlp']} rel {h['ce_releasableto']} from {h['ce_originator']}{orcon} · trace {trace}…]"


async def setup(demo: Demo) -> None:
    """Records the flows will meet: a fugitive wanted by Mexico and a Mexican financial investigation."""
    await demo.send(
        EXTRADITION_INTAKE,
        "org.alliance.extradition.fugitive.registered.v1",
        "urn:agency:mx-fgr",
        marks(TLP.AMBER, "mx-fgr"),
        key=f"FGR-{RUN}",
        data={
            "fugitive_reference": f"FGR-{RUN}",
            "wanted_by": "MX",
            "priority": True,
            "person": {
                "given_names": "José Luis",
                "surnames": ["Hernández", f"Garza{RUN}"],
                "date_of_birth": "1988-03-14",
                "nationality": "MX",
            },
            "charges": ["delincuencia organizada", "contra la salud"],
        },
    )
    await demo.send(
        MONEY_LAUNDERING_INTAKE,
        "org.alliance.money_laundering.investigation.opened.v1",
        "urn:agency:mx-uif",
        marks(TLP.AMBER, "mx-uif"),
        key=f"UIF-{RUN}",
        data={
            "investigation_reference": f"UIF-{RUN}",
            "agency": "Unidad de Inteligencia Financiera",
            "coordinated": True,
            "subjects": [
                {
                    "kind": "person",
                    "person": {
                        "given_names": "Juan Carlos",
                        "surnames": ["Rivera", f"Soto{RUN}"],
                        "date_of_birth": "1990-05-04",
                    },
                }
            ],
        },
    )
    await demo.wait_for(
        "the registrations",
        lambda _: (
            bool(demo.of("fugitive.recorded.v1", fugitive_reference=f"FGR-{RUN}"))
            and bool(demo.of("investigation.recorded.v1", investigation_reference=f"UIF-{RUN}"))
        ),
    )


async def flow_1(demo: Demo) -> None:
    print("── Flow 1: crime-gun tracing (AP6, AP7) " + "─" * 50)
    reference = f"LRD-2026-{RUN}"
    demo.seizure_trace = uuid.uuid4().hex  # the operators follow this flow in the console and `alliance trace`
    await demo.send(
        INTERDICTION_INTAKE,
        "org.alliance.interdiction.seizure.reported.v1",
        "urn:agency:us-cbp:laredo",
        marks(TLP.AMBER, "us-cbp"),
        key=reference,
        trace=f"00-{demo.seizure_trace}-{uuid.uuid4().hex[:16]}-01",
        data={
            "report_reference": reference,
            "seizure": {
                "mode": "land",
                "seized_at": "2026-11-20T14:30:00-06:00",
                "place": {
                    "description": "World Trade Bridge, southbound lane 4",
                    "country": "US",
                    "subdivision": "TX",
                    "port_of_entry": "Laredo",
                },
                "conveyance": {"kind": "tractor-trailer", "identifier": "TX 4KD-221"},
                "concealment_method": "false_floor",
                "route": {"origin": "US", "destination": "MX"},
                "drugs": [{"drug": "fentanyl", "quantity": 12, "unit": "lb"}],
                "firearms": [
                    {
                        "serial_number": f"LW{RUN}1",
                        "maker": "Colt",
                        "model": "AR-15",
                        "caliber": "5.56x45mm",
                        "firearm_type": "rifle",
                    },
                    {
                        "serial_number": f"LW{RUN}2",
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
                "detained_persons": [
                    {
                        "given_names": "JOSE LUIS",
                        "surnames": [f"HERNANDEZ GARZA{RUN}"],
                        "date_of_birth": "1988-03-14",
                        "nationality": "MX",
                    }
                ],
            },
        },
    )
    await demo.wait_for("the seizure", lambda _: bool(demo.of("seizure.recorded.v1", report_reference=reference)))
    [(_, h, seizure)] = demo.of("seizure.recorded.v1", report_reference=reference)
    print(
        f"  interdiction  {seizure['seizure_id']}  {reference}  {seizure['total_drugs_kg']:.3f} kg, "
        f"{len(seizure['firearms'])} guns  {label(h)}"
    )
    sid = seizure["seizure_id"]
    demo.seizure_id = sid
    await demo.wait_for(
        "the requests",
        lambda _: (
            len(demo.of("submitted.v1", seizure_id=sid)) + len(demo.of("restoration.requested.v1", seizure_id=sid)) >= 3
        ),
    )
    traces = demo.of("trace_request.submitted.v1", seizure_id=sid)
    [(_, rh, restoration)] = demo.of("restoration.requested.v1", seizure_id=sid)
    for _, th, t in traces:
        print(
            f"  firearms      {t['trace_request_id']}  trace request   {t['maker']} {t['serial_number']}  {label(th)}"
        )
    print(
        f"  firearms      {restoration['restoration_request_id']}  restoration     {restoration['maker']} "
        f"(serial obliterated)  {label(rh)}"
    )

    buyer = {"given_names": "Juan Carlos", "surnames": ["Rivera", f"Soto{RUN}"], "date_of_birth": "1990-05-04"}
    dealer = {"name": "Lone Star Guns LLC", "licence_number": "5-74-123-01-2C-45678", "state": "TX"}
    for (_, th, t), sold in zip(traces, ("2026-01-15", "2025-12-01"), strict=True):
        await demo.send(
            FIREARMS_INTAKE,
            "org.alliance.firearms.trace_result.reported.v1",
            "urn:agency:us-atf:ntc",
            marks(TLP.AMBER_STRICT, "us-atf"),
            key=t["trace_request_id"],
            trace=th["traceparent"],
            data={
                "trace_request_id": t["trace_request_id"],
                "outcome": "completed",
                "dealer": dealer,
                "purchaser": buyer,
                "sale_date": sold,
            },
        )
    rid = restoration["restoration_request_id"]
    await demo.send(
        FIREARMS_INTAKE,
        "org.alliance.firearms.restoration_result.reported.v1",
        "urn:agency:us-atf:lab",
        marks(TLP.AMBER, "us-atf"),
        key=rid,
        trace=rh["traceparent"],
        data={"restoration_request_id": rid, "outcome": "restored", "restored_serial_number": f"GLK-{RUN}"},
    )
    await demo.send(
        FIREARMS_INTAKE,
        "org.alliance.firearms.export_licence.issued.v1",
        "urn:agency:us-ddtc",
        marks(TLP.GREEN, "us-ddtc"),
        key=f"DSP-{RUN}",
        trace=rh["traceparent"],
        data={
            "licence_number": f"DSP-{RUN}",
            "exporter": "Lone Star Arms Export LLC",
            "consignee": "Importadora Norteña, S.A. de C.V.",
            "destination_country": "MX",
            "issued_on": "2026-04-01",
            "firearms": [{"maker": "Glock", "model": "17", "serial_number": f"GLK-{RUN}"}],
        },
    )

    ids = {t["trace_request_id"] for _, _, t in traces}

    def indicators(_: list[Record]) -> list[Record]:
        restored = {t["trace_request_id"] for _, _, t in demo.of("submitted.v1", serial_number=f"GLK-{RUN}")}
        return [
            r for r in demo.of("trafficking_indicator.raised.v1") if set(r[2]["trace_request_ids"]) & (ids | restored)
        ]

    await demo.wait_for("the indicators", lambda rs: len(indicators(rs)) >= 4)
    for _, h, done in demo.of("trace.completed.v1"):
        if done["trace_request_id"] in ids:
            print(
                f"  firearms      {done['trace_request_id']}  completed       time-to-crime "
                f"{done['time_to_crime_days']} days  {label(h)}"
            )
    for _, h, t in demo.of("submitted.v1", serial_number=f"GLK-{RUN}"):
        print(
            f"  firearms      {t['trace_request_id']}  trace request   restored serial {t['serial_number']}  {label(h)}"
        )
    for _, h, i in indicators(demo.seen):
        print(f"  indicator     {i['indicator']:27} {i['summary']}  {label(h)}")


async def flows_5_4_2(demo: Demo) -> None:
    """What the CBP seizure of flow 1 also set off in the other services."""
    [(_, _, seizure)] = demo.of("seizure.recorded.v1", report_reference=f"LRD-2026-{RUN}")
    sid = seizure["seizure_id"]
    print("── Flow 5: trace purchaser = subject of a Mexican financial investigation " + "─" * 16)
    await demo.wait_for(
        "the link to the investigation",
        lambda _: bool([r for r in demo.of("subject.linked.v1") if RUN in json.dumps(r[2]["purchaser"])]),
    )
    for _, h, link in demo.of("subject.linked.v1"):
        if RUN in json.dumps(link["purchaser"]):
            print(
                f"  money laund.  {link['investigation_id']}  linked to {link['trace_request_id']} "
                f"(score {link['score']})  {label(h)}"
            )
    print("── Flow 4: detained person = fugitive wanted by Mexico " + "─" * 35)
    # This run's fugitive (an earlier run's namesake on the same stack may be located too).
    mine = {"seizure_id": sid, "fugitive_reference": f"FGR-{RUN}"}
    await demo.wait_for("the provisional arrest", lambda _: bool(demo.of("fugitive.located.v1", **mine)))
    [(_, lh, found)] = demo.of("fugitive.located.v1", **mine)
    print(
        f"  extradition   {found['fugitive_reference']} located in {found['located_in']} (score {found['score']}): "
        f"{'; '.join(found['reasons'][:3])}  {label(lh)}"
    )
    await demo.wait_for(
        "the request", lambda _: bool(demo.of("provisional_arrest.requested.v1", fugitive_id=found["fugitive_id"]))
    )
    for _, ah, a in demo.of("provisional_arrest.requested.v1", fugitive_id=found["fugitive_id"]):
        print(
            f"  extradition   {a['extradition_request_id']}  provisional arrest requested by "
            f"{a['requesting_country']}; formal request due {a['formal_request_due_at'][:10]}  {label(ah)}"
        )
    print("── Flow 2: seized currency → forfeiture → sharing (AP12, AP13) " + "─" * 27)
    await demo.wait_for(
        "the asset",
        lambda _: (
            bool(demo.of("asset.seized.v1", seizure_id=sid))
            and any(
                r[2]["evidence"].get("seizure_id") == sid
                for r in demo.of("alert.raised.v1", kind="undeclared_currency")
            )
        ),
    )
    [(_, sh, asset)] = demo.of("asset.seized.v1", seizure_id=sid)
    print(f"  money laund.  {asset['asset_id']}  {asset['amount']:,.2f} {asset['currency']} seized  {label(sh)}")
    for _, h, alert in demo.of("alert.raised.v1", kind="undeclared_currency"):
        if alert["evidence"].get("seizure_id") == sid:
            print(f"  ALERT         {alert['summary']}  {label(h)}")
    await demo.send(
        MONEY_LAUNDERING_INTAKE,
        "org.alliance.money_laundering.asset.forfeited.v1",
        "urn:agency:us-doj-afmls",
        marks(TLP.AMBER, "us-doj-afmls"),
        key=asset["asset_id"],
        trace=sh["traceparent"],
        data={
            "asset_id": asset["asset_id"],
            "legal_basis": "18 U.S.C. 981(a)(1)(C)",
            "forfeited_amount": asset["amount"],
            "ordered_on": "2027-03-01",
        },
    )
    await demo.wait_for(
        "the sharing proposal", lambda _: bool(demo.of("sharing_proposed.v1", asset_id=asset["asset_id"]))
    )
    [(_, ph, proposal)] = demo.of("sharing_proposed.v1", asset_id=asset["asset_id"])
    print(
        f"  money laund.  sharing proposal {proposal['from_country']} → {proposal['to_country']}: "
        f"{proposal['share_percent']:.0f}% = {proposal['share_amount']:,.2f} {proposal['currency']}  {label(ph)}"
    )


async def flow_3(demo: Demo) -> None:
    print("── Flow 3: precursor chemicals (AP11) " + "─" * 52)
    pen = f"US-PEN-{RUN}"
    importer = {"name": f"Química del Norte {RUN}, S.A. de C.V.", "country": "MX"}
    await demo.send(
        CHEMICALS_INTAKE,
        "org.alliance.chemicals.legitimate_need.declared.v1",
        "urn:agency:mx-cofepris",
        marks(TLP.AMBER, "mx-cofepris"),
        key=importer["name"],
        data={"importer": importer, "substance": "fenilacetona", "year": 2026, "annual_quantity": 300, "unit": "kg"},
    )
    await demo.send(
        CHEMICALS_INTAKE,
        "org.alliance.chemicals.pre_export_notification.submitted.v1",
        "urn:agency:us-dea:diversion",
        marks(TLP.GREEN, "us-dea"),
        key=pen,
        data={
            "pen_reference": pen,
            "exporting_country": "US",
            "importing_country": "MX",
            "exporter": {"name": "Gulf Coast Solvents, Inc.", "country": "US"},
            "importer": importer,
            "substance": "1-phenyl-2-propanone",
            "quantity": 2,
            "unit": "t",
            "shipment_date": "2026-11-20",
            "route": {"port_of_exit": "Houston", "port_of_entry": "Manzanillo"},
        },
    )
    await demo.wait_for("the notification", lambda _: bool(demo.of("registered.v1", pen_reference=pen)))
    [(_, h, n)] = demo.of("registered.v1", pen_reference=pen)
    print(
        f"  chemicals     {n['notification_id']}  notification {pen}: {n['quantity_kg']:.0f} kg "
        f"{n['substance']['name_en']} / {n['substance']['name_es']}, reply due {n['reply_due_at'][:10]}  {label(h)}"
    )
    reference = f"SEMAR-{RUN}"
    await demo.send(
        INTERDICTION_INTAKE,
        "org.alliance.interdiction.seizure.reported.v1",
        "urn:agency:mx-semar",
        marks(TLP.AMBER_STRICT, "mx-semar", orcon=True),
        key=reference,
        data={
            "report_reference": reference,
            "seizure": {
                "mode": "sea",
                "seized_at": "2026-12-02T10:00:00-06:00",
                "place": {"description": "Puerto de Manzanillo, terminal 3", "country": "MX", "subdivision": "Colima"},
                "chemicals": [{"substance": "P-2-P", "quantity": 800, "unit": "kg"}],
            },
        },
    )
    await demo.wait_for(
        "the diversion alerts", lambda _: len(demo.of("diversion_alert.raised.v1", pen_reference=pen)) >= 2
    )
    for _, h, i in demo.of("incident.recorded.v1"):
        if i.get("incident_reference") == reference:
            print(
                f"  chemicals     {i['incident_id']}  incident     {i['quantity_kg']:.0f} kg "
                f"{i['substance']['name_es']} at {i['place']['description']}  {label(h)}"
            )
    for _, h, a in demo.of("diversion_alert.raised.v1", pen_reference=pen):
        print(
            f"  ALERT         {a['reason']}: exporter {a['exporter']['name']}, importer {a['importer']['name']}  "
            f"{label(h)}"
        )


async def flow_3_companies(demo: Demo) -> None:
    """Flow 3, second half: the companies named in the diversion alert are flagged in money laundering."""

    def flagged(_: list[Record]) -> list[Record]:
        return [r for r in demo.of("company.flagged.v1") if RUN in r[2]["name"] or r[2]["country"] == "US"]

    await demo.wait_for("the flagged companies", lambda rs: any(RUN in r[2]["name"] for r in flagged(rs)))
    for _, h, c in flagged(demo.seen):
        if RUN in c["name"]:
            print(f"  money laund.  flagged {c['name']} ({c['country']}): {c['reason']}  {label(h)}")


async def rejection(demo: Demo) -> None:
    print("── Bad input " + "─" * 77)
    await demo.send(
        INTERDICTION_INTAKE,
        "org.alliance.interdiction.seizure.reported.v1",
        "urn:agency:us-cbp:laredo",
        marks(TLP.AMBER, "us-cbp"),
        key="bad",
        event_id=f"bad-{RUN}",
        data={"report_reference": f"LRD-2026-{RUN}-X", "seizure": {}},
    )
    await demo.wait_for("the rejection", lambda _: bool(demo.of("event.rejected.v1", rejected_event_id=f"bad-{RUN}")))
    [(topic, _, r)] = demo.of("event.rejected.v1", rejected_event_id=f"bad-{RUN}")
    print(f"  rejected {r['rejected_event_id']} → {topic}\n    {r['reason']}")


async def disclosure(demo: Demo) -> None:
    """Who received this run's facts, as the audit stream records it (allowed and denied, with the rule)."""
    print("\nDisclosure — facts decided during this run, per agency (from the audit stream, operators only)")

    # The operators' own reader of the audit stream; this run's facts were decided after it started.
    settings = Settings(
        kafka_bootstrap_servers=BOOTSTRAP,
        kafka_username=security.OPERATOR,
        kafka_password_file=security.secret_file(HOME, security.OPERATOR),
    )
    allowed: Counter[str] = Counter()
    denied: Counter[tuple[str, str]] = Counter()
    for record in await read_audit(settings):
        if record.decided_at < demo.started:
            continue
        for d in record.decisions:
            if d.allowed:
                allowed[d.recipient] += 1
            elif d.rule != "not-routed":
                denied[(d.recipient, d.rule)] += 1
    for agency, count in sorted(allowed.items()):
        print(f"  {agency:14} received {count:3} fact(s) on alliance.deliveries.{agency}")
    for (agency, rule), count in sorted(denied.items()):
        print(f"  {agency:14} denied   {count:3} fact(s) by rule {rule}")


async def main() -> int:
    demo = Demo()
    await demo.consumer.start()
    try:
        print(f"\nAlliance demo — run {RUN}\n")
        await setup(demo)
        await flow_1(demo)
        await flows_5_4_2(demo)
        await flow_3(demo)
        await flow_3_companies(demo)
        await rejection(demo)
        await disclosure(demo)
    finally:
        await demo.close()
    # What the operators' tools (and the console's browser test) follow: the demo seizure's flow.
    (HOME / "demo").mkdir(parents=True, exist_ok=True)
    showcase = {"run": RUN, "seizure_id": demo.seizure_id, "seizure_trace_id": demo.seizure_trace}
    (HOME / "demo" / "last-run.json").write_text(json.dumps(showcase, indent=1) + "\n")
    print(
        f"\nThe demo seizure's flow: alliance trace {demo.seizure_trace} · alliance case {demo.seizure_id}"
        f"\n  console: http://127.0.0.1:8100/flow?id={demo.seizure_trace}"
    )
    print(
        "\nHealth: http://127.0.0.1:8101/health (interdiction) 8102 (firearms) 8103 (chemicals) "
        "8104 (money laundering) 8105 (extradition) · "
        "AsyncAPI: /asyncapi.json · Logs: .local/logs/ · Stop: make down\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
