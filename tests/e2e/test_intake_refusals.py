"""Every intake event type: invalid input is dead-lettered with its reason, the sender gets a rejection,
and the consumer keeps going."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from harness import Agency, Record, System, read_until

pytestmark = pytest.mark.e2e

INTAKES = {
    "interdiction": ["seizure.reported", "seizure.amended", "route_report.submitted", "seizure_statistics.requested"],
    "firearms": [
        "trace_request.acknowledged",
        "trace_result.reported",
        "restoration_result.reported",
        "export_licence.issued",
        "trace_statistics.requested",
    ],
    "chemicals": [
        "pre_export_notification.submitted",
        "pre_export_notification.replied",
        "legitimate_need.declared",
        "incident.reported",
    ],
    "money_laundering": [
        "report.submitted",
        "currency_declaration.filed",
        "cross_border_figures.reported",
        "investigation.opened",
        "asset.forfeited",
    ],
    "extradition": [
        "fugitive.registered",
        "request_step.reported",
        "person_match.reviewed",
        "mlat_request.received",
        "mlat_request.status_reported",
        "status_report.requested",
    ],
}

# Well-formed events that break a domain rule: unknown records, illegal transitions, unknown codes.
RULE_BREAKERS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "money_laundering",
        "report.submitted",
        {
            "report_reference": "STR-EMPTY",
            "report_code": "STR",
            "reporting_entity": "Banco",
            "reporting_country": "MX",
            "report_date": "2026-11-20",
            "subjects": [],
            "indicators": [],
            "transactions": [{"date": "2026-11-19", "amount": 5000, "currency": "MXN", "mode": "cash"}],
        },
        "a suspicious report needs at least one subject",
    ),
    (
        "money_laundering",
        "asset.forfeited",
        {"asset_id": "AS-none", "legal_basis": "x", "forfeited_amount": 1, "ordered_on": "2026-11-20"},
        "no seized asset AS-none",
    ),
    (
        "extradition",
        "request_step.reported",
        {"extradition_request_id": "EX-none", "step": "granted", "on": "2026-11-20"},
        "no extradition request EX-none",
    ),
    (
        "extradition",
        "mlat_request.received",
        {
            "mlat_reference": "M-1",
            "requesting_country": "US",
            "requested_country": "US",
            "subject": "x",
            "assistance": ["records"],
        },
        "requesting and requested country must differ",
    ),
    (
        "firearms",
        "trace_result.reported",
        {"trace_request_id": "TR-does-not-exist", "outcome": "not_completed", "reason": "no record"},
        "no trace request TR-does-not-exist",
    ),
    (
        "chemicals",
        "pre_export_notification.replied",
        {"pen_reference": "NOPE-1", "exporting_country": "US", "decision": "no_objection"},
        "no pre-export notification NOPE-1",
    ),
    (
        "chemicals",
        "incident.reported",
        {
            "incident_reference": "X-1",
            "kind": "seizure",
            "substance": "table salt",
            "quantity": 1,
            "unit": "kg",
            "place": {"description": "Tijuana", "country": "MX"},
            "occurred_on": "2026-11-01",
        },
        "not in Table I or II",
    ),
    (
        "interdiction",
        "seizure.amended",
        {
            "report_reference": "NEVER-REPORTED",
            "reason": "fix weights",
            "seizure": {
                "mode": "air",
                "seized_at": "2026-11-01T00:00:00Z",
                "place": {"description": "AICM", "country": "MX"},
                "drugs": [{"drug": "cocaine", "quantity": 1, "unit": "kg"}],
            },
        },
        "no seizure NEVER-REPORTED",
    ),
    (
        "interdiction",
        "seizure.reported",
        {
            "report_reference": "CODE-1",
            "seizure": {
                "mode": "air",
                "seized_at": "2026-11-01T00:00:00Z",
                "place": {"description": "AICM", "country": "MX"},
                "drugs": [{"drug": "moon dust", "quantity": 1, "unit": "kg"}],
            },
        },
        "not a known drug",
    ),
]


async def test_every_intake_refuses_invalid_input_with_a_reason_and_keeps_consuming(
    system: System,
    producer: AIOKafkaProducer,
) -> None:
    sender = Agency(producer, f"test-{uuid.uuid4().hex[:6]}")
    expected: dict[str, tuple[str, list[str]]] = {}  # event id → (service, reason fragments)
    for service, types in INTAKES.items():
        for short in types:
            event_type = f"org.alliance.{service}.{short}.v1"
            event_id = await sender.send(
                system.topic(f"alliance.{service}.intake"), {"unexpected": True}, event_type=event_type
            )
            expected[event_id] = (service, [f"data does not match {event_type}"])
    for service, short, data, reason in RULE_BREAKERS:
        event_id = await sender.send(
            system.topic(f"alliance.{service}.intake"), data, event_type=f"org.alliance.{service}.{short}.v1"
        )
        expected[event_id] = (service, ["rule violated: ", reason])

    # ...and a valid event after all of that is still processed.
    after = await sender.send(
        system.topic("alliance.firearms.intake"),
        {"period_start": "2019-01-01", "period_end": "2019-03-31", "language": "en"},
        event_type="org.alliance.firearms.trace_statistics.requested.v1",
    )

    dead_topics = [system.topic(f"alliance.{s}.deadletter") for s in INTAKES]

    def dead(rs: list[Record]) -> dict[str, Record]:
        return {r.headers["ce_id"]: r for r in rs if r.headers.get("ce_id") in expected}

    letters = dead(await read_until(dead_topics, lambda rs: len(dead(rs)) == len(expected)))
    for event_id, (service, fragments) in expected.items():
        assert all(f in letters[event_id].headers["alliance_dlq_reason"] for f in fragments), (event_id, fragments)
        assert letters[event_id].headers["alliance_dlq_service"] == service

    def rejections(rs: list[Record]) -> dict[str, dict[str, Any]]:
        return {
            r.json()["rejected_event_id"]: r.json()
            for r in rs
            if r.type == "org.alliance.event.rejected.v1" and r.json()["rejected_event_id"] in expected
        }

    replies = rejections(
        await read_until([system.topic(sender.reply_topic_suffix)], lambda rs: len(rejections(rs)) == len(expected))
    )
    for event_id, (service, fragments) in expected.items():
        assert all(f in replies[event_id]["reason"] for f in fragments)
        assert replies[event_id]["rejected_by"] == service

    published = await read_until(
        [system.topic("alliance.firearms.events")],
        lambda rs: any(
            r.type == "org.alliance.firearms.trace_statistics.published.v1" and r.json()["period_start"] == "2019-01-01"
            for r in rs
        ),
    )
    assert published
    assert after not in expected
    for name in INTAKES:
        assert system.services[name].health()["status"] == "ok"
