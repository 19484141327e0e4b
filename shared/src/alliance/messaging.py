"""Kafka messaging: broker factory, typed event dispatch, dead letters and rejections.

Every subscription goes through :class:`EventConsumer`, which enforces the reliability contract:

* the offset is committed only after the handler has stored its effect (no auto-commit);
* an invalid event (bad envelope, unknown type on an intake topic, data failing its contract, a
  domain-rule violation) is copied to the service's dead-letter topic with the reason in headers,
  and an ``event.rejected`` event goes to the sender's reply stream; then the consumer moves on;
* a dependency that is down (store, broker) makes the handler wait and retry, never drop the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import structlog
from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic import ValidationError
from pymongo.errors import OperationFailure

from alliance.contracts.base import EventData
from alliance.contracts.common import EventRejected, FieldError
from alliance.envelope import CloudEvent, EnvelopeError, headers_to_dict, parse_record
from alliance.errors import DomainRuleViolation
from alliance.markings import TLP, Markings
from alliance.retry import is_transient, until_available
from alliance.settings import Settings, dead_letter_topic, reply_topic_for
from alliance.store import PendingEvent

log = structlog.get_logger(__name__)
D = TypeVar("D", bound=EventData)
_propagator = TraceContextTextMapPropagator()


def make_broker(settings: Settings, service: str, tracer_provider: TracerProvider | None) -> KafkaBroker:
    middlewares = [KafkaTelemetryMiddleware(tracer_provider=tracer_provider)] if tracer_provider else []
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"alliance-{service}",
        enable_idempotence=True,  # acks=all, no duplicates from producer retries
        middlewares=middlewares,
        logger=logging.getLogger(f"alliance.{service}.faststream"),  # JSON via our root handler
    )


async def ensure_topics(settings: Settings, topics: list[str]) -> None:
    """Create the topics a service owns (idempotent); waits while the broker is unreachable."""

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if missing:
                with contextlib.suppress(TopicAlreadyExistsError):  # another instance was faster
                    await admin.create_topics(
                        [NewTopic(t, settings.topic_partitions, settings.topic_replication) for t in missing]
                    )
        finally:
            await admin.close()

    await until_available(
        create, what="kafka topics", initial=settings.retry_initial_seconds, maximum=settings.retry_max_seconds
    )


D_co = TypeVar("D_co", bound=EventData, covariant=True)


@dataclass(frozen=True)
class Received(Generic[D_co]):
    """An event accepted by the envelope and contract checks, handed to a domain handler."""

    event: CloudEvent
    data: D_co
    topic: str

    @property
    def cause(self) -> str:
        """Identifies the causing event (same source and id = same event) for idempotent changes."""
        return f"{self.event.source}|{self.event.id}"


Handler = Callable[[Received[Any]], Awaitable[None]]


class Messenger:
    """Publishes events for one service: facts from the outbox, dead letters, rejections."""

    def __init__(self, broker: KafkaBroker, settings: Settings, service: str) -> None:
        self.broker = broker
        self.settings = settings
        self.service = service
        self.source = f"urn:alliance:service:{service}"
        self.dead_letter_topic = settings.topic(dead_letter_topic(service))

    async def publish(self, pending: PendingEvent) -> None:
        """Publish one outbox event inside the trace that caused it."""
        value, headers = pending.event.to_kafka()
        parent = _propagator.extract({"traceparent": pending.event.traceparent}) if pending.event.traceparent else None
        token = otel_context.attach(parent) if parent is not None else None
        try:
            await self.broker.publish(
                value,
                topic=pending.topic,
                key=pending.key.encode(),
                headers={k: v.decode() for k, v in headers},
            )
        finally:
            if token is not None:
                otel_context.detach(token)

    async def refuse(
        self,
        message: Any,
        topic: str,
        reason: str,
        event: CloudEvent | None,
        errors: list[FieldError],
        headers: dict[str, str],
    ) -> None:
        """Dead-letter the original record with its reason and tell the sender why."""
        raw = message.raw_message
        dlq_headers = {
            **headers,
            "alliance_dlq_reason": reason[:2000],
            "alliance_dlq_service": self.service,
            "alliance_dlq_topic": topic,
            "alliance_dlq_partition": str(raw.partition),
            "alliance_dlq_offset": str(raw.offset),
            "alliance_dlq_time": datetime.now(UTC).isoformat(),
        }
        await self._retry(
            "dead-letter",
            lambda: self.broker.publish(
                raw.value or b"", topic=self.dead_letter_topic, key=raw.key, headers=dlq_headers
            ),
        )
        source = event.source if event else headers.get("ce_source")
        rejection = EventRejected(
            rejected_event_id=event.id if event else headers.get("ce_id"),
            rejected_event_type=event.type if event else headers.get("ce_type"),
            rejected_event_source=source,
            rejected_by=self.service,
            reason=reason,
            errors=errors,
            dead_letter_topic=self.dead_letter_topic,
        )
        reply = CloudEvent(
            id=f"rejection-{raw.topic}-{raw.partition}-{raw.offset}",
            source=self.source,
            type=EventRejected.EVENT_TYPE,
            time=datetime.now(UTC),
            subject=rejection.rejected_event_id,
            # A rejection repeats only ids and the reason, but stays under the sender's markings.
            markings=event.markings
            if event
            else Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=(self.service,)),
            data=rejection.to_data(),
        )
        reply_topic = self.settings.topic(reply_topic_for(source))
        await self._retry("reply topic", lambda: ensure_topics(self.settings, [reply_topic]))
        await self.publish(PendingEvent(topic=reply_topic, key=rejection.rejected_event_id or "unknown", event=reply))
        log.warning(
            "event refused",
            reason=reason,
            topic=topic,
            event_id=rejection.rejected_event_id,
            event_type=rejection.rejected_event_type,
            reply_topic=reply_topic,
        )

    async def _retry(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await until_available(
            op, what=what, initial=self.settings.retry_initial_seconds, maximum=self.settings.retry_max_seconds
        )


class EventConsumer:
    """One subscription: a topic, a consumer group, and a handler per accepted event type.

    ``intake=True`` for topics agencies write to: an unknown event type there is refused. On other
    services' fact streams, types this service does not handle are skipped.
    """

    def __init__(self, messenger: Messenger, topic: str, group: str, *, intake: bool) -> None:
        self.messenger = messenger
        self.topic = messenger.settings.topic(topic)
        self.group = messenger.settings.group(messenger.service, group)
        self.intake = intake
        self.handlers: dict[str, tuple[type[EventData], Handler]] = {}
        self.processed = 0

    def on(
        self, model: type[D]
    ) -> Callable[[Callable[[Received[D]], Awaitable[None]]], Callable[[Received[D]], Awaitable[None]]]:
        def register(handler: Callable[[Received[D]], Awaitable[None]]) -> Callable[[Received[D]], Awaitable[None]]:
            self.handlers[model.EVENT_TYPE] = (model, handler)
            return handler

        return register

    def accepted_types(self) -> list[type[EventData]]:
        return [model for model, _ in self.handlers.values()]

    def subscribe(self) -> None:
        subscriber = self.messenger.broker.subscriber(
            self.topic,
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,  # commit after the effect is stored; redeliver on crash
            decoder=_raw_body,
            max_poll_interval_ms=30 * 60 * 1000,  # a store outage may hold one event for a long time
        )
        subscriber(self._dispatch)

    async def _dispatch(self, message: KafkaMessage) -> None:
        record = cast(ConsumerRecord, message.raw_message)  # one record: these subscribers are not batched
        try:
            headers = headers_to_dict(record.headers or [])
        except EnvelopeError as exc:
            await self.messenger.refuse(message, self.topic, str(exc), None, [], {})
            return
        try:
            event = parse_record(headers, record.value)
        except EnvelopeError as exc:
            await self.messenger.refuse(message, self.topic, f"invalid envelope: {exc}", None, [], headers)
            return
        entry = self.handlers.get(event.type)
        if entry is None:
            if self.intake:
                known = ", ".join(sorted(self.handlers))
                await self.messenger.refuse(
                    message, self.topic, f"unknown event type {event.type!r} (accepted: {known})", event, [], headers
                )
            return
        model, handler = entry
        try:
            data = model.model_validate(event.data)
        except ValidationError as exc:
            errors = [
                FieldError(location=".".join(str(p) for p in e["loc"]) or "(data)", message=e["msg"])
                for e in exc.errors()
            ]
            summary = "; ".join(f"{e.location}: {e.message}" for e in errors[:5])
            await self.messenger.refuse(
                message, self.topic, f"data does not match {event.type}: {summary}", event, errors, headers
            )
            return
        await self._handle(message, handler, Received(event=event, data=data, topic=self.topic), headers)

    async def _handle(
        self, message: KafkaMessage, handler: Handler, received: Received[Any], headers: dict[str, str]
    ) -> None:
        structlog.contextvars.bind_contextvars(event_id=received.event.id, event_type=received.event.type)
        try:
            await with_store_retries(handler, received, self.messenger.settings)
            self.processed += 1
        except DomainRuleViolation as exc:
            await self.messenger.refuse(message, self.topic, f"rule violated: {exc}", received.event, [], headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise  # not stored: the offset is not committed and the event is redelivered
            # A bug or an unexpected record must not stop the consumer nor silently vanish.
            log.exception("handler failed", topic=self.topic)
            await self.messenger.refuse(
                message, self.topic, f"processing failed: {type(exc).__name__}: {exc}", received.event, [], headers
            )
        finally:
            structlog.contextvars.unbind_contextvars("event_id", "event_type")


STORE_FAILURE_ATTEMPTS = 5


async def with_store_retries(
    handler: Handler, received: Received[Any], settings: Settings, attempts: int = STORE_FAILURE_ATTEMPTS
) -> None:
    """Run a handler, retrying with backoff when the store is up but fails (server-side error).

    Handlers are idempotent (deterministic ids, applied events), so running one again is safe. Only
    after ``attempts`` failures is the event refused, with the store's error as the reason.
    """
    delay = settings.retry_initial_seconds
    for attempt in range(1, attempts + 1):
        try:
            await handler(received)
            return
        except OperationFailure as exc:
            if attempt == attempts:
                raise
            log.warning("store operation failed, retrying", attempt=attempt, error=str(exc)[:300])
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.retry_max_seconds)


async def _raw_body(message: Any) -> Any:
    """Hand the handler the undecoded record: the envelope is parsed (and refused) by our own code."""
    return message.body
