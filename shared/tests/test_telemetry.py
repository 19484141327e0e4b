"""The sampling policy of spans (alliance.runtime.telemetry): a flow is kept or dropped whole, decided
from its trace id where it enters; refusals, failures, escalations, rejections and the flows operators
ask for are kept whatever the ratio."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind, format_trace_id

from alliance.contracts.disclosure import RecipientDecision, Release
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.topics import REPLAY_REQUESTS_TOPIC
from alliance.domain.deadlines import DeadlineBreached
from alliance.runtime import telemetry
from alliance.runtime.telemetry import (
    INTAKE_SENDER,
    FlowSampler,
    KeptSpans,
    consuming,
    failed,
    in_trace,
    publishing,
    refused,
    released,
    traced_headers,
)

MARKS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))


class Traced:
    """A tracer provider of this test's own (the global one is not touched), and what it exported."""

    def __init__(self, sampler: FlowSampler) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler)
        self.provider.add_span_processor(KeptSpans(SimpleSpanProcessor(self.exporter)))

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.exported]

    @property
    def exported(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()


@pytest.fixture
def dropping(monkeypatch: pytest.MonkeyPatch) -> Iterator[Traced]:
    """Services whose sampling ratio is 0: only what the policy always keeps is exported."""
    traced = Traced(FlowSampler(0.0, agencies=("mx-semar",)))
    monkeypatch.setattr(telemetry, "_tracer", traced.provider.get_tracer("alliance"))
    yield traced
    traced.provider.shutdown()


def parent(sampled: bool) -> tuple[str, str]:
    trace_id = uuid.uuid4().hex
    return trace_id, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-{'01' if sampled else '00'}"


def is_sampled(traceparent: str) -> bool:
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 1)  # other flag bits (random) may be set


def header(traceparent: str) -> list[tuple[str, bytes | None]]:
    return [("ce_id", b"x"), ("traceparent", traceparent.encode())]


def event(event_type: str = "org.alliance.interdiction.seizure.recorded.v1", trace: str | None = None) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="urn:alliance:service:interdiction",
        type=event_type,
        time=datetime.now(UTC),
        markings=MARKS,
        data={},
        traceparent=trace,
    )


def test_the_ratio_decides_from_the_trace_id_alone_so_every_service_decides_alike() -> None:
    ids = [uuid.uuid4().int for _ in range(400)]  # as many senders make them (fixed bits above the 7 last bytes)
    services = [FlowSampler(0.25), FlowSampler(0.25)]
    decisions = [
        [s.should_sample(None, t, "x", attributes={INTAKE_SENDER: "us-cbp"}).decision for t in ids] for s in services
    ]
    assert decisions[0] == decisions[1]
    kept = decisions[0].count(Decision.RECORD_AND_SAMPLE)
    assert 40 < kept < 160  # about a quarter
    assert set(decisions[0]) == {Decision.RECORD_AND_SAMPLE, Decision.RECORD_ONLY}  # dropped: still recorded


def test_a_dropped_flow_makes_no_span_anywhere_and_carries_the_decision_on(dropping: Traced) -> None:
    with (
        consuming("t.alliance.interdiction.intake.us-cbp", 0, 1, [], "us-cbp"),
        publishing("t.alliance.interdiction.events", event(), "SZ-1"),
    ):
        carried = traced_headers({"ce_id": "x"})["traceparent"]
    assert not is_sampled(carried)  # the next service follows: not sampled
    with consuming("t.alliance.interdiction.events", 0, 1, header(carried), None):
        pass
    assert dropping.names == []


def test_a_kept_flow_stays_kept_in_the_next_service_whatever_its_ratio(dropping: Traced) -> None:
    trace_id, sampled = parent(True)
    with (
        consuming("t.alliance.firearms.events", 0, 1, header(sampled), None),  # another service kept it
        publishing("t.alliance.firearms.events", event(), "TR-1"),
    ):
        carried = traced_headers({})["traceparent"]
    assert carried.split("-")[1] == trace_id
    assert is_sampled(carried)
    assert dropping.names == ["t.alliance.firearms.events publish", "t.alliance.firearms.events process"]
    assert {format_trace_id(s.context.trace_id) for s in dropping.exported if s.context} == {trace_id}


def test_a_sender_asks_for_its_flow_with_the_sampled_flag_unless_operators_turned_that_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for sender_flag, expected in ((True, 1), (False, 0)):
        traced = Traced(FlowSampler(0.0, sender_flag=sender_flag))
        monkeypatch.setattr(telemetry, "_tracer", traced.provider.get_tracer("alliance"))
        with consuming("t.alliance.interdiction.intake.us-cbp", 0, 1, header(parent(True)[1]), "us-cbp"):
            pass
        assert len(traced.exported) == expected


