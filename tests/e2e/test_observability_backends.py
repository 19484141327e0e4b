"""The trace and metrics backends of the local stack, asked through their own APIs.

These tests use the stack's own service processes (``stack.py up --services``, default namespace,
ports 8101-8105): those are what VictoriaMetrics scrapes and what export to the local Jaeger. Every
test uses references of its own, so what other runs left in the default namespace does not matter.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from harness import SEIZURE_RECORDED, Agency, Producers, Record, read_until, wait_drained
from harness import stack as run_stack
from payloads.extradition import fugitive_registered
from payloads.firearms import gun
from payloads.interdiction import LAREDO_SOUTHBOUND, METH, seizure_reported

pytestmark = pytest.mark.e2e

JAEGER = f"http://127.0.0.1:{os.environ.get('ALLIANCE_JAEGER_QUERY_PORT', '16686')}"
METRICS = f"http://127.0.0.1:{os.environ.get('ALLIANCE_METRICS_PORT', '8428')}"
SERVICES = ("interdiction", "firearms", "chemicals", "money_laundering", "extradition")
LAG_JOB = "consumer_lag"
REPORTED = "org.alliance.interdiction.seizure.reported.v1"
INTERDICTION_INTAKE = "alliance.interdiction.intake"


@pytest.fixture(scope="module")
def stack_services(stack: None) -> None:
    """The stack's own services (idempotent; a service started without trace export is restarted)."""
    run_stack("up", "--services")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


