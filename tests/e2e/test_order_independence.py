"""Arrival order never decides an outcome: each cross-record match runs from both sides, with the same
evidence and one outcome whichever input arrives first. Every case sends its two inputs in both
orders (each order with its own references), then reads everything after the consumers drained."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient

from harness import Agency, Producers, Record, System, read_all, read_until, wait_drained
from payloads.chemicals import pen_submitted
from payloads.extradition import fugitive_registered
from payloads.firearms import gun
from payloads.interdiction import seizure_reported
from payloads.money_laundering import currency_declaration

pytestmark = pytest.mark.e2e
X = "org.alliance.extradition."
CHEM = "org.alliance.chemicals."
REPORTED = "org.alliance.interdiction.seizure.reported.v1"


def of(event_type: str, **fields: Any) -> Callable[[list[Record]], list[Record]]:
    def select(rs: list[Record]) -> list[Record]:
        return [r for r in rs if r.type == event_type and all(r.json().get(k) == v for k, v in fields.items())]

    return select


async def drained(system: System, *groups: tuple[str, str, str]) -> None:
    for service, purpose, topic in groups:
        await wait_drained(system.group(service, purpose), [system.topic(topic)])


# -- flow 4: a fugitive and a detained person ---------------------------------------------------------


async def flow4(system: System, producer: Producers, fugitive_first: bool) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    # Letters only: the matcher ignores digits, and two runs' people must not look alike.
    surname = "Villa" + "".join(random.choices(string.ascii_lowercase, k=10))
    fgr, cbp = Agency(producer, "mx-fgr"), Agency(producer, "us-cbp")

    async def register() -> None:
        await fgr.send(
            system.topic("alliance.extradition.intake"),
            fugitive_registered(
                f"FGR-{run}",
                {"given_names": "Ramón", "surnames": ["Treviño", surname], "date_of_birth": "1979-07-02"},
                priority=False,
            ),
            event_type=X + "fugitive.registered.v1",
            key=f"FGR-{run}",
        )
        await drained(system, ("extradition", "intake", "alliance.extradition.intake"))

    async def seize() -> None:
        await cbp.send(
            system.topic("alliance.interdiction.intake"),
            seizure_reported(
                f"ORD-{run}",
                detained_persons=[
                    {"given_names": "RAMON", "surnames": [f"TREVINO {surname.upper()}"], "date_of_birth": "1979-07-02"}
                ],
            ),
            event_type=REPORTED,
        )
        await drained(
            system,
            ("interdiction", "intake", "alliance.interdiction.intake"),
            ("extradition", "seizures", "alliance.interdiction.events"),
        )

    first, second = (register, seize) if fugitive_first else (seize, register)
    await first()
    await second()
    events = system.topic("alliance.extradition.events")
    arrests = of(X + "provisional_arrest.requested.v1")
    located = of(X + "fugitive.located.v1", fugitive_reference=f"FGR-{run}")
    await read_until([events], lambda rs: bool(located(rs)))
    await drained(system, ("extradition", "seizures", "alliance.interdiction.events"))
    records = await read_all([events])
    assert len(located(records)) == 1, [
        (r.headers["ce_id"], r.json()["match_id"], r.json()["seizure_id"]) for r in located(records)
    ]
    [found] = located(records)
    mine = [r for r in arrests(records) if r.json()["fugitive_id"] == found.json()["fugitive_id"]]
    assert len(mine) == 1
    outcome = {k: found.json()[k] for k in ("located_in", "located_on", "score", "reasons", "wanted_by")}
    outcome["markings"] = (found.headers["ce_tlp"], found.headers["ce_releasableto"])
    outcome["formal_request_due_at"] = mine[0].json()["formal_request_due_at"]
    return outcome


async def test_a_fugitive_registered_after_the_seizure_is_located_just_the_same(
    system: System, producer: Producers
) -> None:
    assert await flow4(system, producer, fugitive_first=True) == await flow4(system, producer, fugitive_first=False)


# -- flow 3: a pre-export notification and an incident; a notification and a legitimate need ----------


def notification(pen: str, run: str, year: int) -> dict[str, Any]:
    """900 kg of ephedrine between this run's own companies, shipped in June of ``year``."""
    return pen_submitted(
        pen_reference=pen,
        exporter={"name": f"Bayou Chemicals {run} LLC", "country": "US"},
        importer={"name": f"Reactivos del Pacífico {run}, S.A. de C.V.", "country": "MX"},
        substance="ephedrine",
        quantity=900,
        unit="kg",
        shipment_date=f"{year}-06-10",
        route={"port_of_exit": "Houston", "port_of_entry": "Lázaro Cárdenas"},
    )


