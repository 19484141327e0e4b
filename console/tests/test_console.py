"""The console's pages from recorded backend answers (the real backends are tested in tests/e2e)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient

from alliance.operator.flows import TraceBackend
from alliance.runtime.telemetry import EVENT_ID, EVENT_TYPE, MARKINGS, RECORD_ID, STEP
from operator_console.app import create_app
from operator_console.metrics import MetricsBackend

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def span(span_id: str, parent: str | None, process: str, start: int, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "traceID": TRACE,
        "spanID": span_id,
        "processID": process,
        "startTime": start,
        "duration": 1500,
        "references": [{"refType": "CHILD_OF", "traceID": TRACE, "spanID": parent}] if parent else [],
        "tags": [{"key": k, "type": "string", "value": v} for k, v in tags.items()],
    }


def event(kind: str, step: str, record: str) -> dict[str, str]:
    return {EVENT_TYPE: kind, EVENT_ID: kind + "-1", STEP: step, RECORD_ID: record, MARKINGS: "TLP:AMBER rel MX,US"}


JAEGER_TRACE = {
    "traceID": TRACE,
    "processes": {"p1": {"serviceName": "alliance-interdiction"}, "p2": {"serviceName": "alliance-firearms"}},
    "spans": [
        span("a1", None, "p1", 1_000_000, event("org.alliance.interdiction.seizure_reported.v1", "handled", "SZ-9")),
        span("a2", "a1", "p1", 1_002_000, event("org.alliance.interdiction.firearm_seized.v1", "published", "SZ-9")),
        span("b1", "a2", "p2", 1_010_000, event("org.alliance.interdiction.firearm_seized.v1", "handled", "SZ-9")),
        span("b2", "b1", "p2", 1_011_000, {}),  # a span of the broker or the store: not a step
    ],
}


def jaeger(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/services":
        return httpx.Response(200, json={"data": ["alliance-interdiction", "alliance-firearms", "jaeger"]})
    if request.url.path == f"/api/traces/{TRACE}":
        return httpx.Response(200, json={"data": [JAEGER_TRACE]})
    if request.url.path == "/api/traces":
        tags = json.loads(request.url.params["tags"])
        found = [JAEGER_TRACE] if tags == {RECORD_ID: "SZ-9"} else []
        return httpx.Response(200, json={"data": found})
    return httpx.Response(404, json={"data": None})


def victoria(request: httpx.Request) -> httpx.Response:
    query = request.url.params["query"]
    if "alliance_dead_letters_total" in query and "reason" in query:
        result = [{"metric": {"service": "firearms", "reason": "rule violated"}, "value": [0, "2"]}]
    elif "alliance_dead_letters_total" in query:
        result = [{"metric": {"service": "firearms"}, "value": [0, "2"]}]
    elif "faststream_received_processed_messages_total[5m]" in query:
        result = [{"metric": {"service": "interdiction"}, "value": [0, "1.25"]}]
    else:
        result = []
    return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})


def console(traces: Any = jaeger, metrics: Any = victoria) -> TestClient:
    trace_client = httpx.AsyncClient(transport=httpx.MockTransport(traces))
    metrics_client = httpx.AsyncClient(transport=httpx.MockTransport(metrics))
    app = create_app(MetricsBackend("http://metrics", metrics_client), TraceBackend("http://traces", trace_client))
    return TestClient(app)


def test_flow_of_a_trace_id_shows_each_event_step_by_service_in_time_order() -> None:
    page = console().get(f"/flow?id={TRACE}").text
    rows = [line for line in page.splitlines() if 'class="step ' in line]
    assert [r.split('data-service="')[1].split('"')[0] for r in rows] == ["interdiction", "interdiction", "firearms"]
    assert page.count("TLP:AMBER rel MX,US") == 3
    assert "interdiction</span> → <span" in page


def test_flow_of_a_record_id_finds_its_traces_by_tag_search() -> None:
    page = console().get("/flow?id=SZ-9").text
    assert f'data-trace="{TRACE}"' in page
    assert "No flow names this id" not in page


def test_an_unknown_id_says_so_in_the_chosen_language() -> None:
    assert "Ningún flujo menciona" in console().get("/flow?id=SZ-0&lang=es").text
    assert "No flow names this id" in console().get("/flow?id=SZ-0", headers={"accept-language": "fr, en"}).text


def test_overview_shows_throughput_and_dead_letters_by_reason() -> None:
    page = console().get("/", headers={"accept-language": "es-MX,es;q=0.9"}).text
    assert "Rechazados por motivo" in page
    assert "rule violated" in page
    assert "1.25" in page


def test_a_backend_that_does_not_answer_is_reported_not_raised() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = console(traces=down, metrics=down)
    overview = client.get("/")
    flow = client.get(f"/flow?id={TRACE}")
    assert overview.status_code == flow.status_code == 200
    assert "A backend did not answer" in overview.text
    assert "A backend did not answer" in flow.text
