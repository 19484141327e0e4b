"""What tracing costs, on the real broker and store: one span per handled event and one per published fact,
deliveries and audit records as events on the fact's span, and a sampling policy that keeps or drops a
flow whole (and keeps refusals and escalations whatever the ratio).

Spans are counted after the services stopped: a service flushes its spans when it stops, so nothing is
still on its way when they are counted.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from harness import (
    SEIZURE_RECORDED,
    Agency,
    OtlpReceiver,
    Producers,
    Record,
    Span,
    System,
    otlp_receiver,
    read_all,
    read_until,
    traceparent,
    wait_drained,
    wait_outboxes_empty,
)

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
SERVICES = ("interdiction", "firearms", "chemicals", "money_laundering", "extradition")
STEP = "alliance.step"
EVENT_ID = "alliance.event.id"
EVENT_TYPE = "alliance.event.type"


def seizure(reference: str, run: str) -> dict[str, Any]:
    """A seizure every domain service reacts to: a gun, cash, a precursor, drugs and a detained person."""
    return {
        "report_reference": reference,
        "seizure": {
            "mode": "land",
            "seized_at": "2026-11-20T14:30:00-06:00",
            "place": {"description": "Laredo, lane 3", "country": "US", "port_of_entry": "Laredo"},
            "drugs": [{"drug": "methamphetamine", "quantity": 5, "unit": "kg"}],
            "firearms": [{"serial_number": f"SPN{run}", "maker": "Colt", "model": "M4", "firearm_type": "rifle"}],
            "currency": [{"amount": 25000, "currency": "USD"}],
            "chemicals": [{"substance": "P-2-P", "quantity": 800, "unit": "kg"}],
            "detained_persons": [{"given_names": "Ana", "surnames": [f"Span{run}"], "date_of_birth": "1980-01-01"}],
        },
    }


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as received:
        yield received


async def settle(system: System) -> None:
    """Wait until every service consumed everything of the flow and published every event it committed."""
    events = {name: system.topic(f"alliance.{name}.events") for name in SERVICES}
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    for name in ("firearms", "chemicals", "money_laundering", "extradition"):
        await wait_drained(system.group(name, "seizures"), [events["interdiction"]])
    await wait_outboxes_empty(system, SERVICES)
    await wait_drained(system.group("money_laundering", "traces"), [events["firearms"]])
    await wait_drained(system.group("extradition", "traces"), [events["firearms"]])
    await wait_drained(system.group("money_laundering", "diversion"), [events["chemicals"]])
    await wait_outboxes_empty(system, SERVICES)


def in_trace(records: list[Record], trace_id: str) -> list[Record]:
    return [r for r in records if r.headers.get("traceparent", "").split("-")[1:2] == [trace_id]]


def summary(spans: list[Span]) -> str:
    by = Counter(f"{s.service.removeprefix('alliance-')}:{s.attributes.get(STEP, s.name)}" for s in spans)
    return f"{len(spans)} spans: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items()))


async def test_one_span_per_handled_event_and_per_published_fact(
    stack: None, receiver: OtlpReceiver, producer: Producers
) -> None:
    system = System(namespace=f"s{uuid.uuid4().hex[:10]}", otlp=receiver)
    try:
        for name in SERVICES:
            system.start(name)
        run = uuid.uuid4().hex[:6].upper()
        trace_id, parent = traceparent()
        reference = f"SPN-{run}"
        await Agency(producer, "us-cbp").send(
            system.topic("alliance.interdiction.intake"),
            seizure(reference, run),
            event_type=REPORTED,
            key=reference,
            trace=parent,
        )
        interdiction_events = system.topic("alliance.interdiction.events")
        await read_until(
            [interdiction_events],
            lambda rs: any(r.type == SEIZURE_RECORDED and r.json()["report_reference"] == reference for r in rs),
        )
        await settle(system)
    finally:
        system.stop_all()  # each service flushes its spans as it stops

    spans = receiver.in_trace(trace_id)
    print(summary(spans))
    facts = in_trace(await read_all([system.topic(f"alliance.{name}.events") for name in SERVICES]), trace_id)
    deliveries = in_trace(
        await read_all([system.topic(f"alliance.deliveries.{agency}") for agency in ("us-cbp", "mx-fgr", "us-atf")]),
        trace_id,
    )
    print(f"{len(facts)} facts published in the flow, {len(deliveries)} of their deliveries read (3 agencies)")
    assert {f.type for f in facts} >= {
        SEIZURE_RECORDED,
        "org.alliance.firearms.trace_request.submitted.v1",
        "org.alliance.money_laundering.asset.seized.v1",
        "org.alliance.chemicals.incident.recorded.v1",
    }

    # Every span names the event it published or handled; nothing else is a span.
    assert [s.name for s in spans if s.attributes.get(STEP) not in {"published", "handled"}] == []
    published = Counter(s.attributes[EVENT_ID] for s in spans if s.attributes[STEP] == "published")
    assert published == Counter(f.headers["ce_id"] for f in facts)  # one span per fact, each once
    handled = Counter((s.service, s.attributes[EVENT_ID]) for s in spans if s.attributes[STEP] == "handled")
    assert max(handled.values()) == 1
    assert {event for _, event in handled} <= {*published, *(s.attributes[EVENT_ID] for s in spans)}

    # Deliveries and the audit record are events on the fact's span: the agencies it went to, by name.
    recorded = next(f for f in facts if f.type == SEIZURE_RECORDED)
    [span] = [
        s
        for s in spans
        if s.attributes.get(EVENT_ID) == recorded.headers["ce_id"] and s.attributes[STEP] == "published"
    ]
    events = dict(span.events)
    delivered_to = {d.topic.rsplit(".", 1)[1] for d in deliveries if d.headers["ce_id"] == recorded.headers["ce_id"]}
    assert delivered_to
    assert delivered_to <= set(events["delivered"]["alliance.recipients"])
    assert events["audited"]["alliance.audit.id"] == f"audit-{recorded.headers['ce_id']}"


def sampled_flag(record: Record) -> bool:
    return bool(int(record.headers["traceparent"].rsplit("-", 1)[1], 16) & 1)


async def test_flows_are_kept_or_dropped_whole_and_refusals_and_escalations_are_always_kept(
    stack: None, receiver: OtlpReceiver, producer: Producers
) -> None:
    """With a sampling ratio of 0: a flow nobody asked for leaves no span but its escalations; a flow its
    sender flagged is kept whole; a refusal is kept with its rejection."""
    system = System(namespace=f"s{uuid.uuid4().hex[:10]}", otlp=receiver)
    run = uuid.uuid4().hex[:6].upper()
    cbp = Agency(producer, "us-cbp")
    intake = system.topic("alliance.interdiction.intake")
    firearms_events = system.topic("alliance.firearms.events")
    breached = "org.alliance.deadline.breached.v1"
    try:
        for name in ("interdiction", "firearms"):
            system.start(
                name,
                {
                    "ALLIANCE_TRACE_SAMPLING_RATIO": "0",
                    "ALLIANCE_DEADLINE_SCAN_SECONDS": "0.5",
                    "ALLIANCE_TRACE_REPLY_HOURS": str(10 / 3600),  # the tracing centre's reply: 10 s here
                },
            )
        gun = {"report_reference": "", "seizure": {**seizure("", run)["seizure"], "drugs": [], "currency": []}}
        dropped, kept = f"DROP-{run}", f"KEEP-{run}"
        await cbp.send(intake, {**gun, "report_reference": dropped}, event_type=REPORTED, key=dropped)
        kept_trace, flagged = traceparent()
        await cbp.send(intake, {**gun, "report_reference": kept}, event_type=REPORTED, key=kept, trace=flagged)
        bad = await cbp.send(intake, {"report_reference": f"BAD-{run}", "seizure": {}}, event_type=REPORTED)

        def recorded(reference: str) -> Any:
            return lambda rs: [
                r for r in rs if r.type == SEIZURE_RECORDED and r.json()["report_reference"] == reference
            ]

        [dropped_fact] = recorded(dropped)(
            await read_until([system.topic("alliance.interdiction.events")], lambda rs: bool(recorded(dropped)(rs)))
        )
        dropped_trace = dropped_fact.headers["traceparent"].split("-")[1]
        assert not sampled_flag(dropped_fact)  # decided where the flow entered, carried on to firearms

        def escalations(trace_id: str) -> Any:
            return lambda rs: [r for r in in_trace(rs, trace_id) if r.type == breached]

        await read_until(
            [firearms_events], lambda rs: bool(escalations(dropped_trace)(rs)) and bool(escalations(kept_trace)(rs))
        )
        replies = system.topic("alliance.replies.us-cbp")
        rejection = await read_until([replies], lambda rs: any(r.json()["rejected_event_id"] == bad for r in rs))
        [rejected] = [r for r in rejection if r.json()["rejected_event_id"] == bad]
        refused_trace = rejected.headers["traceparent"].split("-")[1]
        await wait_drained(system.group("interdiction", "intake"), [intake])
        await wait_drained(system.group("firearms", "seizures"), [system.topic("alliance.interdiction.events")])
        await wait_outboxes_empty(system, ["interdiction", "firearms"])
    finally:
        system.stop_all()  # each service flushes its spans as it stops

    facts = await read_all([system.topic("alliance.interdiction.events"), firearms_events])
    # Nobody asked for the first flow: only its escalations were exported.
    dropped_spans = receiver.in_trace(dropped_trace)
    print("dropped flow:", summary(dropped_spans))
    assert {s.attributes.get(EVENT_TYPE) for s in dropped_spans} <= {breached, "org.alliance.deadline.approaching.v1"}
    escalated = Counter(
        f.headers["ce_id"] for f in in_trace(facts, dropped_trace) if f.type.startswith("org.alliance.deadline.")
    )  # type: ignore[union-attr]
    assert Counter(s.attributes[EVENT_ID] for s in dropped_spans) == escalated
    # Its sender flagged the second one: kept whole, in both services.
    kept_spans = receiver.in_trace(kept_trace)
    print("flagged flow:", summary(kept_spans))
    published = Counter(s.attributes[EVENT_ID] for s in kept_spans if s.attributes[STEP] == "published")
    assert published == Counter(f.headers["ce_id"] for f in in_trace(facts, kept_trace))
    assert {(s.service, s.attributes[STEP]) for s in kept_spans} >= {
        ("alliance-interdiction", "handled"),
        ("alliance-firearms", "handled"),
        ("alliance-firearms", "published"),
    }
    # The refusal: its span and its rejection's, nothing else (it was the whole flow).
    refused_spans = receiver.in_trace(refused_trace)
    print("refused flow:", summary(refused_spans))
    assert sorted(s.attributes[STEP] for s in refused_spans) == ["published", "refused"]
    [refusal] = [s for s in refused_spans if s.attributes[STEP] == "refused"]
    assert refusal.attributes["alliance.refusal.reason"] == "data does not match"