def test_an_unsampled_flag_from_a_sender_does_not_drop_a_flow_the_ratio_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    traced = Traced(FlowSampler(1.0))
    monkeypatch.setattr(telemetry, "_tracer", traced.provider.get_tracer("alliance"))
    with consuming("t.alliance.interdiction.intake.us-cbp", 0, 1, header(parent(False)[1]), "us-cbp"):
        pass
    assert len(traced.exported) == 1


def test_every_flow_of_an_agency_operators_follow_is_kept(dropping: Traced) -> None:
    with consuming("t.alliance.interdiction.intake.mx-semar", 0, 1, [], "mx-semar"):
        pass
    with consuming("t.alliance.interdiction.intake.us-cbp", 0, 1, [], "us-cbp"):
        pass
    assert [s.attributes[INTAKE_SENDER] for s in dropping.exported if s.attributes] == ["mx-semar"]


def test_a_refusal_is_kept_with_its_rejection_but_not_the_rest_of_its_dropped_flow(dropping: Traced) -> None:
    rejection = event("org.alliance.event.rejected.v1")
    with consuming("t.alliance.interdiction.intake.us-cbp", 0, 7, [], "us-cbp") as span:
        with publishing("t.alliance.interdiction.events", event(), "SZ-1"):
            pass  # published before the refusal: dropped with its flow
        refused(span, None, "SZ-1", "rule violated")
        with publishing("t.alliance.replies.us-cbp", rejection, "SZ-1"):
            carried = traced_headers({})["traceparent"]
    assert sorted(dropping.names) == [
        "t.alliance.interdiction.intake.us-cbp process",
        "t.alliance.replies.us-cbp publish",
    ]
    refusal = next(s for s in dropping.exported if s.kind is SpanKind.CONSUMER)
    assert (refusal.attributes or {})["alliance.refusal.reason"] == "rule violated"
    assert is_sampled(carried)  # the agency reading its rejection may continue the trace


def test_a_failure_is_kept_and_named_by_its_exception_type_alone(dropping: Traced) -> None:
    with consuming("t.alliance.firearms.events", 0, 1, [], None) as span:
        failed(span, ValueError("Ana Ruiz, born 1980-01-01"))  # then retried, and it worked
    [kept] = dropping.exported
    assert [(e.name, dict(e.attributes or {})) for e in kept.events] == [
        ("handler failed", {"exception.type": "ValueError"})
    ]
    with pytest.raises(RuntimeError), consuming("t.alliance.firearms.events", 0, 2, [], None):
        raise RuntimeError("stored record quoted here")
    assert dropping.exported[-1].status.description == "RuntimeError"
    assert not dropping.exported[-1].events  # no exception text recorded


def test_escalations_are_kept_with_what_follows_from_them(dropping: Traced) -> None:
    trace_id, unsampled = parent(False)
    with (
        in_trace(unsampled),  # the deadline clock, in the flow that set the deadline
        publishing("t.alliance.firearms.events", event(DeadlineBreached.EVENT_TYPE), "TR-1"),
    ):
        carried = traced_headers({})["traceparent"]
    with consuming("t.alliance.money_laundering.events", 0, 1, header(carried), None):
        pass
    assert dropping.names == ["t.alliance.firearms.events publish", "t.alliance.money_laundering.events process"]
    assert {format_trace_id(s.context.trace_id) for s in dropping.exported if s.context} == {trace_id}


def test_a_replay_operators_asked_for_is_kept_in_the_flow_of_the_record_it_replays(dropping: Traced) -> None:
    trace_id, unsampled = parent(False)
    with (
        consuming(f"t.{REPLAY_REQUESTS_TOPIC}", 0, 1, [], None),
        consuming("t.alliance.interdiction.intake.us-cbp", 0, 9, header(unsampled), "us-cbp"),
    ):
        pass
    replayed, request = dropping.exported
    assert replayed.context is not None
    assert format_trace_id(replayed.context.trace_id) == trace_id
    assert (replayed.attributes or {})["alliance.keep"] == "replay"
    assert (request.attributes or {})["alliance.keep"] == "replay requested"


def test_deliveries_and_the_audit_record_are_events_on_the_fact_s_span(monkeypatch: pytest.MonkeyPatch) -> None:
    traced = Traced(FlowSampler(1.0))
    monkeypatch.setattr(telemetry, "_tracer", traced.provider.get_tracer("alliance"))
    release = Release(
        registry_version=3,
        markings_digest="d",
        decided_at=datetime.now(UTC),
        decisions=(
            RecipientDecision(recipient="us-atf", allowed=True, rule="r1"),
            RecipientDecision(recipient="mx-fgr", allowed=False, rule="r2"),
        ),
    )
    with publishing("t.alliance.firearms.events", event(), "TR-1") as span:
        released(span, release, "audit-1", delivered=True)
    [fact] = traced.exported
    events = {e.name: dict(e.attributes or {}) for e in fact.events}
    assert events["delivered"]["alliance.recipients"] == ("us-atf",)
    assert events["delivered"]["alliance.withheld"] == ("mx-fgr",)
    assert events["audited"]["alliance.audit.id"] == "audit-1"
