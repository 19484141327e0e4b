"""Reactions spanning two records complete exactly once when the second write fails.

``ALLIANCE_INJECT_FAULTS`` makes a chosen commit fail once, between the write that stores the cause and
the write of the reaction; the consumer retries the handler as after a redelivery. Each reaction must
still follow, exactly once: it follows from stored state, not from "this attempt created the record".

The services run in a namespace of their own, with fault counters per process: the money-laundering
reactions are sent in a fixed order (the 1st, 3rd and 5th alert commits fail), each outcome awaited
before the next input. Each test also checks in the service's log that its fault did fire.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness import (
    Agency,
    OtlpReceiver,
    Producers,
    Record,
    ServiceProcess,
    System,
    read_all,
    read_until,
    recorded_seizure_id,
    wait_drained,
    wait_outboxes_empty,
)
from payloads.extradition import fugitive_registered
from payloads.firearms import export_licence_issued
from payloads.interdiction import LAREDO_SOUTHBOUND, METH, seizure_reported

pytestmark = pytest.mark.e2e

SEIZURE_REPORTED = "org.alliance.interdiction.seizure.reported.v1"
SEIZURE_RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
X = "org.alliance.extradition."
ML = "org.alliance.money_laundering."
FA = "org.alliance.firearms."

FAULTS = {
    "interdiction": "",
    "extradition": "extradition_requests:1",
    "money_laundering": "alerts:1,alerts:3,alerts:5",
    "firearms": "trace_requests:2",  # commit 1 is the trace request, commit 2 its licensed-export flag
}


@pytest.fixture(scope="module")
def durable(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    system = System(namespace=f"d{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        for name, faults in FAULTS.items():
            env = {"ALLIANCE_DEADLINE_SCAN_SECONDS": "0.5"}
            if faults:
                env["ALLIANCE_INJECT_FAULTS"] = faults
            system.start(name, env)
        yield system
    finally:
        system.stop_all()


# -- helpers -----------------------------------------------------------------------------------------


def of(event_type: str, **fields: Any) -> Any:
    def select(rs: list[Record]) -> list[Record]:
        return [r for r in rs if r.type == event_type and all(r.json().get(k) == v for k, v in fields.items())]

    return select


def log_mark(service: ServiceProcess) -> int:
    return service.log.stat().st_size if service.log.exists() else 0


def injected_faults(service: ServiceProcess, since: int) -> list[dict[str, Any]]:
    """The service's log entries, written after ``since``, that report an injected fault."""
    with service.log.open("rb") as log:
        log.seek(since)
        text = log.read().decode(errors="replace")
    entries = []
    for line in text.splitlines():
        folded = line.lower()
        if "injectedfault" not in folded and "injected fault" not in folded:
            continue
        try:
            entries.append(dict(json.loads(line)))
        except ValueError:
            entries.append({"line": line})
    return entries


async def settle(system: System, service: str, consumed: list[tuple[str, str, str]]) -> None:
    """Wait until every input is consumed and every committed event published.

    ``consumed`` lists (service, consumer purpose, topic) in causal order; the upstream outboxes are
    emptied before a downstream group is awaited, so nothing is still on its way when the topic is read.
    """
    for owner, purpose, topic in consumed:
        await wait_drained(system.group(owner, purpose), [system.topic(topic)], 90)
        await wait_outboxes_empty(system, [owner], 90)
    await wait_outboxes_empty(system, [service], 90)


async def assert_no_dead_letters(system: System, service: str) -> None:
    letters = await read_all([system.topic(f"alliance.{service}.deadletter")])
    assert [(r.type, r.headers.get("ce_deadletterreason"), r.value[:300]) for r in letters] == []


def assert_fault_fired(service: ServiceProcess, since: int, cause_type: str) -> None:
    faults = injected_faults(service, since)
    assert faults, f"no injected fault in {service.log} while handling {cause_type}: the test proves nothing"
    assert {f.get("event_type") for f in faults} == {cause_type}, faults


def currency_seizure(reference: str, person: dict[str, Any], amount: float) -> dict[str, Any]:
    cash = [{"amount": amount, "currency": "USD"}]
    return seizure_reported(reference, place=LAREDO_SOUTHBOUND, currency=cash, detained_persons=[person])


# -- extradition: person match → provisional arrest --------------------------------------------------