async def flow3(system: System, producer: Producers, notification_first: bool, year: int) -> dict[str, Any]:
    """Each order in a year of its own (and of other tests'): incidents near one notification must not meet
    another's, since matching now runs from both sides."""
    run = uuid.uuid4().hex[:6].upper()
    pen = f"US-PEN-{run}"
    intake = system.topic("alliance.chemicals.intake")
    dea, cofepris = Agency(producer, "us-dea"), Agency(producer, "mx-cofepris")

    async def notify() -> None:
        await dea.send(intake, notification(pen, run, year), event_type=CHEM + "pre_export_notification.submitted.v1")
        await drained(system, ("chemicals", "intake", "alliance.chemicals.intake"))

    async def incident_and_need() -> None:
        await cofepris.send(
            intake,
            {
                "incident_reference": f"INC-{run}",
                "kind": "stopped_shipment",
                "substance": "Ephedrine",
                "quantity": 400,
                "unit": "kg",
                "place": {"description": "Lázaro Cárdenas port", "country": "MX"},
                "occurred_on": f"{year}-06-15",
                "companies": [f"REACTIVOS DEL PACIFICO {run} SA DE CV"],
            },
            event_type=CHEM + "incident.reported.v1",
        )
        importer = {"name": f"Reactivos del Pacifico {run} SA de CV", "country": "MX"}
        await cofepris.send(
            intake,
            {"importer": importer, "substance": "ephedrine", "year": year, "annual_quantity": 100, "unit": "kg"},
            event_type=CHEM + "legitimate_need.declared.v1",
        )
        await drained(system, ("chemicals", "intake", "alliance.chemicals.intake"))

    steps: list[Callable[[], Awaitable[None]]] = [notify, incident_and_need]
    for step in steps if notification_first else reversed(steps):
        await step()
    events = system.topic("alliance.chemicals.events")
    alerts = of(CHEM + "diversion_alert.raised.v1", pen_reference=pen)
    await read_until([events], lambda rs: len(alerts(rs)) >= 2)
    await drained(system, ("chemicals", "intake", "alliance.chemicals.intake"))
    records = await read_all([events])
    raised = alerts(records)
    assert len(raised) == 2, [
        (r.key[:11], r.json()["reason"][:30], r.json().get("incident_id")) for r in raised
    ]  # the incident; the excessive order

    def same_shape(value: object) -> str:  # the run's own references and year, made comparable
        return str(value).replace(run, "RUN").replace(str(year), "YYYY")

    return {
        r.json()["reason"].split(" ")[0]: sorted(
            same_shape(v) for k, v in r.json()["evidence"].items() if k != "incident_id"
        )
        for r in raised
    }


async def test_an_incident_and_a_need_before_their_notification_raise_the_same_alerts(
    system: System, producer: Producers
) -> None:
    before = await flow3(system, producer, notification_first=True, year=2023)
    after = await flow3(system, producer, notification_first=False, year=2021)
    assert set(before) == {"incident", "order"}
    assert before == after


# -- flow 5: an investigation subject and a traced gun's purchaser ------------------------------------


async def flow5(system: System, producer: Producers, investigation_first: bool) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    surname = "Zamb" + "".join(random.choices(string.ascii_lowercase, k=10))
    buyer = {"given_names": "Ismael", "surnames": ["Quintero", surname], "date_of_birth": "1971-09-03"}
    uif, cbp, ntc = Agency(producer, "mx-uif"), Agency(producer, "us-cbp"), Agency(producer, "us-atf-ntc")

    async def investigate() -> None:
        await uif.send(
            system.topic("alliance.money_laundering.intake"),
            {
                "investigation_reference": f"UIF-{run}",
                "agency": "UIF",
                "subjects": [{"kind": "person", "person": buyer}],
            },
            event_type="org.alliance.money_laundering.investigation.opened.v1",
        )
        await Agency(producer, "mx-fgr").send(
            system.topic("alliance.extradition.intake"),
            fugitive_registered(f"FGR-{run}", buyer, charges=["acopio de armas"], priority=False),
            event_type=X + "fugitive.registered.v1",
        )
        await drained(
            system,
            ("money_laundering", "intake", "alliance.money_laundering.intake"),
            ("extradition", "intake", "alliance.extradition.intake"),
        )

    async def trace() -> None:
        reference = f"NOG-{run}"
        await cbp.send(
            system.topic("alliance.interdiction.intake"),
            seizure_reported(reference, seized_at="2026-11-22T09:00:00-07:00", firearms=[gun(f"SW{run}", 2)]),
            event_type=REPORTED,
        )
        submitted = of("org.alliance.firearms.trace_request.submitted.v1", serial_number=f"SW{run}")
        [request] = submitted(
            await read_until([system.topic("alliance.firearms.events")], lambda rs: bool(submitted(rs)))
        )
        await ntc.send(
            system.topic("alliance.firearms.intake"),
            {
                "trace_request_id": request.json()["trace_request_id"],
                "outcome": "completed",
                "sale_date": "2026-05-01",
                "dealer": {"name": "Border Arms LLC", "state": "AZ"},
                "purchaser": {
                    "given_names": "ISMAEL",
                    "surnames": [f"QUINTERO {surname.upper()}"],
                    "date_of_birth": "1971-09-03",
                },
            },
            event_type="org.alliance.firearms.trace_result.reported.v1",
        )
        await drained(
            system,
            ("firearms", "intake", "alliance.firearms.intake"),
            ("money_laundering", "traces", "alliance.firearms.events"),
        )

    first, second = (investigate, trace) if investigation_first else (trace, investigate)
    await first()
    await second()
    events = system.topic("alliance.money_laundering.events")
    recorded = of("org.alliance.money_laundering.investigation.recorded.v1", investigation_reference=f"UIF-{run}")
    [investigation] = recorded(await read_until([events], lambda rs: bool(recorded(rs))))
    linked = of(
        "org.alliance.money_laundering.subject.linked.v1", investigation_id=investigation.json()["investigation_id"]
    )
    await read_until([events], lambda rs: bool(linked(rs)))
    await drained(system, ("money_laundering", "traces", "alliance.firearms.events"))
    [link] = linked(await read_all([events]))
    wanted = of(X + "fugitive.linked_to_trace.v1", fugitive_reference=f"FGR-{run}")
    x_events = system.topic("alliance.extradition.events")
    await read_until([x_events], lambda rs: bool(wanted(rs)))
    await drained(system, ("extradition", "traces", "alliance.firearms.events"))
    [fugitive_link] = wanted(await read_all([x_events]))
    return {
        "subject": (link.json()["score"], link.json()["reasons"]),
        "fugitive": (fugitive_link.json()["score"], fugitive_link.json()["reasons"]),
    }


