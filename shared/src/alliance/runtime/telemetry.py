"""Tracing and logging: OpenTelemetry with service resource attributes, structlog JSON with trace ids.

Spans, and what they cost (issue 23): a service makes **one span per event it handles** (``<topic>
process``, :func:`consuming`) **and one per fact it publishes** (``<topic> publish``, :func:`publishing`).
Delivery copies and the audit record of a fact are **events on the fact's span** (:func:`released`),
not spans of their own, and a record a service does not handle (a fact type it skips) makes no span.
The trace context travels in each record's ``traceparent`` header (:func:`traced_headers`), so one flow
is one trace across services.

Sampling (:class:`FlowSampler`, :class:`KeptSpans`): a flow's spans are all kept or all dropped, decided
where the flow enters Alliance from the trace id (``ALLIANCE_TRACE_SAMPLING_RATIO``) and carried on in
the W3C sampled flag, so every service decides alike. Kept whatever the ratio: flows the operators ask
for (an agency listed in ``ALLIANCE_TRACE_AGENCIES``, a sender's own sampled flag unless
``ALLIANCE_TRACE_SENDER_FLAG=false``, a dead letter replayed on request), deadline escalations and
rejections with everything that follows from them, and any span that ends refused or failed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from alliance.contracts.common import EventRejected
from alliance.contracts.disclosure import Release
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import Markings
from alliance.contracts.topics import REPLAY_REQUESTS_TOPIC
from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.runtime.settings import Settings

# Span attributes the operators' flow view reads (alliance.operator.flows): ids, types and markings of
# the events a span published or handled, never their data.
EVENT_ID = "alliance.event.id"
EVENT_TYPE = "alliance.event.type"
RECORD_ID = "alliance.record.id"
STEP = "alliance.step"  # published, handled or refused
MARKINGS = "alliance.markings"
RECIPIENTS = "alliance.recipients"  # on a fact's "delivered" span event: the agencies it went to
WITHHELD = "alliance.withheld"  # the agencies it was not released to
AUDIT_ID = "alliance.audit.id"  # on its "audited" span event: the id of the audit record
# Why a span is kept whatever the sampling ratio: refused, failed, escalation, rejection, replay.
KEEP = "alliance.keep"
INTAKE_SENDER = "alliance.intake.sender"  # on a span handling an agency's record: the agency (its topic)

_propagator = TraceContextTextMapPropagator()

# Facts whose flow is kept whatever the ratio: an operator will ask about each of them.
KEPT_TYPES = {
    DeadlineApproaching.EVENT_TYPE: "escalation",
    DeadlineBreached.EVENT_TYPE: "escalation",
    EventRejected.EVENT_TYPE: "rejection",
}


_RANDOM_PART = 1 << 56  # the rightmost 7 bytes of a trace id: random (W3C Trace Context level 2)


def _kept(span: trace.Span) -> bool:
    """Whether a live span of this process was marked to be kept (its children are kept with it)."""
    return isinstance(span, ReadableSpan) and bool((span.attributes or {}).get(KEEP))


class FlowSampler(Sampler):
    """Keeps or drops a flow whole: decided once, where the flow enters Alliance, and carried on in the
    W3C sampled flag that every record of the flow carries, so every service decides alike.

    - A span whose parent is one of Alliance's own (a fact another service published, or this process's
      own work) follows the parent's decision.
    - Where a flow enters (an agency's record, or work with no parent): kept if the sender asked for it
      with the sampled flag (``sender_flag``), if the sender is one of ``agencies`` (operators follow
      its integration), or if the trace id falls within ``ratio`` (the same answer for the same trace id
      anywhere). Only the trace id's rightmost 7 bytes are read: W3C Trace Context level 2 makes them
      the random part, and an id made from a UUID4 (as many senders do) has fixed bits just above them,
      which would make OpenTelemetry's ``TraceIdRatioBased`` (rightmost 8 bytes) keep none or all.
    - Kept whatever the ratio: a span started with :data:`KEEP` (an escalation, a rejection, an
      operator's replay request) or under a live span marked so (a rejection under its refusal).

    A dropped span is still recorded in memory (``RECORD_ONLY``), so that one that ends refused or
    failed can still be exported by :class:`KeptSpans`. The decision reads no record data: an agency's
    flag only decides whether operators see its flow, never who receives what.
    """

    def __init__(self, ratio: float, agencies: Collection[str] = (), sender_flag: bool = True) -> None:
        self._ratio = ratio
        self._bound = round(ratio * _RANDOM_PART)
        self._agencies = frozenset(agencies)
        self._sender_flag = sender_flag

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        attributes = attributes or {}
        parent_span = trace.get_current_span(parent_context)
        parent = parent_span.get_span_context()
        sender = attributes.get(INTAKE_SENDER)
        if attributes.get(KEEP) or _kept(parent_span):
            keep = True
        elif parent.is_valid and sender is None:
            keep = parent.trace_flags.sampled  # Alliance's own decision, made where the flow entered
        else:
            keep = (
                (self._sender_flag and parent.is_valid and parent.trace_flags.sampled)
                or (sender is not None and sender in self._agencies)
                or (trace_id % _RANDOM_PART) < self._bound
            )
        decision = Decision.RECORD_AND_SAMPLE if keep else Decision.RECORD_ONLY
        return SamplingResult(decision, attributes, parent.trace_state if parent.is_valid else None)

    def get_description(self) -> str:
        return f"FlowSampler{{ratio={self._ratio}}}"


class KeptSpans(SpanProcessor):
    """Passes sampled spans on to ``exporting``, and also the dropped ones that ended refused, failed or
    otherwise marked :data:`KEEP` (without the rest of their flow: see the README's sampling policy)."""

    def __init__(self, exporting: SpanProcessor) -> None:
        self._exporting = exporting

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._exporting.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        if context is None or context.trace_flags.sampled:
            self._exporting.on_end(span)
        elif (span.attributes or {}).get(KEEP) or span.status.status_code is StatusCode.ERROR:
            self._exporting.on_end(_as_sampled(span, context))

    def shutdown(self) -> None:
        self._exporting.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporting.force_flush(timeout_millis)


def _as_sampled(span: ReadableSpan, context: SpanContext) -> ReadableSpan:
    """The same span with the sampled flag set (exporters pass on sampled spans only)."""
    sampled = SpanContext(context.trace_id, context.span_id, False, TraceFlags(TraceFlags.SAMPLED), context.trace_state)
    return ReadableSpan(
        name=span.name,
        context=sampled,
        parent=span.parent,
        resource=span.resource,
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def setup_tracing(service: str, version: str, settings: Settings) -> TracerProvider:
    resource = Resource.create(
        {
            "service.name": f"alliance-{service}",
            "service.namespace": "alliance",
            "service.version": version,
            "deployment.environment.name": settings.environment,
        }
    )
    sampler = FlowSampler(settings.trace_sampling_ratio, settings.trace_agencies, settings.trace_sender_flag)
    provider = TracerProvider(resource=resource, sampler=sampler)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        exporting = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=500)
        provider.add_span_processor(KeptSpans(exporting))
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


def _event_attributes(event: CloudEvent, step: str, record_id: str | None) -> dict[str, Any]:
    return {
        EVENT_ID: event.id,
        EVENT_TYPE: event.type,
        STEP: step,
        MARKINGS: markings_label(event.markings),
        **({RECORD_ID: record_id[:200]} if record_id else {}),
    }


def describe(span: trace.Span, event: CloudEvent, step: str, record_id: str | None) -> None:
    """Name on ``span`` the event it published or handled, so an operator can follow the flow."""
    span.set_attributes(_event_attributes(event, step, record_id))


def refused(span: trace.Span, event: CloudEvent | None, record_id: str | None, reason: str) -> None:
    """Mark the span of a refused record: kept whatever the sampling (``reason``: a closed-vocabulary label)."""
    if event is not None:
        describe(span, event, "refused", record_id)
    span.set_attributes({STEP: "refused", KEEP: "refused", "alliance.refusal.reason": reason})


def failed(span: trace.Span, error: BaseException) -> None:
    """A handler failed unexpectedly (it is retried): the span is kept and names the exception by its type
    alone (its text may quote stored records, which do not belong in a trace backend)."""
    span.add_event("handler failed", {"exception.type": type(error).__name__})
    span.set_attribute(KEEP, "failed")


_MESSAGING = {"messaging.system": "kafka"}


@contextmanager
def consuming(
    topic: str, partition: int, offset: int, headers: Sequence[tuple[str, bytes | None]], sender: str | None
) -> Iterator[trace.Span]:
    """The span of one record a service handles (or refuses): a child of the span that published it
    (its ``traceparent`` header). ``sender``: the agency whose intake topic it came from, if any."""
    carrier = {k: (v or b"").decode("ascii", "replace") for k, v in headers if k == "traceparent"}
    parent = _propagator.extract(carrier) if carrier else None
    attributes: dict[str, Any] = {
        **_MESSAGING,
        "messaging.destination.name": topic,
        "messaging.operation.type": "process",
        "messaging.destination.partition.id": str(partition),
        "messaging.kafka.offset": offset,
    }
    if sender is not None:
        attributes[INTAKE_SENDER] = sender
    if topic.endswith(REPLAY_REQUESTS_TOPIC):
        attributes[KEEP] = "replay requested"  # an operator's request, and the replay it starts
    elif _kept(trace.get_current_span()):
        attributes[KEEP] = "replay"  # a dead letter replayed while handling an operator's request
    span = _tracer.start_span(f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes)
    with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield span
        except Exception as error:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


@contextmanager
def publishing(topic: str, event: CloudEvent, record_id: str) -> Iterator[trace.Span]:
    """The span of one fact's publication: its deliveries and audit record are events on it (:func:`released`).

    Its parent is the span that committed the fact (its stored ``traceparent``), so a fact published
    later by the outbox sweep stays in its flow. Records sent inside it carry it (:func:`traced_headers`).
    """
    current = current_traceparent()
    parent = None
    if event.traceparent and event.traceparent != current:
        parent = _propagator.extract({"traceparent": event.traceparent})
    attributes: dict[str, Any] = {
        **_MESSAGING,
        "messaging.destination.name": topic,
        "messaging.operation.type": "send",
        **_event_attributes(event, "published", record_id),
    }
    if event.type in KEPT_TYPES:
        attributes[KEEP] = KEPT_TYPES[event.type]
    with _tracer.start_as_current_span(
        f"{topic} publish", context=parent, kind=SpanKind.PRODUCER, attributes=attributes, record_exception=False
    ) as span:
        yield span


def released(span: trace.Span, release: Release, audit_id: str, delivered: bool) -> None:
    """A fact's release on its span: the agencies it was delivered to (or released to, when ``delivered``
    is False: a fact published on a delivery topic itself), those it was withheld from, and its audit record."""
    span.add_event(
        "delivered" if delivered else "released",
        {RECIPIENTS: release.recipients(), WITHHELD: [d.recipient for d in release.decisions if not d.allowed]},
    )
    span.add_event("audited", {AUDIT_ID: audit_id, "alliance.registry.version": release.registry_version})


def traced_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers of a record sent now, carrying the active span (a fact's publication) as its trace context."""
    traceparent = current_traceparent()
    return {**headers, "traceparent": traceparent} if traceparent else dict(headers)


@contextmanager
def in_trace(traceparent: str | None) -> Iterator[None]:
    """Run work started by the service itself (the deadline clock) in the flow that caused it, so an
    operator follows a case from the seizure to its escalations in one trace. No span of its own: the
    facts it publishes have theirs, and escalations are kept whatever the sampling (:data:`KEPT_TYPES`)."""
    if not traceparent:
        yield
        return
    token = otel_context.attach(_propagator.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        otel_context.detach(token)