async def eventually(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll ``probe`` until it returns something truthy; its result. Fails with the last answer seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        await asyncio.sleep(0.5)  # the backends ingest on their own schedule (batches, scrapes)
    raise AssertionError(f"{what}: not within {timeout:.0f}s; last answer: {last!r}")


def seizure(reference: str, run: str, detained: list[dict[str, Any]]) -> dict[str, Any]:
    """A seizure every domain service reacts to: guns, cash, a precursor and a detained person."""
    return seizure_reported(
        reference,
        place=LAREDO_SOUTHBOUND,
        drugs=[{**METH, "quantity": 5}],
        firearms=[gun(f"OBS{run}", 1)],
        currency=[{"amount": 25000, "currency": "USD"}],
        detained_persons=detained,
    )


# -- traces --------------------------------------------------------------------------------------


def _hex(identifier: str) -> str:
    """OTLP/JSON ids are hex; tolerate base64 (protobuf JSON) too."""
    if not identifier:
        return ""
    try:
        int(identifier, 16)
        return identifier.lower()
    except ValueError:
        return base64.b64decode(identifier).hex()


def jaeger_trace(trace_id: str) -> list[dict[str, str]]:
    """The spans of one trace from Jaeger's API v3 (OTLP JSON): id, parent, name, service."""
    try:
        body = get_json(f"{JAEGER}/api/v3/traces/{trace_id}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return []
        raise
    spans = []
    for resource_spans in body["result"]["resourceSpans"]:
        attributes = {a["key"]: a["value"].get("stringValue") for a in resource_spans["resource"]["attributes"]}
        for scope in resource_spans["scopeSpans"]:
            for span in scope["spans"]:
                spans.append(
                    {
                        "trace_id": _hex(span["traceId"]),
                        "span_id": _hex(span["spanId"]),
                        "parent": _hex(span.get("parentSpanId", "")),
                        "name": span["name"],
                        "service": attributes.get("service.name") or "",
                    }
                )
    return spans


def hops(spans: list[dict[str, str]]) -> set[tuple[str, str]]:
    """(from service, to service) for every span whose parent is another service's span (a Kafka hop)."""
    by_id = {s["span_id"]: s for s in spans}
    return {
        (by_id[s["parent"]]["service"], s["service"])
        for s in spans
        if s["parent"] in by_id and by_id[s["parent"]]["service"] != s["service"]
    }


def whole(spans: list[dict[str, str]], chain: set[tuple[str, str]]) -> bool:
    """One root, every parent present, and the flow's hops between services all there."""
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if not s["parent"]]
    return len(roots) == 1 and all(s["parent"] in ids for s in spans if s["parent"]) and chain <= hops(spans)


async def test_one_seizure_flow_is_one_trace_in_jaeger(stack_services: None, producer: Producers) -> None:
    started = time.monotonic()
    run = uuid.uuid4().hex[:6].upper()
    surname = f"Obregon{run}"  # nobody else's person: the demo and other tests share this namespace
    fgr = Agency(producer, "mx-fgr")
    await fgr.send(
        "alliance.extradition.intake",
        fugitive_registered(
            f"FGR-OBS-{run}",
            {"given_names": "María Fernanda", "surnames": ["Obregón", surname], "date_of_birth": "1979-07-22"},
        ),
        event_type="org.alliance.extradition.fugitive.registered.v1",
        key=f"FGR-OBS-{run}",
    )
    await wait_drained("alliance.extradition.intake", ["alliance.extradition.intake"])

    # The agency sends no traceparent: interdiction's span of the report is the root of the flow.
    reference = f"OBS-{run}"
    detained = [
        {"given_names": "MARIA FERNANDA", "surnames": [f"OBREGON {surname.upper()}"], "date_of_birth": "1979-07-22"}
    ]
    await Agency(producer, "us-cbp").send(
        INTERDICTION_INTAKE, seizure(reference, run, detained), event_type=REPORTED, key=reference
    )

    def recorded(rs: list[Record]) -> list[Record]:
        return [r for r in rs if r.type == SEIZURE_RECORDED and r.json()["report_reference"] == reference]

    [record] = recorded(await read_until(["alliance.interdiction.events"], lambda rs: bool(recorded(rs))))
    seizure_id = record.json()["seizure_id"]
    trace_id = record.headers["traceparent"].split("-")[1]

    # What the flow set off in firearms, money laundering and extradition, each in the seizure's trace.
    wanted = {
        "firearms": "org.alliance.firearms.trace_request.submitted.v1",
        "money_laundering": "org.alliance.money_laundering.asset.seized.v1",
        "extradition": "org.alliance.extradition.fugitive.located.v1",
    }

    def reactions(rs: list[Record]) -> dict[str, Record]:
        return {
            service: r
            for r in rs
            for service, kind in wanted.items()
            if r.type == kind and r.json().get("seizure_id") == seizure_id
        }

    found = reactions(
        await read_until([f"alliance.{s}.events" for s in wanted], lambda rs: len(reactions(rs)) == len(wanted))
    )
    for service, reaction in found.items():
        assert reaction.headers["traceparent"].split("-")[1] == trace_id, service

    # The trace backend holds the whole flow as one trace: one root, no span whose parent is missing,
    # and the hops interdiction → firearms, → money laundering, → extradition. (A fact a service reads
    # but does not handle, such as firearms' trace request in money laundering, has no span.)
    services = {f"alliance-{s}" for s in ("interdiction", "firearms", "money_laundering", "extradition")}
    chain = {
        ("alliance-interdiction", "alliance-firearms"),
        ("alliance-interdiction", "alliance-money_laundering"),
        ("alliance-interdiction", "alliance-extradition"),
    }
    spans = await eventually(
        "the whole flow in Jaeger", lambda: (s := jaeger_trace(trace_id)) and whole(s, chain) and s
    )
    assert {s["trace_id"] for s in spans} == {trace_id}
    [root] = [s for s in spans if not s["parent"]]
    assert root["service"] == "alliance-interdiction", root
    ids = {s["span_id"] for s in spans}
    assert all(s["parent"] in ids for s in spans if s["parent"])
    assert services <= {s["service"] for s in spans}
    # The services are known to the query API, and the v1 API returns the same trace.
    assert services <= set(get_json(f"{JAEGER}/api/services")["data"] or [])
    [legacy] = get_json(f"{JAEGER}/api/traces/{trace_id}")["data"]
    assert {s["spanID"] for s in legacy["spans"]} >= ids
    print(
        f"trace {trace_id}: {len(spans)} spans from {len({s['service'] for s in spans})} services "
        f"in {time.monotonic() - started:.1f}s"
    )


# -- metrics -------------------------------------------------------------------------------------


def query(expr: str) -> dict[tuple[tuple[str, str], ...], float]:
    """An instant query to VictoriaMetrics' Prometheus API: labels → value."""
    body = get_json(f"{METRICS}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert body["status"] == "success", body
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in body["data"]["result"]}


def by_job(expr: str) -> dict[str, float]:
    return {dict(labels).get("job", ""): value for labels, value in query(expr).items()}


async def test_victoriametrics_scrapes_all_five_services(stack_services: None, producer: Producers) -> None:
    # One seizure reaches every service, so each has FastStream message counters to report.
    run = uuid.uuid4().hex[:6].upper()
    reference = f"OBSM-{run}"
    await Agency(producer, "us-cbp").send(
        INTERDICTION_INTAKE, seizure(reference, run, []), event_type=REPORTED, key=reference
    )
    await wait_drained("alliance.interdiction.intake", [INTERDICTION_INTAKE])
    for service in ("firearms", "chemicals", "money_laundering", "extradition"):
        await wait_drained(f"alliance.{service}.seizures", ["alliance.interdiction.events"])

    jobs = set(SERVICES)
    up = await eventually("every service scraped", lambda: (u := by_job("up")) and jobs | {LAG_JOB} <= u.keys() and u)
    assert all(up[job] == 1 for job in [*SERVICES, LAG_JOB]), up
    # FastStream's own metrics and Alliance's, per service.
    faststream = "sum by (job) (faststream_received_messages_total)"
    received = await eventually(
        "FastStream metrics of every service", lambda: jobs <= (r := by_job(faststream)).keys() and r
    )
    assert all(received[job] >= 1 for job in SERVICES), received
    assert jobs <= by_job("sum by (job) (faststream_received_processed_messages_total)").keys()
    assert jobs <= by_job("sum by (job) (alliance_records)").keys()
    assert jobs <= by_job("max by (job) (alliance_outbox_lag_seconds)").keys()
    assert jobs <= by_job("count by (job) (alliance_consumer_lag)").keys()
    seizures = query('alliance_records{job="interdiction", collection="seizures"}')
    assert sum(seizures.values()) >= 1


def backlog() -> float | None:
    """Interdiction's intake backlog as the lag exporter measured it (None: no sample yet)."""
    found = query(f'sum(alliance_consumer_lag{{job="{LAG_JOB}", group="alliance.interdiction.intake"}})')
    return next(iter(found.values()), None)


async def test_consumer_lag_rises_during_a_backlog_and_returns_to_zero(
    stack_services: None, producer: Producers
) -> None:
    marks = {"start": time.monotonic()}
    cbp = Agency(producer, "us-cbp")
    run = uuid.uuid4().hex[:6].upper()
    # The group has committed on this agency's topic (what the exporter discovers groups' topics by).
    await cbp.send(INTERDICTION_INTAKE, seizure(f"LAG-{run}-0", run, []), event_type=REPORTED, key=f"LAG-{run}-0")
    await wait_drained("alliance.interdiction.intake", [INTERDICTION_INTAKE])
    await eventually("no backlog to start with", lambda: backlog() == 0)
    marks["baseline"] = time.monotonic()

    count = 20
    run_stack("down", "--only", "interdiction")
    marks["stopped"] = time.monotonic()
    try:
        for n in range(1, count + 1):
            reference = f"LAG-{run}-{n}"
            await cbp.send(INTERDICTION_INTAKE, seizure(reference, f"{run}{n}", []), event_type=REPORTED, key=reference)
        peak = await eventually(
            "the backlog in VictoriaMetrics", lambda: (b := backlog()) is not None and b >= count and b
        )
        # The stopped service's own endpoint is down; the exporter measured the lag from outside.
        await eventually(
            "the stopped service seen down", lambda: by_job('up{job="interdiction"}').get("interdiction") == 0
        )
        marks["risen"] = time.monotonic()
    finally:
        run_stack("up", "--only", "interdiction")
    marks["restarted"] = time.monotonic()
    await eventually("the backlog drained in VictoriaMetrics", lambda: backlog() == 0, timeout=120)
    marks["drained"] = time.monotonic()
    await eventually("the service scraped again", lambda: by_job('up{job="interdiction"}').get("interdiction") == 1)
    phases = list(marks.items())
    steps = ", ".join(f"{name} +{at - before:.1f}s" for (_, before), (name, at) in itertools.pairwise(phases))
    print(f"lag peaked at {peak:.0f}; {steps}")
