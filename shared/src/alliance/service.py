"""Assembly of one domain service: broker, store, outbox relay, telemetry, health and AsyncAPI.

A service module declares its topics and collections in a :class:`ServiceSpec`, registers handlers
on :meth:`Service.consumer`, and exposes ``app = service.asgi()``; ``main()`` runs it with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope

from alliance import asyncapi
from alliance.aggregate import Aggregate
from alliance.contracts.base import EventData
from alliance.envelope import CloudEvent
from alliance.errors import DomainRuleViolation
from alliance.ids import event_id
from alliance.limits import DEAD_LETTER_MAX_BYTES
from alliance.markings import Markings
from alliance.messaging import EventConsumer, Messenger, Received, cause_time, ensure_topics, make_broker
from alliance.outbox import OutboxRelay
from alliance.retry import is_transient, waiting
from alliance.settings import Settings, dead_letter_topic
from alliance.store import (
    CLOCK,
    DEADLINES,
    AggregateStore,
    Commit,
    ConcurrentUpdateError,
    PendingEvent,
    StoreMeter,
    check_publishable,
    connect,
    due_bucket,
    ensure_service_indexes,
)
from alliance.telemetry import current_traceparent, in_trace, setup_logging, setup_tracing

log = structlog.get_logger(__name__)

DEADLINE_BATCH = 500  # due records escalated per clock pass; the next pass takes the rest


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
    indexes: dict[str, list[str]] = field(default_factory=dict)  # fields the store's queries look up
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
        self.store_meter = StoreMeter()
        self.mongo = connect(self.settings, self.store_meter)
        self.db = self.mongo[self.settings.database(spec.name)]
        self.relay = OutboxRelay(self.db, self.messenger.publish, self.settings)
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.deadline_sweeps = 0
        self.deadline_failures = 0
        self._deadlines = self.db[DEADLINES]
        self._clock = self.db[CLOCK]
        self._clock_minute: datetime | None = None
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
                time=cause_time.get() or datetime.now(UTC),  # a fact happens when its cause did
                subject=subject or key,
                markings=markings,
                data=data.to_data(),
                traceparent=current_traceparent(),
            ),
        )

    async def save(self, store: AggregateStore, aggregate: Aggregate, topic: str | None = None) -> bool:
        """Commit an aggregate's next version with the events it produced, then publish them at once.

        A new aggregate (version 0) is created unless it exists already — ids are deterministic, so a
        redelivered event that creates the same record changes nothing and this returns False. An
        existing one is committed only if nobody committed its next version since it was loaded
        (:class:`ConcurrentUpdateError` otherwise).
        """
        try:
            await self._commit(store, aggregate, topic)
        except ConcurrentUpdateError:
            if aggregate.version == 0:
                return False
            raise
        return True

    async def _commit(
        self, store: AggregateStore, aggregate: Aggregate, topic: str | None, previous_deadline: datetime | None = None
    ) -> None:
        aggregate.trace_deadlines(current_traceparent())
        events = self._pending(aggregate, topic)
        check_publishable(events)
        version = aggregate.version + 1
        await store.commit(
            Commit(
                record_id=aggregate.id,
                version=version,
                state=aggregate.state(),
                markings=aggregate.markings,
                events=events,
                next_deadline_at=aggregate.next_deadline_at(),
                previous_deadline_at=previous_deadline,
                deadline_traceparent=aggregate.next_deadline_trace(),
            )
        )
        aggregate.version = version
        if events:
            await self.relay.flush(store.name, aggregate.id, version, events)

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
        """Load a record, apply a domain method, commit the outcome; None if there is no such record.

        ``cause`` (the causing event's source|id) makes redelivery harmless: an aggregate that already
        applied it is returned unchanged. A concurrent writer makes this reload and decide again.
        """
        for _ in range(50):
            aggregate = await self.load(store, kind, record_id)
            if aggregate is None or (cause is not None and aggregate.has_applied(cause)):
                return aggregate
            before = aggregate.model_dump()
            previous_deadline = aggregate.next_deadline_at()
            apply(aggregate)
            if cause is not None:
                aggregate.mark_applied(cause)
            elif not aggregate.pending_events and aggregate.model_dump() == before:
                return aggregate  # nothing changed: nothing to store
            try:
                await self._commit(store, aggregate, topic, previous_deadline)
                return aggregate
            except ConcurrentUpdateError:
                await asyncio.sleep(random.random() * 0.01)  # another writer won this version: decide again
        raise ConcurrentUpdateError(f"{store.name} {record_id} kept changing under us")

    async def apply(
        self,
        store: AggregateStore,
        kind: type[A],
        record_id: str,
        received: Received[Any],
        method: Callable[[A], object],
        *,
        missing: str | None = None,
        topic: str | None = None,
    ) -> A:
        """The received event changes an existing record: the one way a cause reaches a record.

        Idempotent by the causing event (a redelivery changes nothing), absorbs the cause's markings
        before the domain method runs (so nothing derived from it can be weaker than it), and refuses
        the event with a clear reason when the record does not exist.
        """

        def step(aggregate: A) -> None:
            aggregate.absorb_markings(received.event.markings)
            method(aggregate)

        record = await self.change(store, kind, record_id, step, cause=received.cause, topic=topic)
        if record is None:
            raise DomainRuleViolation(missing or f"no {kind.RECORD_TYPE} {record_id}")
        return record

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
        await waiting(s, "store", lambda: self.mongo.admin.command("ping"))
        await ensure_service_indexes(self.db, s)
        for collection, fields in self.spec.indexes.items():
            await self.store(collection).ensure_indexes(fields)
        dead_letters = self.settings.topic(dead_letter_topic(self.spec.name))
        await ensure_topics(s, self.owned_topics(), {dead_letters: {"max.message.bytes": str(DEAD_LETTER_MAX_BYTES)}})
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
        """One pass of the deadline clock; returns how many records raised escalations.

        Reads only ``_deadlines`` entries that are due (indexed by time), never the records. Each
        record is escalated on its own: one that cannot be loaded or escalated is logged, counted
        and postponed, and the others go on.
        """
        moment = datetime.now(UTC)
        escalated = 0
        for entry in await self._due_deadlines(moment):
            collection, record_id = entry["collection"], entry["record"]
            kind = self.spec.deadlines.get(collection)
            try:
                if kind is None:
                    raise LookupError(f"no deadline kind for collection {collection!r}")
                store = self.store(collection)
                with in_trace(entry.get("traceparent"), f"deadline {collection}"):
                    record = await self.change(
                        store, kind, record_id, lambda a: a.escalate_deadlines(moment, self.spec.name)
                    )
                if record is None:
                    await self._deadlines.delete_one({"_id": entry["_id"], "version": entry.get("version")})
                escalated += record is not None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise  # an outage: this pass ends, the next one retries
                self.deadline_failures += 1
                log.exception("deadline escalation failed; postponed", collection=collection, record_id=record_id)
                later = moment + timedelta(minutes=1)
                await self._deadlines.update_one(
                    {"_id": entry["_id"]}, {"$set": {"due_at": later, "bucket": due_bucket(later)}}
                )
        self.deadline_sweeps += 1
        return escalated

    async def _due_deadlines(self, moment: datetime) -> list[dict[str, Any]]:
        """Deadline entries due by ``moment``: the minute buckets since the last pass, each by equality.

        The clock restarts two minutes before the last minute it looked at (persisted in ``_clock``),
        so an entry written while a pass ran, or by another instance, is never left behind.
        """
        if self._clock_minute is None:
            stored = await self._retry("clock", lambda: self._clock.find_one({"_id": "watermark"}))
            if stored is None:
                # First pass ever on this database: one full look, then minute buckets from here on.
                async def everything() -> list[dict[str, Any]]:
                    return [doc async for doc in self._deadlines.find({"due_at": {"$lte": moment}})]

                due_now: list[dict[str, Any]] = await self._retry("due deadlines", everything)
                await self._retry(
                    "clock", lambda: self._clock.replace_one({"_id": "watermark"}, {"minute": moment}, upsert=True)
                )
                self._clock_minute = moment
                return due_now
            self._clock_minute = stored["minute"]
        assert self._clock_minute is not None
        same_minute = due_bucket(self._clock_minute) == due_bucket(moment)
        # Within the minute of the last pass, the minute before it covers a writer's clock skew; a new
        # minute looks two minutes behind the watermark (an entry is never bucketed before its write).
        start = min(self._clock_minute, moment) - timedelta(minutes=1 if same_minute else 2)
        minutes = int((moment - start).total_seconds() // 60) + 1
        due: list[dict[str, Any]] = []
        for step in range(minutes):
            bucket = due_bucket(start + timedelta(minutes=step))

            async def run(b: str = bucket) -> list[dict[str, Any]]:
                return [doc async for doc in self._deadlines.find({"bucket": b}, limit=DEADLINE_BATCH)]

            due.extend(e for e in await self._retry("due deadlines", run) if e["due_at"] <= moment)
            if len(due) >= DEADLINE_BATCH:
                return due  # the rest on the next pass, from the same watermark
        self._clock_minute = moment
        if not same_minute:  # stored once a minute: a restart resumes from here
            await self._retry(
                "clock",
                lambda: self._clock.replace_one({"_id": "watermark"}, {"minute": moment}, upsert=True),
            )
        return due

    async def _retry(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await waiting(self.settings, what, op)

    async def _run_deadline_clock(self) -> None:
        while True:
            try:
                await self.escalate_due_deadlines()
            except asyncio.CancelledError:
                raise
            except Exception:  # the clock must outlive any single failure
                log.exception("deadline clock pass failed")
            await asyncio.sleep(self.settings.deadline_scan_seconds)

    async def _stop_background(self) -> None:
        """First step of a graceful stop (SIGTERM): no new work starts; in-flight work may finish.

        Consumers then stop taking records and the broker waits up to ``shutdown_grace_seconds``
        for handlers in flight; one still failing then is released (not committed, redelivered),
        never dead-lettered. Only after that are the store and producers closed.
        """
        for consumer in self.consumers:
            consumer.stopping = True
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info("service stopping", service=self.spec.name)

    async def _close(self) -> None:
        await self.messenger.close()
        await self.mongo.close()
        self.tracer_provider.shutdown()
        log.info("service stopped", service=self.spec.name)

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
            "deadline_failures": self.deadline_failures,
            "outbox_failures": self.relay.failures,
            "events_refused": sum(c.refused for c in self.consumers),
            "store_operations": self.store_meter.commands,
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
            on_shutdown=[self._stop_background],
            after_shutdown=[self._close],
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