async def test_person_match_opens_one_provisional_arrest_despite_a_failed_commit(
    durable: System, agency: Agency, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    extradition = durable.services["extradition"]
    mark = log_mark(extradition)
    surname = f"Garza{run}"
    await Agency(producer, "mx-fgr").send(
        durable.topic("alliance.extradition.intake"),
        fugitive_registered(
            f"FGR-{run}",
            {"given_names": "José Luis", "surnames": ["Hernández", surname], "date_of_birth": "1988-03-14"},
        ),
        event_type=X + "fugitive.registered.v1",
        key=f"FGR-{run}",
    )
    events = durable.topic("alliance.extradition.events")
    recorded = of(X + "fugitive.recorded.v1", fugitive_reference=f"FGR-{run}")
    [fugitive] = recorded(await read_until([events], lambda rs: bool(recorded(rs))))
    fugitive_id = fugitive.json()["fugitive_id"]

    reference = f"LRD-X-{run}"
    await agency.send(
        durable.topic("alliance.interdiction.intake"),
        seizure_reported(
            reference,
            drugs=[METH],
            detained_persons=[
                {
                    "given_names": "JOSE LUIS",
                    "surnames": [f"HERNANDEZ {surname.upper()}"],
                    "date_of_birth": "1988-03-14",
                }
            ],
        ),
        event_type=SEIZURE_REPORTED,
        key=reference,
    )
    seizure_id = await recorded_seizure_id(durable, reference)
    arrests = of(X + "provisional_arrest.requested.v1", fugitive_id=fugitive_id)
    await read_until([events], lambda rs: bool(arrests(rs)), timeout=90)

    await settle(
        durable,
        "extradition",
        [
            ("extradition", "intake", "alliance.extradition.intake"),
            ("interdiction", "intake", "alliance.interdiction.intake"),
            ("extradition", "seizures", "alliance.interdiction.events"),
        ],
    )
    records = await read_all([events])
    # Every record counts: the reaction and its cause are each published once.
    assert [r.json()["fugitive_id"] for r in arrests(records)] == [fugitive_id]
    located = of(X + "fugitive.located.v1", fugitive_id=fugitive_id)(records)
    assert [r.json()["seizure_id"] for r in located] == [seizure_id]
    assert_fault_fired(extradition, mark, SEIZURE_RECORDED)
    await assert_no_dead_letters(durable, "extradition")


# -- money laundering: asset → undeclared currency; structuring; unreconciled figures ---------------
# The alert commits of this process fail at 1, 3 and 5: these three tests run in this order, each
# raising one alert (two commit attempts), so each one's first attempt is the one that fails.


async def test_seized_currency_raises_one_undeclared_currency_alert_despite_a_failed_commit(
    durable: System, agency: Agency
) -> None:
    run = uuid.uuid4().hex[:6]
    money_laundering = durable.services["money_laundering"]
    mark = log_mark(money_laundering)
    carrier = {"given_names": "Luis", "surnames": ["Soto", f"Caro{run}"], "date_of_birth": "1982-04-01"}
    reference = f"LRD-U-{run}"
    await agency.send(
        durable.topic("alliance.interdiction.intake"),
        currency_seizure(reference, carrier, 48500),
        event_type=SEIZURE_REPORTED,
        key=reference,
    )
    seizure_id = await recorded_seizure_id(durable, reference)
    events = durable.topic("alliance.money_laundering.events")

    def undeclared(rs: list[Record]) -> list[Record]:
        return [
            r
            for r in of(ML + "alert.raised.v1", kind="undeclared_currency")(rs)
            if r.json()["evidence"]["seizure_id"] == seizure_id
        ]

    await read_until([events], lambda rs: bool(undeclared(rs)), timeout=90)

    await settle(
        durable,
        "money_laundering",
        [
            ("interdiction", "intake", "alliance.interdiction.intake"),
            ("money_laundering", "seizures", "alliance.interdiction.events"),
        ],
    )
    records = await read_all([events])
    [alert] = undeclared(records)
    [asset] = of(ML + "asset.seized.v1", seizure_id=seizure_id)(records)
    assert alert.json()["evidence"]["asset_id"] == asset.json()["asset_id"]
    # The alert is the policy on the closed declaration window (the clock's own fact), so the fault hits there.
    assert_fault_fired(money_laundering, mark, "org.alliance.deadline.breached.v1")
    await assert_no_dead_letters(durable, "money_laundering")


async def test_cash_just_under_the_threshold_raises_one_structuring_alert_despite_a_failed_commit(
    durable: System, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    money_laundering = durable.services["money_laundering"]
    mark = log_mark(money_laundering)
    uif = Agency(producer, "mx-uif")
    intake = durable.topic("alliance.money_laundering.intake")
    depositor = {"given_names": "Marta", "surnames": ["Ruiz", f"Lara{run}"], "date_of_birth": "1975-07-07"}
    # Three cash deposits of 80-100% of 10,000 within a week (one report each, in order, one partition).
    for i, (day, amount) in enumerate((("2026-11-02", 9500), ("2026-11-04", 9800), ("2026-11-06", 9900))):
        await uif.send(
            intake,
            {
                "report_reference": f"UIF-S-{run}-{i}",
                "report_code": "STR",
                "reporting_entity": "Banco del Bajío",
                "reporting_country": "MX",
                "report_date": "2026-11-07",
                "indicators": ["cash deposit just under the reporting threshold"],
                "subjects": [{"kind": "person", "person": depositor}],
                "transactions": [{"date": day, "amount": amount, "currency": "USD", "mode": "cash"}],
            },
            event_type=ML + "report.submitted.v1",
            key=f"structuring-{run}",
        )
    events = durable.topic("alliance.money_laundering.events")

    def structuring(rs: list[Record]) -> list[Record]:
        return [
            r
            for r in of(ML + "alert.raised.v1", kind="structuring")(rs)
            if any(f"Lara{run}" in (s.get("person") or {}).get("surnames", []) for s in r.json()["subjects"])
        ]

    await read_until([events], lambda rs: bool(structuring(rs)), timeout=90)

    await settle(durable, "money_laundering", [("money_laundering", "intake", "alliance.money_laundering.intake")])
    records = await read_all([events])
    [alert] = structuring(records)
    recorded = [r.json()["report_reference"] for r in of(ML + "report.recorded.v1")(records)]
    assert all(recorded.count(f"UIF-S-{run}-{i}") == 1 for i in range(3)), recorded
    assert sorted(t["amount"] for t in alert.json()["evidence"]["transactions"]) == [9500, 9800, 9900]
    assert_fault_fired(money_laundering, mark, ML + "report.submitted.v1")
    await assert_no_dead_letters(durable, "money_laundering")


async def test_unreconciled_figures_raise_one_alert_despite_a_failed_commit(
    durable: System, producer: Producers
) -> None:
    money_laundering = durable.services["money_laundering"]
    mark = log_mark(money_laundering)
    intake = durable.topic("alliance.money_laundering.intake")
    figures = {"from_country": "US", "to_country": "MX", "year": 2026, "month": 10}
    # The United States counts 1,000,000; Mexico 850,000: 15% apart, beyond the 10% tolerance.
    for country, agency_name, total in (("US", "us-fincen", 1_000_000), ("MX", "mx-uif", 850_000)):
        await Agency(producer, agency_name).send(
            intake,
            {**figures, "reporting_country": country, "total_usd": total},
            event_type=ML + "cross_border_figures.reported.v1",
            key="figures-US-MX-2026-10",
        )
    events = durable.topic("alliance.money_laundering.events")
    unreconciled = of(ML + "alert.raised.v1", kind="unreconciled_figures")
    await read_until([events], lambda rs: bool(unreconciled(rs)), timeout=90)

    await settle(durable, "money_laundering", [("money_laundering", "intake", "alliance.money_laundering.intake")])
    records = await read_all([events])
    [alert] = unreconciled(records)  # a namespace of its own: the only figures for this month
    assert alert.json()["evidence"]["reported_usd"] == {"US": 1_000_000, "MX": 850_000}
    assert "2026-10" in alert.json()["summary"]
    assert_fault_fired(money_laundering, mark, ML + "cross_border_figures.reported.v1")
    await assert_no_dead_letters(durable, "money_laundering")


# -- firearms: trace request → licensed-export indicator ----------------------------------------------


async def test_trace_of_a_licensed_export_raises_one_indicator_despite_a_failed_commit(
    durable: System, agency: Agency, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    firearms = durable.services["firearms"]
    mark = log_mark(firearms)
    serial = f"BER{run}"
    intake = durable.topic("alliance.firearms.intake")
    await Agency(producer, "us-ddtc").send(
        intake,
        export_licence_issued(f"DSP-{run}", {"maker": "Beretta", "model": "92FS", "serial_number": serial}),
        event_type=FA + "export_licence.issued.v1",
        key=f"DSP-{run}",
        tlp="GREEN",
    )
    events = durable.topic("alliance.firearms.events")
    licence = of(FA + "export_licence.recorded.v1", licence_number=f"DSP-{run}")
    await read_until([events], lambda rs: bool(licence(rs)))

    reference = f"ELP-F-{run}"
    await agency.send(
        durable.topic("alliance.interdiction.intake"),
        seizure_reported(
            reference,
            seized_at="2026-11-22T09:00:00-07:00",
            firearms=[{"serial_number": serial, "maker": "Beretta", "model": "92FS", "firearm_type": "pistol"}],
        ),
        event_type=SEIZURE_REPORTED,
        key=reference,
    )
    seizure_id = await recorded_seizure_id(durable, reference)
    submitted = of(FA + "trace_request.submitted.v1", seizure_id=seizure_id)

    def indicators(rs: list[Record]) -> list[Record]:
        traces = {r.json()["trace_request_id"] for r in submitted(rs)}
        return [
            r
            for r in of(FA + "trafficking_indicator.raised.v1", indicator="licensed_export_recovered")(rs)
            if set(r.json()["trace_request_ids"]) & traces
        ]

    await read_until([events], lambda rs: bool(indicators(rs)), timeout=90)

    await settle(
        durable,
        "firearms",
        [
            ("firearms", "intake", "alliance.firearms.intake"),
            ("interdiction", "intake", "alliance.interdiction.intake"),
            ("firearms", "seizures", "alliance.interdiction.events"),
        ],
    )
    records = await read_all([events])
    [indicator] = indicators(records)
    [trace] = submitted(records)
    assert indicator.json()["trace_request_ids"] == [trace.json()["trace_request_id"]]
    assert indicator.json()["evidence"]["licence_number"] == f"DSP-{run}"
    assert indicator.json()["evidence"]["recovered_while_licence_valid"] is True
    assert_fault_fired(firearms, mark, SEIZURE_RECORDED)
    await assert_no_dead_letters(durable, "firearms")
