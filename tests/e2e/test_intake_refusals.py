"""Every intake event type: invalid input is dead-lettered with its reason, the sender gets a rejection,
and the consumer keeps going."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from harness import Agency, Producers, Record, System, read_all, read_until, register_agency, wait_drained

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


# Well-formed events that break a domain rule: unknown records, illegal transitions, unknown codes. The
# records looked up carry this run's suffix, so no other test's data can make one of them exist.
def rule_breakers(run: str) -> list[tuple[str, str, dict[str, Any], str]]:
    return [
        (
            "money_laundering",
            "report.submitted",
            {
                "report_reference": f"STR-EMPTY-{run}",
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
            {"asset_id": f"AS-none-{run}", "legal_basis": "x", "forfeited_amount": 1, "ordered_on": "2026-11-20"},
            f"no seized asset AS-none-{run}",
        ),
        (
            "extradition",
            "request_step.reported",
            {"extradition_request_id": f"EX-none-{run}", "step": "granted", "on": "2026-11-20"},
            f"no extradition_request EX-none-{run}",  # worded by Service.apply
        ),
        (
            "extradition",
            "mlat_request.received",
            {
                "mlat_reference": f"M-{run}",
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
            {"trace_request_id": f"TR-does-not-exist-{run}", "outcome": "not_completed", "reason": "no record"},
            f"no trace_request TR-does-not-exist-{run}",  # worded by Service.apply
        ),
        (
            "chemicals",
            "pre_export_notification.replied",
            {"pen_reference": f"NOPE-{run}", "exporting_country": "US", "decision": "no_objection"},
            f"no pre-export notification NOPE-{run}",
        ),
        (
            "chemicals",
            "incident.reported",
            {
                "incident_reference": f"X-{run}",
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
                "report_reference": f"NEVER-REPORTED-{run}",
                "reason": "fix weights",
                "seizure": {
                    "mode": "air",
                    "seized_at": "2026-11-01T00:00:00Z",
                    "place": {"description": "AICM", "country": "MX"},
                    "drugs": [{"drug": "cocaine", "quantity": 1, "unit": "kg"}],
                },
            },
            f"no seizure NEVER-REPORTED-{run}",
        ),
        (
            "interdiction",
            "seizure.reported",
            {
                "report_reference": f"CODE-{run}",
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
    producer: Producers,
) -> None:
    run = uuid.uuid4().hex[:6]
    # A test system registered for this run (by a registry change event) that may send every intake type.
    await register_agency(
        system,
        {
            "id": f"test-{run}",
            "name": "intake test system",
            "country": "US",
            "kind": "customs",
            "sends": [f"org.alliance.{service}.*" for service in INTAKES],
        },
        list(INTAKES),
    )
    sender = Agency(producer, f"test-{run}")
    expected: dict[str, tuple[str, list[str]]] = {}  # event id → (service, reason fragments)
    for service, types in INTAKES.items():
        for short in types:
            event_type = f"org.alliance.{service}.{short}.v1"
            event_id = await sender.send(
                system.topic(f"alliance.{service}.intake"), {"unexpected": True}, event_type=event_type
            )
            expected[event_id] = (service, [f"data does not match {event_type}"])
    for service, short, data, reason in rule_breakers(run):
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
    reply_topic = system.topic(sender.reply_topic_suffix)

    def dead(rs: list[Record]) -> list[Record]:  # a list: a second dead letter for an event must show
        return [r for r in rs if r.headers.get("ce_id") in {*expected, after}]

    def rejections(rs: list[Record]) -> list[dict[str, Any]]:  # the sender's own reply stream, whole
        return [r.json() for r in rs if r.type == "org.alliance.event.rejected.v1"]

    await read_until(dead_topics, lambda rs: {r.headers["ce_id"] for r in dead(rs)} >= set(expected))
    await read_until([reply_topic], lambda rs: {r["rejected_event_id"] for r in rejections(rs)} >= set(expected))
    published = await read_until(
        [system.topic("alliance.firearms.events")],
        lambda rs: any(
            r.type == "org.alliance.firearms.trace_statistics.published.v1" and r.json()["period_start"] == "2019-01-01"
            for r in rs
        ),
    )
    assert published
    assert after not in expected

    # Then count everything once every intake is consumed: each event refused exactly once, `after` never.
    for name in INTAKES:
        await wait_drained(system.group(name, "intake"), [system.topic(f"alliance.{name}.intake")])
    letters = dead(await read_all(dead_topics))
    assert Counter(r.headers["ce_id"] for r in letters) == Counter(list(expected))
    by_id = {r.headers["ce_id"]: r for r in letters}
    for event_id, (service, fragments) in expected.items():
        assert all(f in by_id[event_id].headers["alliance_dlq_reason"] for f in fragments), (event_id, fragments)
        assert by_id[event_id].headers["alliance_dlq_service"] == service

    replies = rejections(await read_all([reply_topic]))
    assert Counter(r["rejected_event_id"] for r in replies) == Counter(list(expected))
    replied = {r["rejected_event_id"]: r for r in replies}
    for event_id, (service, fragments) in expected.items():
        assert all(f in replied[event_id]["reason"] for f in fragments)
        assert replied[event_id]["rejected_by"] == service

    for name in INTAKES:
        assert system.services[name].health()["status"] == "ok"
