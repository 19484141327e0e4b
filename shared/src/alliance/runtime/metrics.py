"""Prometheus metrics of one service: FastStream's own Kafka metrics plus what operators of Alliance ask.

FastStream's ``KafkaPrometheusMiddleware`` measures messages received, processed, published, their
sizes and durations (``faststream_*``). Alliance adds (``alliance_*``): dead letters by reason,
refusals by event type, deadline escalations by kind, and at each scrape the outbox lag (age of the
oldest unpublished event), records per collection and consumer-group lag per topic. Scrape-time
figures read only the outbox's oldest entry, collection statistics and committed offsets: nothing
that grows with the data.

A service reports the lag of its own consumer groups, which says nothing once the service is stopped
or stuck -- exactly when lag matters. :class:`ConsumerLagCollector` therefore measures every Alliance
group of a namespace from outside the consumers (committed offsets against end offsets, as the
operators' principal); ``python -m alliance.runtime.lag_exporter`` serves it, and the metrics backend
scrapes it beside the services. Same metric, same labels: ``max by (group, topic)`` merges the two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pymongo.asynchronous.database import AsyncDatabase

from alliance.runtime.settings import Settings

# Why a record was refused, as a small fixed set of labels (the full reason is in the dead letter).
REASONS = (
    "invalid envelope",
    "undecodable Kafka record",
    "data does not match",
    "unknown event type",
    "rule violated",
    "limit exceeded",
    "processing failed",
    "not the intake topic",
    "ce_source",
    "ce_originator",
    "agency",
)


def reason_label(reason: str) -> str:
    return next((r for r in REASONS if reason.startswith(r)), "other")


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        labels = ["service"]
        self.dead_letters = Counter(
            "alliance_dead_letters", "Records dead-lettered, by reason", [*labels, "reason"], registry=self.registry
        )
        self.refusals = Counter(
            "alliance_refusals", "Events refused, by event type", [*labels, "event_type"], registry=self.registry
        )
        self.escalations = Counter(
            "alliance_deadline_escalations",
            "Deadline escalations raised, by kind and stage (approaching, breached)",
            [*labels, "kind", "stage"],
            registry=self.registry,
        )
        self.outbox_lag = Gauge(
            "alliance_outbox_lag_seconds", "Age of the oldest unpublished event", labels, registry=self.registry
        )
        self.records = Gauge(
            "alliance_records", "Records per collection (estimated)", [*labels, "collection"], registry=self.registry
        )
        self.consumer_lag = Gauge(
            "alliance_consumer_lag",
            "Records not yet committed by a consumer group, per topic",
            [*labels, "group", "topic"],
            registry=self.registry,
        )

    def refused(self, reason: str, event_type: str | None) -> None:
        self.dead_letters.labels(self.service, reason_label(reason)).inc()
        self.refusals.labels(self.service, (event_type or "unreadable")[:200]).inc()

    async def refresh(
        self, db: AsyncDatabase[Any], collections: list[str], settings: Settings, groups: dict[str, list[str]]
    ) -> None:
        """The scrape-time figures: outbox lag, records per collection, consumer lag."""
        oldest = await db["_outbox"].find_one({}, sort=[("created_at", 1)], projection={"created_at": 1})
        lag = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0
        self.outbox_lag.labels(self.service).set(max(lag, 0.0))
        for name in collections:
            self.records.labels(self.service, name).set(await db[name].estimated_document_count())
        await self._consumer_lag(settings, groups)

    async def _consumer_lag(self, settings: Settings, groups: dict[str, list[str]]) -> None:
        for (group, topic), count in (await consumer_lag(settings, groups)).items():
            self.consumer_lag.labels(self.service, group, topic).set(count)


async def consumer_lag(settings: Settings, groups: dict[str, list[str]] | None = None) -> dict[tuple[str, str], int]:
    """Records not yet committed, per (consumer group, topic); ``groups`` maps a group to the topics it reads.

    Without ``groups``: every Alliance group of the namespace, with the topics it has committed on.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_security())
    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_security())
    await admin.start()
    await probe.start()
    lag: dict[tuple[str, str], int] = {}
    try:
        if groups is None:
            prefix = settings.topic("alliance.")
            names = [g[0] for g in await admin.list_consumer_groups() if str(g[0]).startswith(prefix)]
            groups = {}
            for name in names:
                groups[name] = sorted({tp.topic for tp in await admin.list_consumer_group_offsets(name)})
        for group, topics in groups.items():
            if not topics:
                continue
            described = await admin.describe_topics(topics)
            partitions = [
                TopicPartition(t["topic"], p["partition"])
                for t in described
                if not t.get("error_code")
                for p in t["partitions"]
            ]
            if not partitions:
                continue
            ends = await probe.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group)
            for tp, end in ends.items():
                done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
                lag[(group, tp.topic)] = lag.get((group, tp.topic), 0) + max(end - done, 0)
    finally:
        await probe.stop()
        await admin.close()
    return lag


def group_service(settings: Settings, group: str) -> str:
    """The service a consumer group belongs to: ``[namespace.]alliance.<service>.<purpose>``."""
    parts = group.removeprefix(settings.topic("")).split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "alliance" else "unknown"


class ConsumerLagCollector(Collector):
    """``alliance_consumer_lag`` of every Alliance consumer group of the namespace, measured at each scrape.

    A scrape that cannot reach the broker fails (the scraper records ``up`` = 0) rather than report
    stale or zero figures.
    """

    def __init__(self, settings: Settings, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = asyncio.run(asyncio.wait_for(consumer_lag(self.settings), self.timeout))
        family = GaugeMetricFamily(
            "alliance_consumer_lag",
            "Records not yet committed by a consumer group, per topic",
            labels=["service", "group", "topic"],
        )
        for (group, topic), count in sorted(lag.items()):
            family.add_metric([group_service(self.settings, group), group, topic], count)
        yield family
