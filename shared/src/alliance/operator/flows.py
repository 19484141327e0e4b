"""The flow of a case across services, read from the trace backend (Jaeger's query API).

Every service names on its spans the events it published, handled or refused (ids, types,
markings: :mod:`alliance.runtime.telemetry`), and one flow is one trace. So the operators' flow view
-- ``alliance trace``, ``alliance case`` and the console -- needs only the trace backend: a trace id
gives the timeline, a record id gives the traces whose spans name it (a tag search per service).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from alliance.runtime.telemetry import EVENT_ID, EVENT_TYPE, MARKINGS, RECORD_ID, STEP

SERVICE_PREFIX = "alliance-"
SEARCH_WINDOW = timedelta(days=14)  # a case older than this is not in a local, in-memory backend anyway
MAX_TRACES_PER_RECORD = 20


class TraceBackendError(RuntimeError):
    """The trace backend did not answer, or answered something that is not a trace."""


@dataclass(frozen=True)
class Step:
    """One event in a flow: which service published, handled or refused it, when, under which markings."""

    at: datetime
    offset_ms: float  # since the flow's first span
    duration_ms: float
    service: str
    step: str
    event_type: str
    event_id: str
    record_id: str
    markings: str
    span_id: str
    parent_id: str | None


@dataclass(frozen=True)
class Flow:
    trace_id: str
    steps: tuple[Step, ...]
    span_count: int
    roots: int  # spans without a parent: one for a complete flow
    missing_parents: int  # spans whose parent is not in the trace (still arriving, or lost)
    started: datetime | None

    @property
    def services(self) -> list[str]:
        """Services in the order they first took part."""
        return list(dict.fromkeys(s.service for s in self.steps))

    @property
    def record_ids(self) -> list[str]:
        return list(dict.fromkeys(s.record_id for s in self.steps if s.record_id))


def _tags(span: dict[str, Any]) -> dict[str, str]:
    return {str(t.get("key")): str(t.get("value")) for t in span.get("tags") or []}


def flow_from_jaeger(trace: dict[str, Any]) -> Flow:
    """A :class:`Flow` from one trace as Jaeger's ``/api/traces/{id}`` returns it (pure)."""
    spans: list[dict[str, Any]] = trace.get("spans") or []
    processes: dict[str, Any] = trace.get("processes") or {}
    ids = {s.get("spanID") for s in spans}
    roots = missing = 0
    parents: dict[str, str | None] = {}
    for span in spans:
        refs = [r for r in span.get("references") or [] if r.get("refType") == "CHILD_OF"]
        parent = refs[0].get("spanID") if refs else None
        parents[str(span.get("spanID"))] = parent
        if parent is None:
            roots += 1
        elif parent not in ids:
            missing += 1
    first = min((int(s.get("startTime", 0)) for s in spans), default=0)
    steps = []
    for span in spans:
        tags = _tags(span)
        if EVENT_TYPE not in tags:
            continue
        service = str(processes.get(str(span.get("processID")), {}).get("serviceName", "?"))
        start = int(span.get("startTime", 0))
        steps.append(
            Step(
                at=datetime.fromtimestamp(start / 1e6, UTC),
                offset_ms=(start - first) / 1000,
                duration_ms=int(span.get("duration", 0)) / 1000,
                service=service.removeprefix(SERVICE_PREFIX),
                step=tags.get(STEP, ""),
                event_type=tags[EVENT_TYPE],
                event_id=tags.get(EVENT_ID, ""),
                record_id=tags.get(RECORD_ID, ""),
                markings=tags.get(MARKINGS, ""),
                span_id=str(span.get("spanID")),
                parent_id=parents[str(span.get("spanID"))],
            )
        )
    steps.sort(key=lambda s: (s.at, s.step != "published"))
    return Flow(
        trace_id=str(trace.get("traceID", "")),
        steps=tuple(steps),
        span_count=len(spans),
        roots=roots,
        missing_parents=missing,
        started=datetime.fromtimestamp(first / 1e6, UTC) if spans else None,
    )


class TraceBackend:
    """Jaeger's HTTP query API (the local stack's, or a cluster's ``jaeger-query``)."""

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            if self._client is not None:
                response = await self._client.get(self.base_url + path, params=params)
            else:
                async with httpx.AsyncClient(timeout=10) as client:
                    response = await client.get(self.base_url + path, params=params)
        except httpx.HTTPError as exc:
            raise TraceBackendError(f"trace backend at {self.base_url} did not answer: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise TraceBackendError(f"trace backend answered {response.status_code} for {path}")
        return response.json()

    async def services(self) -> list[str]:
        found = await self._get("/api/services") or {}
        return sorted(s for s in found.get("data") or [] if str(s).startswith(SERVICE_PREFIX))

    async def flow(self, trace_id: str) -> Flow | None:
        found = await self._get(f"/api/traces/{trace_id.strip().lower()}")
        traces = (found or {}).get("data") or []
        return flow_from_jaeger(traces[0]) if traces else None

    async def traces_of_record(self, record_id: str) -> list[str]:
        """Trace ids whose spans name ``record_id``, oldest first."""
        now = datetime.now(UTC)
        params = {
            "tags": json.dumps({RECORD_ID: record_id}),
            "start": int((now - SEARCH_WINDOW).timestamp() * 1e6),
            "end": int(now.timestamp() * 1e6),
            "limit": MAX_TRACES_PER_RECORD,
        }
        started: dict[str, int] = {}
        for service in await self.services():
            found = await self._get("/api/traces", {**params, "service": service}) or {}
            for trace in found.get("data") or []:
                first = min((int(s.get("startTime", 0)) for s in trace.get("spans") or []), default=0)
                started[str(trace.get("traceID"))] = first
        return sorted(started, key=lambda t: started[t])

    async def case(self, record_id: str) -> list[Flow]:
        """Every flow that touched one record, oldest first."""
        flows = [await self.flow(t) for t in await self.traces_of_record(record_id)]
        return [f for f in flows if f is not None]
