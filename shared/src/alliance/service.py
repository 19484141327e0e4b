"""Assembly of one domain service: broker, store, outbox relay, telemetry, health and AsyncAPI.

A service module declares its topics and collections in a :class:`ServiceSpec`, registers handlers
on :meth:`Service.consumer`, and exposes ``app = service.asgi()``; ``main()`` runs it with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope

from alliance import asyncapi
from alliance.aggregate import Aggregate
from alliance.contracts.base import EventData
from alliance.envelope import CloudEvent
from alliance.ids import event_id
from alliance.markings import Markings
from alliance.messaging import EventConsumer, Messenger, ensure_topics, make_broker
from alliance.outbox import OutboxRelay
from alliance.retry import until_available
from alliance.settings import Settings, dead_letter_topic
from alliance.store import AggregateStore, ConcurrentUpdateError, PendingEvent, connect
from alliance.telemetry import current_traceparent, setup_logging, setup_tracing

log = structlog.get_logger(__name__)


A = TypeVar("A", bound=Aggregate)


@dataclass
class ServiceSpec:
    name: str
    version: str
    default_http_port: int
    events_topic: str
    publishes: dict[str, list[type[EventData]]] = field(default_factory=dict)
    collections: list[str] = field(default_factory=list)
    deadlines: dict[str, type[Aggregate]] = field(default_factory=dict)  # collections the clock watches
    settings: type[Settings] = Settings


class Service:
    @classmethod
    def assemble(cls, spec: ServiceSpec, *registrations: Callable[[Service], None]) -> Service:
        """A service with its handlers registered."""
        service = cls(spec)
        for register in registrations:
            register(service)
        return service

    def __init__(self, spec: ServiceSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or spec.settings()
        setup_logging(spec.name, self.settings.log_level)
        self.tracer_provider = setup_tracing(spec.name, spec.version, self.settings)
        self.broker = make_broker(self.settings, spec.name, self.tracer_provider)
        self.messenger = Messenger(self.broker, self.settings, spec.name)
        self.mongo = connect(self.settings)
        self.db = self.mongo[self.settings.database(spec.name)]
        self.relay = OutboxRelay(self.db, spec.collections, self.messenger.publish, self.settings)
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.deadline_sweeps = 0
        self.source = f"urn:alliance:service:{spec.name}"

    # -- building blocks for handlers ------------------------------------------------------------

    def consumer(self, topic: str, group: str, *, intake: bool) -> EventConsumer:
        consumer = EventConsumer(self.messenger, topic, group, intake=intake)
        self.consumers.append(consumer)
        return consumer

    def store(self, collection: str) -> AggregateStore:
        if collection not in self.spec.collections:
            raise ValueError(f"collection {collection!r} is not declared in the service spec")
        return AggregateStore(self.db, collection, self.settings)

    def event(
        self, *, topic: str, key: str, event_id: str, data: EventData, markings: Markings, subject: str | None = None
    ) -> PendingEvent:
        """A fact to publish from the outbox, stamped with this service and the current trace."""
        return PendingEvent(
            topic=self.settings.topic(topic),
            key=key,
            event=CloudEvent(
                id=event_id,
                source=self.source,
                type=data.EVENT_TYPE,
                time=datetime.now(UTC),
                subject=subject or key,
                markings=markings,
                data=data.to_data(),
                traceparent=current_traceparent(),
            ),
        )

    async def save(self, store: AggregateStore, aggregate: Aggregate, topic: str | None = None) -> bool:
        """Store an aggregate with the events it produced (one update), then publish them at once.

        A new aggregate (version 0) is created unless it exists already — ids are deterministic, so a
        redelivered event that creates the same record changes nothing and this returns False. An
        existing one is updated under the record's lock and only if nobody changed it since it was
        loaded (:class:`ConcurrentUpdateError` otherwise).
        """
        if aggregate.version == 0:
            created = await store.create(
                aggregate.id, aggregate.state(), aggregate.markings, self._pending(aggregate, topic)
            )
            await self.relay.flush(store.name, aggregate.id)
            return created
        async with store.locked(aggregate.id):
            await self._update_held(store, aggregate, topic)
        return True

    def _pending(self, aggregate: Aggregate, topic: str | None) -> list[PendingEvent]:
        """Outbox entries for the aggregate's new events; ids derive from record id and version."""
        next_version = aggregate.version + 1
        return [
            self.event(
                topic=topic or self.spec.events_topic,
                key=aggregate.id,
                event_id=event_id(aggregate.id, e.EVENT_TYPE, f"{next_version}:{i}"),
                data=e,
                markings=aggregate.markings,
            )
            for i, e in enumerate(aggregate.pending_events)
        ]

    async def _update_held(self, store: AggregateStore, aggregate: Aggregate, topic: str | None) -> None:
        await store.update(
            aggregate.id, aggregate.version, aggregate.state(), self._pending(aggregate, topic), aggregate.markings
        )
        await self.relay.flush_held(store.name, aggregate.id)

    async def load(self, store: AggregateStore, kind: type[A], record_id: str) -> A | None:
        doc = await store.get(record_id)
        return kind.from_document(doc) if doc is not None else None

    async def change(
        self,
        store: AggregateStore,
        kind: type[A],
        record_id: str,
        apply: Callable[[A], object],
        *,
        cause: str | None = None,
        topic: str | None = None,
    ) -> A | None:
        """Load a record, apply a domain method, store the outcome; None if there is no such record.

        ``cause`` (the causing event's source|id) makes redelivery harmless: an aggregate that already
        applied it is returned unchanged. A concurrent writer makes this reload and decide again.
        """
        for _ in range(20):
            async with store.locked(record_id):
                aggregate = await self.load(store, kind, record_id)
                if aggregate is None or (cause is not None and aggregate.has_applied(cause)):
                    return aggregate
                before = aggregate.model_dump()
                apply(aggregate)
                if cause is not None:
                    aggregate.mark_applied(cause)
                elif not aggregate.pending_events and aggregate.model_dump() == before:
                    return aggregate  # nothing changed: nothing to store
                try:
                    await self._update_held(store, aggregate, topic)
                    return aggregate
                except ConcurrentUpdateError:
                    continue  # a writer that ignored the lock (lease expired): decide again
        raise ConcurrentUpdateError(f"{store.name} {record_id} kept changing under us")

    async def change_or_create(
        self,
        store: AggregateStore,
        kind: type[A],
        record_id: str,
        create: Callable[[], A],
        apply: Callable[[A], object],
        *,
        cause: str | None = None,
        topic: str | None = None,
    ) -> A:
        """Apply to an existing record, or to a new one made by ``create`` (safe when two race to create)."""
        for _ in range(5):
            existing = await self.change(store, kind, record_id, apply, cause=cause, topic=topic)
            if existing is not None:
                return existing
            record = create()
            apply(record)
            if cause is not None:
                record.mark_applied(cause)
            if await self.save(store, record, topic):
                return record
        raise ConcurrentUpdateError(f"{store.name} {record_id} could not be created or changed")

    # -- lifecycle --------------------------------------------------------------------------------

    def owned_topics(self) -> list[str]:
        topics = {self.settings.topic(t) for t in self.spec.publishes}
        topics |= {c.topic for c in self.consumers}
        topics.add(self.settings.topic(dead_letter_topic(self.spec.name)))
        return sorted(topics)

    async def _connect_and_subscribe(self) -> None:
        """Before the broker starts: wait for the store and Kafka, create topics, register subscribers."""
        s = self.settings
        await until_available(
            lambda: self.mongo.admin.command("ping"),
            what="store",
            initial=s.retry_initial_seconds,
            maximum=s.retry_max_seconds,
        )
        await ensure_topics(s, self.owned_topics())
        for consumer in self.consumers:
            consumer.subscribe()

    async def _start_background(self) -> None:
        self._tasks = [asyncio.create_task(self.relay.run_forever(), name="outbox-relay")]
        if self.spec.deadlines:
            self._tasks.append(asyncio.create_task(self._run_deadline_clock(), name="deadline-clock"))
        log.info(
            "service started",
            service=self.spec.name,
            version=self.spec.version,
            topics=self.owned_topics(),
            database=self.db.name,
        )

    async def escalate_due_deadlines(self) -> int:
        """One pass of the deadline clock; returns how many records raised escalations."""
        now = datetime.now(UTC)
        escalated = 0
        for collection, kind in self.spec.deadlines.items():
            store = self.store(collection)
            for record_id in await store.due_for_escalation(now):
                record = await self.change(store, kind, record_id, lambda a: a.escalate_deadlines(now, self.spec.name))
                escalated += record is not None
        self.deadline_sweeps += 1
        return escalated

    async def _run_deadline_clock(self) -> None:
        while True:
            try:
                await self.escalate_due_deadlines()
            except asyncio.CancelledError:
                raise
            except Exception:  # the clock must outlive any single failure
                log.exception("deadline clock pass failed")
            await asyncio.sleep(self.settings.deadline_scan_seconds)

    async def _stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.mongo.close()
        self.tracer_provider.shutdown()

    async def health(self) -> dict[str, Any]:
        kafka_ok = await self.broker.ping(timeout=2.0)
        try:
            await asyncio.wait_for(self.mongo.admin.command("ping"), timeout=2.0)
            store_ok = True
        except Exception:
            store_ok = False
        return {
            "service": self.spec.name,
            "version": self.spec.version,
            "status": "ok" if kafka_ok and store_ok else "degraded",
            "kafka": kafka_ok,
            "store": store_ok,
            "events_processed": sum(c.processed for c in self.consumers),
            "events_published": self.relay.published,
            "deadline_sweeps": self.deadline_sweeps,
        }

    def asyncapi_document(self) -> dict[str, Any]:
        receives: dict[str, list[type[EventData]]] = {c.topic: c.accepted_types() for c in self.consumers}
        sends = {self.settings.topic(t): models for t, models in self.spec.publishes.items()}
        return asyncapi.document(
            self.spec.name, self.spec.version, receives, sends, self.settings.kafka_bootstrap_servers
        )

    def asgi(self) -> AsgiFastStream:
        @get(include_in_schema=False)
        async def health(scope: Scope) -> AsgiResponse:
            report = await self.health()
            code = 200 if report["status"] == "ok" else 503
            return AsgiResponse(json.dumps(report).encode(), code, headers={"content-type": "application/json"})

        @get(include_in_schema=False)
        async def asyncapi_json(scope: Scope) -> AsgiResponse:
            body = json.dumps(self.asyncapi_document(), indent=2).encode()
            return AsgiResponse(body, 200, headers={"content-type": "application/json"})

        return AsgiFastStream(
            self.broker,
            asgi_routes=[("/health", health), ("/asyncapi.json", asyncapi_json)],
            logger=logging.getLogger(f"alliance.{self.spec.name}.app"),
            on_startup=[self._connect_and_subscribe],
            after_startup=[self._start_background],
            on_shutdown=[self._stop],
        )

    def run(self) -> None:
        app = self.asgi()
        port = self.settings.http_port or self.spec.default_http_port
        uvicorn.run(app, host=self.settings.http_host, port=port, log_config=None, access_log=False)


def entry_point(spec: ServiceSpec, *registrations: Callable[[Service], None]) -> Callable[[], None]:
    """The ``main`` of a service's console script: assemble it, then serve until stopped."""

    def main() -> None:
        Service.assemble(spec, *registrations).run()

    return main
