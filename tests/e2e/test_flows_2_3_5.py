"""Flows 2, 3 (second half) and 5, end to end across the five services on the real stack."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from harness import (
    Agency,
    Producers,
    Record,
    System,
    read_all,
    read_until,
    recorded_seizure_id,
    traceparent,
    wait_drained,
)
from payloads.chemicals import pen_submitted
from payloads.extradition import fugitive_registered
from payloads.firearms import gun
from payloads.interdiction import LAREDO_SOUTHBOUND, seizure_reported
from payloads.money_laundering import currency_declaration

pytestmark = pytest.mark.e2e
ML = "org.alliance.money_laundering."
TLP_ORDER = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


def of(prefix: str, suffix: str, **fields: Any) -> Any:
    def select(rs: list[Record]) -> list[Record]:
        return [r for r in rs if r.type == prefix + suffix and all(r.json().get(k) == v for k, v in fields.items())]

    return select


def at_least(record: Record, tlp: str) -> bool:
    return TLP_ORDER.index(record.headers["ce_tlp"]) >= TLP_ORDER.index(tlp)


async def test_flow_2_undeclared_currency_to_forfeiture_and_sharing_proposal(
    system: System,
    agency: Agency,
    producer: Producers,
) -> None:
    run = uuid.uuid4().hex[:6]
    intake = system.topic("alliance.money_laundering.intake")
    declared = {"given_names": "Rosa", "surnames": ["Ibarra", f"Meza{run}"], "date_of_birth": "1979-09-09"}
    carrier = {"given_names": "Luis", "surnames": ["Soto", f"Caro{run}"], "date_of_birth": "1982-04-01"}
    await agency.send(
        intake,
        currency_declaration(30000, reference=f"CMIR-{run}", traveller=declared),
        event_type=ML + "currency_declaration.filed.v1",
    )
    await wait_drained(system.group("money_laundering", "intake"), [intake])

    trace_id, parent = traceparent()
    seizures = system.topic("alliance.interdiction.intake")
    for reference, person in ((f"LRD-D-{run}", declared), (f"LRD-U-{run}", carrier)):
        await agency.send(
            seizures,
            seizure_reported(
                reference,
                place=LAREDO_SOUTHBOUND,
                currency=[{"amount": 30000 if person is declared else 48500, "currency": "USD"}],
                detained_persons=[person],
            ),
            event_type="org.alliance.interdiction.seizure.reported.v1",
            tlp="AMBER",
            trace=parent if person is carrier else None,
        )
    declared_seizure = await recorded_seizure_id(system, f"LRD-D-{run}")
    undeclared_seizure = await recorded_seizure_id(system, f"LRD-U-{run}")

    events = system.topic("alliance.money_laundering.events")
    seized = of(ML, "asset.seized.v1", seizure_id=undeclared_seizure)
    await read_until(
        [events],
        lambda rs: (
            bool(seized(rs))
            and bool(of(ML, "asset.seized.v1", seizure_id=declared_seizure)(rs))
            and any(
                r.json()["kind"] == "undeclared_currency" and r.json()["evidence"]["seizure_id"] == undeclared_seizure
                for r in of(ML, "alert.raised.v1")(rs)
            )
        ),
    )
    # Read everything once both seizures are consumed: an alert on the declared one would show.
    await wait_drained(system.group("interdiction", "intake"), [seizures])
    await wait_drained(system.group("money_laundering", "seizures"), [system.topic("alliance.interdiction.events")])
    records = await read_all([events])
    undeclared = [
        r
        for r in of(ML, "alert.raised.v1", kind="undeclared_currency")(records)
        if r.json()["evidence"]["seizure_id"] in {declared_seizure, undeclared_seizure}
    ]
    assert [r.json()["evidence"]["seizure_id"] for r in undeclared] == [undeclared_seizure]  # the declared one is fine
    [asset] = seized(records)
    assert undeclared[0].headers["traceparent"].split("-")[1] == trace_id

    doj = Agency(producer, "us-doj-afmls")
    asset_id = asset.json()["asset_id"]
    await doj.send(
        intake,
        {
            "asset_id": asset_id,
            "legal_basis": "18 U.S.C. 981(a)(1)(C)",
            "forfeited_amount": 48500,
            "ordered_on": "2027-03-01",
        },
        event_type=ML + "asset.forfeited.v1",
        trace=asset.headers["traceparent"],
    )
    sharing = of(ML, "asset.sharing_proposed.v1", asset_id=asset_id)
    await read_until([events], lambda rs: bool(sharing(rs)))
    await wait_drained(system.group("money_laundering", "intake"), [intake])
    [proposal] = sharing(await read_all([events]))
    assert (proposal.json()["from_country"], proposal.json()["to_country"]) == ("US", "MX")
    assert proposal.json()["share_amount"] == 24250
    assert proposal.headers["traceparent"].split("-")[1] == trace_id
    assert at_least(proposal, "AMBER")
    assert {"us-cbp", "us-doj-afmls"} <= set(proposal.headers["ce_originator"].split(","))


async def test_flow_3_diversion_alert_flags_the_companies_in_money_laundering(
    system: System,
    producer: Producers,
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    dea, semar, uif = Agency(producer, "us-dea"), Agency(producer, "mx-semar"), Agency(producer, "mx-uif")
    exporter = {"name": f"Gulf Coast Solvents {run}, Inc.", "country": "US"}
    importer = {"name": f"Química del Norte {run}, S.A. de C.V.", "country": "MX"}
    pen = f"US-PEN-{run}"
    await dea.send(
        system.topic("alliance.chemicals.intake"),
        pen_submitted(
            pen_reference=pen, exporter=exporter, importer=importer, substance="P2P", shipment_date="2025-06-20"
        ),
        event_type="org.alliance.chemicals.pre_export_notification.submitted.v1",
        tlp="GREEN",
    )
    await wait_drained(system.group("chemicals", "intake"), [system.topic("alliance.chemicals.intake")])
    await semar.send(
        system.topic("alliance.interdiction.intake"),
        seizure_reported(
            f"SEMAR-{run}",
            mode="sea",
            seized_at="2025-07-02T10:00:00-06:00",
            place={"description": "Manzanillo", "country": "MX"},
            chemicals=[{"substance": "P-2-P", "quantity": 800, "unit": "kg"}],
        ),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        tlp="AMBER+STRICT",
        orcon="true",
    )

    events = system.topic("alliance.money_laundering.events")
    flagged = [of(ML, "company.flagged.v1", name=c["name"]) for c in (exporter, importer)]
    await read_until([events], lambda rs: all(f(rs) for f in flagged))
    # Read everything once the seizure and the alerts it raised are consumed: a second flag would show.
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("chemicals", "seizures"), [system.topic("alliance.interdiction.events")])
    await wait_drained(system.group("money_laundering", "diversion"), [system.topic("alliance.chemicals.events")])
    records = await read_all([events])
    for select in flagged:
        [flag] = select(records)
        assert at_least(flag, "AMBER+STRICT")
        assert flag.headers["ce_orcon"] == "true"

    # A later bank report naming the importer (written differently) raises an alert.
    await uif.send(
        system.topic("alliance.money_laundering.intake"),
        {
            "report_reference": f"UIF-{run}",
            "report_code": "STR",
            "reporting_entity": "Banco del Bajío",
            "reporting_country": "MX",
            "report_date": "2026-12-10",
            "indicators": ["wire to precursor importer"],
            "subjects": [{"kind": "company", "company_name": f"QUIMICA DEL NORTE {run} SA DE CV", "country": "MX"}],
            "transactions": [{"date": "2026-12-08", "amount": 250000, "currency": "USD", "mode": "wire"}],
        },
        event_type=ML + "report.submitted.v1",
    )
    reported = of(ML, "alert.raised.v1", kind="flagged_company_reported")
    await read_until([events], lambda rs: any(run in r.json()["summary"] for r in reported(rs)))
    await wait_drained(system.group("money_laundering", "intake"), [system.topic("alliance.money_laundering.intake")])
    [alert] = [r for r in reported(await read_all([events])) if run in r.json()["summary"]]
    assert at_least(alert, "AMBER+STRICT")


async def test_flow_5_trace_purchaser_linked_to_fugitive_and_investigation_subject(
    system: System,
    agency: Agency,
    producer: Producers,
) -> None:
    run = uuid.uuid4().hex[:6]
    buyer = {"given_names": "Héctor Manuel", "surnames": ["Beltrán", f"Leyva{run}"], "date_of_birth": "1965-02-15"}
    fgr, uif, ntc = Agency(producer, "mx-fgr"), Agency(producer, "mx-uif"), Agency(producer, "us-atf-ntc")
    await fgr.send(
        system.topic("alliance.extradition.intake"),
        fugitive_registered(f"FGR-{run}", {**buyer, "nationality": "MX"}, charges=["acopio de armas"], priority=False),
        event_type="org.alliance.extradition.fugitive.registered.v1",
    )
    await uif.send(
        system.topic("alliance.money_laundering.intake"),
        {
            "investigation_reference": f"UIF-INV-{run}",
            "agency": "UIF",
            "coordinated": True,
            "subjects": [{"kind": "person", "person": buyer}],
        },
        event_type=ML + "investigation.opened.v1",
    )
    for service in ("extradition", "money_laundering"):
        await wait_drained(system.group(service, "intake"), [system.topic(f"alliance.{service}.intake")])

    trace_id, parent = traceparent()
    reference = f"ELP-{run}"
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        seizure_reported(reference, seized_at="2026-11-22T09:00:00-07:00", firearms=[gun(f"FN{run}", 1)]),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        trace=parent,
    )
    seizure_id = await recorded_seizure_id(system, reference)
    opened = of("org.alliance.firearms.", "trace_request.submitted.v1", seizure_id=seizure_id)
    await read_until([system.topic("alliance.firearms.events")], lambda rs: bool(opened(rs)))
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")])
    [trace] = opened(await read_all([system.topic("alliance.firearms.events")]))
    trace_request_id = trace.json()["trace_request_id"]
    await ntc.send(
        system.topic("alliance.firearms.intake"),
        {
            "trace_request_id": trace_request_id,
            "outcome": "completed",
            "sale_date": "2026-08-01",
            "dealer": {"name": "Desert Guns LLC", "state": "TX"},
            "purchaser": {
                "given_names": "HECTOR",
                "surnames": [f"BELTRAN LEYVA{run.upper()}"],
                "date_of_birth": "1965-02-15",
            },
        },
        event_type="org.alliance.firearms.trace_result.reported.v1",
        tlp="AMBER+STRICT",
        trace=trace.headers["traceparent"],
    )

    ml_link = of(ML, "subject.linked.v1", trace_request_id=trace_request_id)
    x_link = of("org.alliance.extradition.", "fugitive.linked_to_trace.v1", trace_request_id=trace_request_id)
    records = await read_until(
        [system.topic("alliance.money_laundering.events"), system.topic("alliance.extradition.events")],
        lambda rs: bool(ml_link(rs)) and bool(x_link(rs)),
    )
    for link in (ml_link(records)[0], x_link(records)[0]):
        assert link.headers["traceparent"].split("-")[1] == trace_id
        assert at_least(link, "AMBER+STRICT")
        assert "us-atf-ntc" in link.headers["ce_originator"]
        assert link.json()["reasons"]