async def test_an_investigation_or_a_fugitive_after_the_trace_is_linked_just_the_same(
    system: System, producer: Producers
) -> None:
    before = await flow5(system, producer, investigation_first=True)
    assert before == await flow5(system, producer, investigation_first=False)


# -- flow 2: a currency declaration and the seizure of that money -------------------------------------


async def flow2(
    system: System, producer: Producers, mongo: MongoClient[dict[str, Any]], declaration_first: bool
) -> dict[str, Any]:
    """Seized today, so the declaration window is open while both inputs arrive (it closes in a day)."""
    run = uuid.uuid4().hex[:6]
    today = datetime.now(UTC)
    traveller = {
        "given_names": "Rosa Elena",
        # Both surnames differ between runs: a woman's second surname alone may be her husband's (a
        # married name), so the matcher rightly takes two runs' travellers for one woman otherwise.
        "surnames": [
            "Fuentes" + "".join(random.choices(string.ascii_lowercase, k=8)),
            "Ibar" + "".join(random.choices(string.ascii_lowercase, k=10)),
        ],
        "date_of_birth": "1983-04-12",
    }
    cbp = Agency(producer, "us-cbp")

    async def declare() -> None:
        await cbp.send(
            system.topic("alliance.money_laundering.intake"),
            currency_declaration(reference=f"CMIR-{run}", traveller=traveller, declared_on=today.date().isoformat()),
            event_type="org.alliance.money_laundering.currency_declaration.filed.v1",
        )
        await drained(system, ("money_laundering", "intake", "alliance.money_laundering.intake"))

    async def seize() -> None:
        await cbp.send(
            system.topic("alliance.interdiction.intake"),
            seizure_reported(
                f"LRD-C-{run}",
                seized_at=today.isoformat(),
                currency=[{"amount": 25000, "currency": "USD"}],
                detained_persons=[traveller],
            ),
            event_type=REPORTED,
        )
        await drained(
            system,
            ("interdiction", "intake", "alliance.interdiction.intake"),
            ("money_laundering", "seizures", "alliance.interdiction.events"),
        )

    first, second = (declare, seize) if declaration_first else (seize, declare)
    await first()
    await second()
    await drained(system, ("money_laundering", "intake", "alliance.money_laundering.intake"))
    seized = of("org.alliance.money_laundering.asset.seized.v1", amount=25000)
    records = await read_all([system.topic("alliance.money_laundering.events")])
    [asset_id] = {
        r.json()["asset_id"] for r in seized(records) if r.json()["seizure_id"] in await _seizure_ids(system, run)
    }
    stored = mongo[system.database("money_laundering")].assets.find_one({"_id": asset_id})
    assert stored is not None
    window = next(d for d in stored["deadlines"] if d["kind"] == "declaration_check")
    return {"declarations": [d.replace(run, "RUN") for d in stored["declarations"]], "window": window["state"]}


async def _seizure_ids(system: System, run: str) -> set[str]:
    recorded = of("org.alliance.interdiction.seizure.recorded.v1", report_reference=f"LRD-C-{run}")
    return {r.json()["seizure_id"] for r in recorded(await read_all([system.topic("alliance.interdiction.events")]))}


async def test_a_declaration_reported_after_the_seizure_counts_just_the_same(
    system: System, producer: Producers, mongo: MongoClient[dict[str, Any]]
) -> None:
    before = await flow2(system, producer, mongo, declaration_first=True)
    assert before == {"declarations": ["CMIR-RUN"], "window": "met"}
    assert before == await flow2(system, producer, mongo, declaration_first=False)
