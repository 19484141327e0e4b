"""Assembly of one domain service: broker, store, outbox relay, telemetry, health and AsyncAPI.

A service declares a :class:`ServiceSpec`: its topics, its published language, its table of routes
and the dataclass of its handlers' dependencies. ``entry_point(SPEC)`` is the console script.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import structlog
import uvicorn
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alliance.application.handling import Handler, Received, RegistryView, Route, inject
from alliance.application.repository import FactOutlet, Repository
from alliance.contracts.base import EventData, Fact
from alliance.contracts.common import EventRejected
from alliance.contracts.disclosure import DeliveryWithdrawn, ReleaseDecided
from alliance.contracts.operations import DeadLetterReplayRequested
from alliance.contracts.registry import Agency
from alliance.contracts.topics import (
    AUDIT_TOPIC,
    REPLAY_REQUESTS_TOPIC,
    dead_letter_topic,
    delivery_topic,
    intake_topic,
    reply_topic_for,
)
from alliance.domain.aggregate import RELEASED_TO
from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.runtime import asyncapi
from alliance.runtime.deadline_clock import DeadlineClock
from alliance.runtime.deliveries import Deliveries
from alliance.runtime.disclosure import RegistryRecheck
from alliance.runtime.kafka_admin import KafkaAdmin
from alliance.runtime.messaging import EventConsumer, Messenger, check_kafka_credentials, ensure_topics, make_broker
from alliance.runtime.metrics import ServiceMetrics
from alliance.runtime.outbox import OutboxRelay
from alliance.runtime.registry import RegistryFollower
from alliance.runtime.replays import ReplayDesk
from alliance.runtime.retry import waiting
from alliance.runtime.settings import Settings
from alliance.runtime.store import (
    AggregateStore,
    StoreMeter,
    check_store_login,
    connect,
    ensure_service_indexes,
)
from alliance.runtime.telemetry import current_traceparent, setup_logging, setup_tracing

log = structlog.get_logger(__name__)


R = TypeVar("R", bound=Repository[Any])
D = TypeVar("D")


@dataclass
class ServiceSpec:
    """A service: its name and port, its events topic, its published language, and its handlers.

    What it publishes is derived: every fact type of its ``contracts`` module (the published
    language of its domain), plus the deadline escalations when one of its repositories has
    deadlines. Its collections and indexes come from the repositories its handlers depend on.
    """

    name: str
    version: str
    default_http_port: int
    events_topic: str
    contracts: ModuleType
    routes: Sequence[Route[Any]]
    dependencies: type[Any]
    settings: type[Settings] = Settings
    deadline_kinds: tuple[str, ...] = ()  # the names of its domain's deadline kinds (metrics labels)

    @property
    def repositories(self) -> list[type[Repository[Any]]]:
        hints = typing.get_type_hints(self.dependencies)
        return [t for t in hints.values() if isinstance(t, type) and issubclass(t, Repository)]

    @property
    def publishes(self) -> dict[str, list[type[EventData]]]:
        facts = published_facts(self.contracts)
        if any(r.deadlines for r in self.repositories):
            facts += [DeadlineApproaching, DeadlineBreached]
        return {self.events_topic: facts}


def service_metrics(spec: ServiceSpec) -> ServiceMetrics:
    """A service's metrics, labelled only from its vocabulary: the types it handles, its deadline kinds."""
    return ServiceMetrics(
        spec.name, event_types={r.event.EVENT_TYPE for r in spec.routes}, deadline_kinds=spec.deadline_kinds
    )


def published_facts(contracts: ModuleType) -> list[type[EventData]]:
    """The fact types a domain's contracts module defines (its published language), in source order."""
    return [
        value
        for value in vars(contracts).values()
        if isinstance(value, type)
        and issubclass(value, Fact)
        and value.__module__ == contracts.__name__
        and "EVENT_TYPE" in vars(value)
    ]


