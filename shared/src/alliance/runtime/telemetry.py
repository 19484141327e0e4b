"""Tracing and logging: OpenTelemetry with service resource attributes, structlog JSON with trace ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import Markings
from alliance.runtime.settings import Settings

# Span attributes the operators' flow view reads (alliance.operator.flows): ids, types and markings of
# the events a span published or handled, never their data.
EVENT_ID = "alliance.event.id"
EVENT_TYPE = "alliance.event.type"
RECORD_ID = "alliance.record.id"
STEP = "alliance.step"  # published, handled or refused
MARKINGS = "alliance.markings"


def setup_tracing(service: str, version: str, settings: Settings) -> TracerProvider:
    resource = Resource.create(
        {
            "service.name": f"alliance-{service}",
            "service.namespace": "alliance",
            "service.version": version,
            "deployment.environment.name": settings.environment,
        }
    )
    provider = TracerProvider(resource=resource)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    return provider


def _add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    span = trace.get_current_span()
    ctx = span.get_span_context()
    if ctx.is_valid:
        event["trace_id"] = format(ctx.trace_id, "032x")
        event["span_id"] = format(ctx.span_id, "016x")
    return event


def setup_logging(service: str, level: str = "INFO") -> None:
    """JSON logs on stderr for our code and for libraries (FastStream, aiokafka, pymongo)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
        lambda _, __, e: {**e, "service": service},
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, to store beside work that is published later."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


_tracer = trace.get_tracer("alliance")


def markings_label(markings: Markings) -> str:
    """Markings in one line, as the flow view shows them: ``TLP:AMBER rel MX,US orig mx-fgr``."""
    parts = [f"TLP:{markings.tlp.value}", "rel " + (",".join(markings.releasable_to) or "-")]
    parts.append("orig " + ",".join(markings.originators))
    if markings.originator_control:
        parts.append("ORCON")
    if markings.recipients:
        parts.append("to " + ",".join(markings.recipients))
    return " ".join(parts)


def describe(span: trace.Span, event: CloudEvent, step: str, record_id: str | None) -> None:
    """Name on ``span`` the event it published or handled, so an operator can follow the flow."""
    span.set_attributes(
        {
            EVENT_ID: event.id,
            EVENT_TYPE: event.type,
            STEP: step,
            MARKINGS: markings_label(event.markings),
            **({RECORD_ID: record_id[:200]} if record_id else {}),
        }
    )


@contextmanager
def publishing(event: CloudEvent, record_id: str) -> Iterator[None]:
    """A span around the publication of one fact (its broker span becomes a child of it)."""
    with _tracer.start_as_current_span(f"publish {event.type}") as span:
        describe(span, event, "published", record_id)
        yield


@contextmanager
def in_trace(traceparent: str | None, name: str) -> Iterator[None]:
    """Run work started by the service itself (the deadline clock) as a span of the flow that caused
    it, so an operator follows a case from the seizure to its escalations in one trace."""
    if not traceparent:
        yield
        return
    parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    with _tracer.start_as_current_span(name, context=parent):
        yield
