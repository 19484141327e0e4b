"""Flow 4: a seizure with detained persons → matched to a fugitive wanted by the other country →
fugitive located → provisional-arrest request with its treaty deadline."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from harness import Agency, Producers, Record, System, read_all, read_until, traceparent, wait_drained
from payloads.extradition import fugitive_registered
from payloads.interdiction import LAREDO_SOUTHBOUND, METH, seizure_reported

pytestmark = pytest.mark.e2e
X = "org.alliance.extradition."
TLP_ORDER = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"]


def of(suffix: str, **fields: Any) -> Any:
    def select(rs: list[Record]) -> list[Record]:
        return [r for r in rs if r.type == X + suffix and all(r.json().get(k) == v for k, v in fields.items())]

    return select


def seizure(reference: str, detained: list[dict[str, Any]]) -> dict[str, Any]:
    return seizure_reported(reference, place=LAREDO_SOUTHBOUND, drugs=[METH], detained_persons=detained)


async def test_flow_4_detained_person_wanted_in_mexico_triggers_provisional_arrest(
    system: System,
    agency: Agency,
    producer: Producers,
) -> None:
    run = uuid.uuid4().hex[:6]
    fgr = Agency(producer, "mx-fgr")
    surname = f"Garza{run}"
    await fgr.send(
        system.topic("alliance.extradition.intake"),
        fugitive_registered(
            f"FGR-{run}",
            {
                "given_names": "José Luis",
                "surnames": ["Hernández", surname],
                "date_of_birth": "1988-03-14",
                "nationality": "MX",
                "aliases": [f"Pepe {surname}"],
            },
        ),
        event_type=X + "fugitive.registered.v1",
        key=f"FGR-{run}",
    )
    await wait_drained(system.group("extradition", "intake"), [system.topic("alliance.extradition.intake")])

    trace_id, parent = traceparent()
    detained = [
        {"given_names": "JOSE LUIS", "surnames": [f"HERNANDEZ {surname.upper()}"], "date_of_birth": "1988-03-14"},
        {"given_names": "Juana", "surnames": ["Hernández", surname], "date_of_birth": "1990-01-01"},
    ]
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        seizure(f"LRD-{run}", detained),
        event_type="org.alliance.interdiction.seizure.reported.v1",
        tlp="AMBER+STRICT",
        extra={"ce_recipients": "mx-fgr"},  # CBP shares it with FGR: else FGR may not see (nor review) the match
        trace=parent,
    )

    events = system.topic("alliance.extradition.events")
    located = of("fugitive.located.v1", fugitive_reference=f"FGR-{run}")

    def arrests(rs: list[Record]) -> list[Record]:
        fugitives = {r.json()["fugitive_id"] for r in located(rs)}
        return [r for r in of("provisional_arrest.requested.v1")(rs) if r.json()["fugitive_id"] in fugitives]

    await read_until([events], lambda rs: bool(arrests(rs)))
    # Read everything once extradition has consumed the seizure: a second match or arrest would show.
    for service, topic in (
        ("interdiction", "alliance.interdiction.intake"),
        ("extradition", "alliance.interdiction.events"),
    ):
        group = system.group(service, "intake" if topic.endswith("intake") else "seizures")
        await wait_drained(group, [system.topic(topic)])
    records = await read_all([events])
    [found] = located(records)  # Juana, born 1990, is not the fugitive
    assert (found.json()["wanted_by"], found.json()["located_in"]) == ("MX", "US")
    assert found.json()["reasons"]
    [arrest] = arrests(records)
    request_id = arrest.json()["extradition_request_id"]
    assert arrest.json()["formal_request_due_at"].startswith("2027-01-19")  # 60 days after the detention
    assert (arrest.json()["requesting_country"], arrest.json()["requested_country"]) == ("MX", "US")
    for record in (found, arrest):
        assert record.headers["traceparent"].split("-")[1] == trace_id
        assert TLP_ORDER.index(record.headers["ce_tlp"]) >= TLP_ORDER.index("AMBER+STRICT")
        assert {"mx-fgr", "us-cbp"} <= set(record.headers["ce_originator"].split(","))

    # The analyst rejects the match: the provisional arrest is withdrawn and the person is not raised again.
    await fgr.send(
        system.topic("alliance.extradition.intake"),
        {"match_id": found.json()["match_id"], "decision": "rejected", "analyst": "analista.fgr.17"},
        event_type=X + "person_match.reviewed.v1",
        tlp="RED",
        releasable_to="MX",
    )
    await read_until(
        [events],
        lambda rs: bool(of("request.status_changed.v1", extradition_request_id=request_id, status="withdrawn")(rs)),
    )
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        seizure(f"LRD-{run}-2", detained[:1]),
        event_type="org.alliance.interdiction.seizure.reported.v1",
    )
    for service, topic in (
        ("interdiction", "alliance.interdiction.intake"),
        ("extradition", "alliance.interdiction.events"),
    ):
        group = system.group(service, "intake" if topic.endswith("intake") else "seizures")
        await wait_drained(group, [system.topic(topic)])
    records = await read_all([events])
    assert len(located(records)) == 1
    assert arrests(records) == [arrest]
    # The RED, Mexico-only review reaches everything it changed: no weaker copy of the analyst's decision.
    decided = of("person_match.decided.v1", match_id=found.json()["match_id"])(records)
    withdrawn = of("request.status_changed.v1", extradition_request_id=request_id, status="withdrawn")(records)
    assert len(decided) == 1
    assert len(withdrawn) == 1
    for record in (*decided, *withdrawn):
        assert record.headers["ce_tlp"] == "RED"
        assert record.headers["ce_releasableto"] == "MX"
