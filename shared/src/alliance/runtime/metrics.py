"""Prometheus metrics of one service: FastStream's own Kafka metrics plus what operators of Alliance ask.

FastStream's ``KafkaPrometheusMiddleware`` measures messages received, processed, published, their
sizes and durations (``faststream_*``). Alliance adds (``alliance_*``): dead letters by reason,
refusals by event type, deadline escalations by kind, registry changes applied and refused, and the
outbox lag (age of the oldest unpublished event), records per collection and consumer-group lag per
topic.

A scrape reads no data and sends nothing to the store or the broker: every figure is kept in memory
as it changes. Records per collection are counted where a record is first stored (the unique insert
of its head, :class:`alliance.runtime.store.AggregateStore`), on top of the store's own estimate read
once at start from its statistics (``$collStats`` count: PostgreSQL's ``reltuples`` under FerretDB,
never a read of the documents); the outbox lag is what the relay knows of the events it is publishing
and of what its last sweep left (:meth:`alliance.runtime.outbox.OutboxRelay.lag_seconds`).

Every label value comes from a closed vocabulary, never from what a sender wrote or from a record:
a refusal's reason is one of :data:`REASONS`, its event type one of the types the service handles,
a deadline kind one of the names the service's domain declares (a kind's ``:qualifier``, which may
hold dates and amounts, is dropped); anything else is counted as ``other``. The number of series is
therefore fixed by the code, whatever arrives.

Consumer lag is measured in the background every ``lag_refresh_seconds`` through one kept admin
connection (:class:`alliance.runtime.kafka_admin.KafkaAdmin`); a scrape only reads the last figures,
so scraping often costs the broker nothing.

A service reports the lag of its own consumer groups, which says nothing once the service is stopped
or stuck; the operators' exporter (:mod:`alliance.operator.lag`) measures every group from outside
with the same :func:`measure_consumer_lag`, under the same metric and labels.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from alliance.domain.deadlines import kind_name
from alliance.runtime.kafka_admin import KafkaAdmin

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


OTHER = "other"  # the label of anything outside a vocabulary
UNREADABLE = "unreadable"  # a refused record whose type could not be read at all


def reason_label(reason: str) -> str:
    return next((r for r in REASONS if reason.startswith(r)), OTHER)


def vocabulary_label(value: str | None, vocabulary: Collection[str]) -> str:
    return value if value is not None and value in vocabulary else OTHER


class ServiceMetrics:
    def __init__(self, service: str, event_types: Collection[str] = (), deadline_kinds: Collection[str] = ()) -> None:
        """``event_types``: the types the service handles; ``deadline_kinds``: its domain's deadline names."""
        self.service = service
        self.event_types = frozenset(event_types)
        self.deadline_kinds = frozenset(deadline_kinds)
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
            "alliance_records",
            "Records per collection: the store's estimate when this instance started, plus the records it stored since",
            [*labels, "collection"],
            registry=self.registry,
        )
        self.records_stored = Counter(
            "alliance_records_stored",
            "Records first stored by this instance, per collection (exact; sum over instances)",
            [*labels, "collection"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "alliance_consumer_lag",
            "Records not yet committed by a consumer group, per topic",
            [*labels, "group", "topic"],
            registry=self.registry,
        )
        self.consumer_lag_age = Gauge(
            "alliance_consumer_lag_age_seconds",
            "How long ago alliance_consumer_lag was measured (measured in the background, not per scrape)",
            labels,
            registry=self.registry,
        )
        self.registry_changes = Counter(
            "alliance_registry_changes",
            "Registry changes read from the registry topic, by outcome (applied, refused)",
            [*labels, "outcome"],
            registry=self.registry,
        )
        self.parked_deliveries = Counter(
            "alliance_parked_deliveries",
            "Deliveries parked because the agency's delivery topic did not exist, and delivered later",
            [*labels, "outcome"],
            registry=self.registry,
        )
        self._lag_measured: float | None = None  # monotonic time of the last measurement
        self._stored: dict[str, int] = {}  # records first stored by this instance, per collection

    def refused(self, reason: str, event_type: str | None) -> None:
        self.dead_letters.labels(self.service, reason_label(reason)).inc()
        label = UNREADABLE if event_type is None else vocabulary_label(event_type, self.event_types)
        self.refusals.labels(self.service, label).inc()

    def escalated(self, kind: str, stage: str) -> None:
        """A deadline escalation: counted by the kind's name alone (``name:qualifier`` keeps ``name``)."""
        self.escalations.labels(self.service, vocabulary_label(kind_name(kind), self.deadline_kinds), stage).inc()

    def records_at_start(self, estimates: Mapping[str, int]) -> None:
        """The store's estimate of each collection's records when the service started (from its statistics)."""
        for name, estimate in estimates.items():
            # PostgreSQL says -1 for a table never analysed (new, or too small for autovacuum to look yet).
            self.records.labels(self.service, name).set(max(estimate, 0) + self._stored.get(name, 0))
            self.records_stored.labels(self.service, name)  # the series exists from the start, at 0

    def stored(self, collection: str, count: int = 1) -> None:
        """``count`` records of ``collection`` were stored for the first time (their head inserted)."""
        self._stored[collection] = self._stored.get(collection, 0) + count
        self.records_stored.labels(self.service, collection).inc(count)
        self.records.labels(self.service, collection).inc(count)

    def refresh(self, outbox_lag: float) -> None:
        """The scrape-time figures, all from memory: the relay's outbox lag and the age of the consumer lag
        (measured by :meth:`measure_lag`, in the background). Records are counted as they are stored."""
        self.outbox_lag.labels(self.service).set(max(outbox_lag, 0.0))
        if self._lag_measured is not None:
            self.consumer_lag_age.labels(self.service).set(time.monotonic() - self._lag_measured)

    async def measure_lag(self, kafka: KafkaAdmin, groups: dict[str, list[str]]) -> None:
        """Measure the consumer lag of ``groups`` through the kept connection, for the next scrapes."""
        for (group, topic), count in (await measure_consumer_lag(kafka, groups)).items():
            self.consumer_lag.labels(self.service, group, topic).set(count)
        self._lag_measured = time.monotonic()


async def measure_consumer_lag(
    kafka: KafkaAdmin, groups: dict[str, list[str]] | None = None
) -> dict[tuple[str, str], int]:
    """Records not yet committed, per (consumer group, topic); ``groups`` maps a group to the topics it reads.

    Without ``groups``: every Alliance group of the namespace, with the topics it has committed on.
    A failure closes the connection (the next measurement opens it again) and is raised.
    """
    settings = kafka.settings
    lag: dict[tuple[str, str], int] = {}
    try:
        admin = await kafka.admin()
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
            ends = await kafka.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group)
            for tp, end in ends.items():
                done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
                lag[(group, tp.topic)] = lag.get((group, tp.topic), 0) + max(end - done, 0)
    except BaseException:
        await kafka.reset()
        raise
    return lag