class Service:
    @classmethod
    def assemble(cls, spec: ServiceSpec) -> Service:
        """A service with its routes mounted."""
        service = cls(spec)
        service.mount(spec.routes, spec.dependencies)
        return service

    def __init__(self, spec: ServiceSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.settings = settings or spec.settings()
        setup_logging(spec.name, self.settings.log_level)
        self.tracer_provider = setup_tracing(spec.name, spec.version, self.settings)
        self.metrics = service_metrics(spec)
        self.kafka_admin = KafkaAdmin(self.settings, client_id=f"alliance-{spec.name}-admin")
        self.broker = make_broker(self.settings, spec.name, self.tracer_provider, self.metrics)
        self.messenger = Messenger(
            self.broker, self.settings, spec.name, self.metrics, registry=lambda: self.registry.registry
        )
        self.store_meter = StoreMeter()
        self.mongo = connect(self.settings, self.store_meter)
        self.db = self.mongo[self.settings.database(spec.name)]
        self.relay = OutboxRelay(self.db, self.messenger.publish, self.settings)
        self.deliveries = Deliveries(self.db, self.settings, self.kafka_admin, self.metrics)
        self.source = f"urn:alliance:service:{spec.name}"
        self.registry = RegistryFollower(self.settings, self.db, self.metrics)
        self.outlet = FactOutlet(
            self.source,
            spec.events_topic,
            topic_name=self.settings.topic,
            flush=self.relay.flush,
            traceparent=current_traceparent,
            registry=lambda: self.registry.registry,
            service=spec.name,
        )
        self._repositories: dict[type[Repository[Any]], Repository[Any]] = {}
        self.replays = ReplayDesk(self.messenger, self.db, lambda: [c for c in self.consumers if c.intake])
        self.recheck = RegistryRecheck(
            self.db,
            lambda: [self.repository(kind) for kind in spec.repositories],
            lambda: self.registry.registry,
            self.settings,
        )
        self.consumers: list[EventConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.clock = DeadlineClock(
            self.db,
            lambda: {collection: self.repository(kind) for collection, kind in self._deadline_kinds().items()},
            self.relay.publish_all,
            self.settings,
            spec.name,
        )

    # -- building blocks for handlers ------------------------------------------------------------

    def consumer(self, topic: str, group: str, *, intake: bool) -> EventConsumer:
        """The subscription to ``topic`` by ``group`` (one per pair, shared by its routes)."""
        for existing in self.consumers:
            if existing.topic == self.settings.topic(topic) and existing.group == self.settings.group(
                self.spec.name, group
            ):
                return existing
        consumer = EventConsumer(self.messenger, topic, group, intake=intake, registry=self.registry)
        consumer.publish_committed = self.relay.publish_all
        self.consumers.append(consumer)
        return consumer

    def repository(self, kind: type[R]) -> R:
        """The repository of one aggregate kind over this service's database."""
        if kind not in self._repositories:
            store = AggregateStore(self.db, kind.collection, self.settings, kind.catalogue, self.metrics.stored)
            self._repositories[kind] = kind(store, self.outlet)
        repository = self._repositories[kind]
        assert isinstance(repository, kind)
        return repository

    def _provide(self, wanted: type[Any]) -> object:
        if isinstance(wanted, type) and issubclass(wanted, Repository):
            return self.repository(wanted)
        if wanted is RegistryView:
            return RegistryView(lambda: self.registry.registry)
        if isinstance(wanted, type) and isinstance(self.settings, wanted):
            return self.settings
        raise TypeError(f"{self.spec.name} cannot provide {wanted!r} to its handlers")

    def mount(self, routes: Sequence[Route[D]], dependencies: type[D]) -> D:
        """Subscribe each route's handler, called with the dependencies (repositories, settings), and the
        operators' replay requests for this service's dead letters."""
        deps = inject(dependencies, self._provide)
        requests = self.consumer(REPLAY_REQUESTS_TOPIC, "replays", intake=False)
        requests.on(DeadLetterReplayRequested)(self.replays.handle)
        for route in routes:
            consumer = self.consumer(route.topic, route.group, intake=route.intake)
            if route.event.EVENT_TYPE in consumer.handlers:
                raise ValueError(f"two routes for {route.event.EVENT_TYPE} on {route.topic} ({route.group})")
            consumer.on(route.event)(functools.partial(_call, route.handler, deps))
        return deps

    # -- lifecycle --------------------------------------------------------------------------------

    def owned_topics(self) -> list[str]:
        """Its events topic, its dead letters, and the intake topics of the agencies that send to it."""
        topics = {self.settings.topic(t) for t in self.spec.publishes}
        topics |= {t for c in self.consumers if c.intake for t in c.topics()}
        topics.add(self.settings.topic(dead_letter_topic(self.spec.name)))
        return sorted(topics)

    async def _connect_and_subscribe(self) -> None:
        """Before the broker starts: wait for the store and Kafka, create topics, register subscribers."""
        s = self.settings
        await check_kafka_credentials(s)  # a wrong password is a configuration error: stop at once
        await check_store_login(self.mongo, s)  # likewise for the store's
        await waiting(s, "store", lambda: self.mongo.admin.command("ping"))
        await ensure_service_indexes(self.db, s)
        estimates = {}
        for kind in self.spec.repositories:
            store = AggregateStore(self.db, kind.collection, s, kind.catalogue)
            await store.ensure_indexes([*kind.indexes, RELEASED_TO])
            estimates[kind.collection] = await store.estimated_count()  # from statistics: nothing is read
        self.metrics.records_at_start(estimates)  # /metrics counts on from here, as records are stored
        await waiting(s, "agency registry", self.registry.load)
        self.registry.follow()  # from here on: /health says whether it follows, also while consumers start
        if not self.deliveries.started:
            await self.deliveries.start(self.messenger.deliver)
            self.messenger.deliver = self.deliveries.deliver  # a missing delivery topic parks, never blocks
        await ensure_topics(s, self.owned_topics())  # dead letters, events and intake, each by its class
        for consumer in self.consumers:
            consumer.subscribe()

    def _agency_registered(self, agency: Agency) -> None:
        """A registry change: subscribe the intake topic of an agency that may now send to this service."""
        for consumer in self.consumers:
            if consumer.intake and consumer.domain and agency.sends_to(consumer.domain):
                self._tasks.append(asyncio.create_task(self._subscribe_new(consumer), name=f"intake {agency.id}"))

    async def _subscribe_new(self, consumer: EventConsumer) -> None:
        await ensure_topics(self.settings, consumer.topics())
        for subscriber in consumer.subscribe():
            await subscriber.start()

    async def _start_background(self) -> None:
        self._tasks = [
            asyncio.create_task(self.relay.run_forever(), name="outbox-relay"),
            asyncio.create_task(self.deliveries.run_forever(), name="parked-deliveries"),
            asyncio.create_task(self._run_lag_measurement(), name="consumer-lag"),
        ]
        self.registry.listeners.append(self._agency_registered)
        self.registry.listeners.append(self.recheck.registry_changed)
        self._tasks.append(asyncio.create_task(self.recheck.run_forever(), name="registry-recheck"))
        for consumer in self.consumers:  # agencies registered while the consumers started
            if consumer.intake and {t[len(consumer.topic) + 1 :] for t in consumer.topics()} - consumer.agencies:
                self._tasks.append(asyncio.create_task(self._subscribe_new(consumer), name="intake catch-up"))
        if self._deadline_kinds():
            self._tasks.append(asyncio.create_task(self.clock.run_forever(), name="deadline-clock"))
        log.info(
            "service started",
            service=self.spec.name,
            version=self.spec.version,
            topics=self.owned_topics(),
            database=self.db.name,
        )

    def _deadline_kinds(self) -> dict[str, type[Repository[Any]]]:
        return {r.collection: r for r in self.spec.repositories if r.deadlines}

    async def _run_lag_measurement(self) -> None:
        """Consumer lag for ``/metrics``, measured every ``lag_refresh_seconds`` on one kept connection."""
        while True:
            try:
                await self.metrics.measure_lag(self.kafka_admin, {c.group: c.topics() for c in self.consumers})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # reported as the age of the last figures; tried again later
                log.warning("consumer lag not measured", error=f"{type(exc).__name__}: {exc}"[:300])
            await asyncio.sleep(self.settings.lag_refresh_seconds)

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
        await self.registry.close()
        await self.kafka_admin.close()
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
        registry_ok = self.registry.healthy()
        return {
            "service": self.spec.name,
            "version": self.spec.version,
            "status": "ok" if kafka_ok and store_ok and registry_ok else "degraded",
            "kafka": kafka_ok,
            "store": store_ok,
            "events_processed": sum(c.processed for c in self.consumers),
            "events_published": self.relay.published,
            "deadline_sweeps": self.clock.sweeps,
            "deadline_failures": self.clock.failures,
            "outbox_failures": self.relay.failures,
            "events_refused": sum(c.refused for c in self.consumers),
            "registry_version": self.registry.registry.version,
            "registry_rechecks": self.recheck.passes,
            "registry": self.registry.status(),
            "deliveries_parked": self.deliveries.parked,
            "deliveries_delivered_late": self.deliveries.delivered_late,
            "deliveries_waiting_for_topic": sorted(self.deliveries.agency(t) for t in self.deliveries.waiting),
            "intake_agencies": sorted({a for c in self.consumers for a in c.agencies}),
            "store_operations": self.store_meter.commands,
            "store_operations_by_target": dict(self.store_meter.by_target.most_common()),
        }

    def asyncapi_document(self) -> dict[str, Any]:
        return asyncapi_document(self.spec, self.settings)

    def asgi(self) -> AsgiFastStream:
        @get(include_in_schema=False)
        async def health(scope: Scope) -> AsgiResponse:
            report = await self.health()
            code = 200 if report["status"] == "ok" else 503
            return AsgiResponse(json.dumps(report).encode(), code, headers={"content-type": "application/json"})

        @get(include_in_schema=False)
        async def metrics(scope: Scope) -> AsgiResponse:
            self.metrics.refresh(self.relay.lag_seconds())  # from memory: a scrape sends nothing anywhere
            return AsgiResponse(
                generate_latest(self.metrics.registry), 200, headers={"content-type": CONTENT_TYPE_LATEST}
            )

        @get(include_in_schema=False)
        async def asyncapi_json(scope: Scope) -> AsgiResponse:
            body = json.dumps(self.asyncapi_document(), indent=2).encode()
            return AsgiResponse(body, 200, headers={"content-type": "application/json"})

        return AsgiFastStream(
            self.broker,
            asgi_routes=[("/health", health), ("/metrics", metrics), ("/asyncapi.json", asyncapi_json)],
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


def asyncapi_document(spec: ServiceSpec, settings: Settings) -> dict[str, Any]:
    """What a service receives (each agency on its own intake topic) and sends (facts, deliveries, audit,
    rejections), from its spec alone: the running service serves it, the contract gate exports it."""
    receives: dict[str, list[type[EventData]]] = {}
    for route in spec.routes:
        topic = settings.topic(route.topic)
        receives.setdefault(intake_topic(topic, "{agency}") if route.intake else topic, []).append(route.event)
    sends = {settings.topic(t): models for t, models in spec.publishes.items()}
    facts = [m for models in spec.publishes.values() for m in models]
    sends[settings.topic(delivery_topic("{agency}"))] = [*facts, DeliveryWithdrawn]
    sends[settings.topic(AUDIT_TOPIC)] = [ReleaseDecided]
    if any(route.intake for route in spec.routes):
        sends[settings.topic(reply_topic_for("{agency}"))] = [EventRejected]
    return asyncapi.document(spec.name, spec.version, receives, sends, settings.kafka_bootstrap_servers)


def entry_point(spec: ServiceSpec) -> Callable[[], None]:
    """The ``main`` of a service's console script: assemble it, then serve until stopped."""

    def main() -> None:
        Service.assemble(spec).run()

    return main


async def _call(handler: Handler[D], deps: D, received: Received[Any]) -> None:
    await handler(received, deps)
