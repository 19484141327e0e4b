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
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import SASLScram512
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError
from pymongo.errors import DuplicateKeyError, OperationFailure

from alliance.application.handling import Received, Sender
from alliance.application.records import PendingEvent
from alliance.application.repository import cause_time
from alliance.contracts.base import EventData
from alliance.contracts.common import EventRejected, FieldError, RecordPosition
from alliance.contracts.disclosure import RecipientDecision, Release, ReleaseDecided
from alliance.contracts.envelope import CloudEvent, EnvelopeError, headers_to_dict, parse_record
from alliance.contracts.limits import (
    DEAD_LETTER_MAX_BYTES,
    MAX_ERROR_CHARS,
    MAX_REASON_CHARS,
    MAX_REJECTION_ERRORS,
    LimitExceeded,
)
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.registry import Agency, Registry
from alliance.contracts.topics import (
    AUDIT_TOPIC,
    DELIVERIES_PREFIX,
    dead_letter_topic,
    delivery_topic,
    intake_topic,
    reply_topic_for,
)
from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached
from alliance.domain.errors import DomainRuleViolation, RecordNotYetKnown
from alliance.domain.release import reconfirmed
from alliance.runtime import kafka_records
from alliance.runtime.batches import Publication, batch, each_group, group_in_order, handling_record
from alliance.runtime.metrics import ServiceMetrics, reason_label
from alliance.runtime.registry import RegistryFollower
from alliance.runtime.retry import is_transient, waiting
from alliance.runtime.settings import Settings
from alliance.runtime.store import apply_committed
from alliance.runtime.telemetry import consuming, describe, failed, publishing, refused, released, traced_headers

log = structlog.get_logger(__name__)
D = TypeVar("D", bound=EventData)


def make_broker(
    settings: Settings, service: str, tracer_provider: TracerProvider | None, metrics: ServiceMetrics | None = None
) -> KafkaBroker:
    kafka_records.install()  # an undecodable record becomes one dead letter instead of a wedged partition
    # No FastStream telemetry middleware: it made two spans per record sent (every delivery copy and
    # audit record too) and one per record read, handled or not. Spans are made where events are handled
    # and facts published (alliance.runtime.telemetry.consuming and .publishing).
    middlewares: list[Any] = []
    if metrics is not None:  # FastStream's own Kafka metrics (received, processed, published, durations)
        middlewares.append(KafkaPrometheusMiddleware(registry=metrics.registry, app_name=service))
    security = (
        SASLScram512(
            username=settings.kafka_username,
            password=settings.kafka_password.get_secret_value(),
            ssl_context=settings.kafka_ssl_context(),  # SASL_SSL when set
        )
        if settings.kafka_username and settings.kafka_password
        else None
    )
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=security,
        metadata_max_age_ms=30_000,
        client_id=f"alliance-{service}",
        enable_idempotence=True,  # acks=all, no duplicates from producer retries
        graceful_timeout=settings.shutdown_grace_seconds,  # SIGTERM: handlers in flight may finish
        middlewares=middlewares,
        logger=logging.getLogger(f"alliance.{service}.faststream"),  # JSON via our root handler
    )


async def ensure_topics(settings: Settings, topics: list[str]) -> None:
    """Create the topics a service owns (idempotent); waits while the broker is unreachable.

    Each gets the partitions, replication and configs of its class (``Settings.topic_spec``).
    ``create_topics`` reports failures per topic in its response instead of raising: each is checked,
    and any error other than "already exists" (another instance was faster) is raised.
    """

    def new_topic(name: str) -> NewTopic:
        spec = settings.topic_spec(name)
        return NewTopic(name, spec.partitions, spec.replication, topic_configs=spec.configs)

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_security())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t not in existing]
            if missing:
                response = await admin.create_topics([new_topic(t) for t in missing])
                for topic, code, *rest in response.topic_errors:
                    if code not in (0, TopicAlreadyExistsError.errno):
                        message = rest[0] if rest else ""
                        raise TopicCreationError(f"cannot create topic {topic}: error {code} {message}")
        finally:
            await admin.close()

    await waiting(settings, "kafka topics", create)


ESCALATIONS = frozenset({DeadlineApproaching.EVENT_TYPE, DeadlineBreached.EVENT_TYPE})

# The audit stream is readable by operators only (ACL); its records hold ids and decisions, no content.
AUDIT_MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("alliance",))


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic (not authorised, bad configuration…)."""


class KafkaCredentialsError(RuntimeError):
    """Kafka refused this service's principal: a configuration error, reported at once, never waited out."""


async def check_kafka_credentials(settings: Settings) -> None:
    """Fail fast on a wrong principal or password (aiokafka would report it as "unable to bootstrap").

    A broker that cannot be reached is not an error here: the start-up steps wait for it.
    """
    if not settings.kafka_username:
        return
    host, _, port = settings.kafka_bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        conn = await create_conn(host, int(port), request_timeout_ms=5000, **settings.kafka_security())
    except (SaslAuthenticationFailed, AuthenticationFailedError, AuthenticationMethodNotSupported) as exc:
        raise KafkaCredentialsError(
            f"Kafka refused principal {settings.kafka_username!r}: {type(exc).__name__}; check "
            "ALLIANCE_KAFKA_USERNAME and ALLIANCE_KAFKA_PASSWORD"
        ) from None
    except (TimeoutError, OSError, KafkaError):
        return
    conn.close()


Handler = Callable[[Received[Any]], Awaitable[None]]


class Messenger:
    """Publishes events for one service: facts from the outbox, dead letters, rejections."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: Settings,
        service: str,
        metrics: ServiceMetrics | None = None,
        registry: Callable[[], Registry] | None = None,
    ) -> None:
        self.broker = broker
        self.registry = registry  # release is decided again at publication (None: as stored, unit tests)
        self.metrics = metrics
        self.settings = settings
        self.service = service
        self.source = f"urn:alliance:service:{service}"
        self.dead_letter_topic = settings.topic(dead_letter_topic(service))
        self._dead_letters: AIOKafkaProducer | None = None  # raw producer: keeps headers byte for byte
        # Sends one delivery to an agency's topic; the service sets one that parks it when the topic is missing.
        self.deliver: Callable[[str, str, bytes, list[tuple[str, bytes]]], Awaitable[None]] = self._send

    async def publish(self, pending: PendingEvent) -> None:
        """Publish one outbox event inside the trace that caused it, then disclose it as decided.

        A fact with a release decision is also published to the delivery topic of each agency it
        was released to, and the decision (allowed and denied alike) to the audit stream. All of it
        comes from the one outbox entry written with the record, so a crash repeats it whole; the
        ids are the fact's, so recipients drop a repeat.
        """
        value, headers = pending.event.to_kafka()
        with publishing(pending.topic, pending.event, pending.key) as span:
            await self._send(pending.topic, pending.key, value, headers)
            if self.metrics is not None and pending.event.type in ESCALATIONS:
                stage = "breached" if pending.event.type == DeadlineBreached.EVENT_TYPE else "approaching"
                self.metrics.escalated(str(pending.event.data.get("kind", "")), stage)
            release = pending.release
            if release is None:
                return
            release = self._reconfirmed(pending.event, release)
            sends = []
            fan_out = not pending.topic.startswith(self.settings.topic(DELIVERIES_PREFIX))
            if fan_out:
                sends = [
                    self.deliver(self.settings.topic(delivery_topic(agency)), pending.key, value, headers)
                    for agency in release.recipients()
                ]
            audit = ReleaseDecided(
                fact_id=pending.event.id,
                fact_type=pending.event.type,
                record_id=pending.key,
                service=self.service,
                registry_version=release.registry_version,
                markings_digest=release.markings_digest,
                decided_at=release.decided_at,
                decisions=list(release.decisions),
            )
            record = CloudEvent(
                id=f"audit-{pending.event.id}",
                source=self.source,
                type=ReleaseDecided.EVENT_TYPE,
                time=release.decided_at,
                subject=pending.key,
                markings=AUDIT_MARKINGS,
                data=audit.to_data(),
            )
            audit_value, audit_headers = record.to_kafka()
            sends.append(self._send(self.settings.topic(AUDIT_TOPIC), pending.event.id, audit_value, audit_headers))
            await asyncio.gather(*sends)  # one round trip for all of them, not one per agency
            released(span, release, record.id, delivered=fan_out)  # events on the fact's span, not spans

    def _reconfirmed(self, event: CloudEvent, release: Release) -> Release:
        """The stored decisions, decided again now: a write to the store cannot widen a disclosure."""
        if self.registry is None:
            return release
        registry = self.registry()
        stored = [(d.recipient, d.allowed, d.rule) for d in release.decisions]
        now = reconfirmed(stored, event.markings, event.type, registry)
        if now == stored:
            return release
        log.warning("release narrowed at publication", fact_id=event.id, registry_version=registry.version)
        return release.model_copy(
            update={
                "registry_version": registry.version,
                "decisions": tuple(RecipientDecision(recipient=r, allowed=a, rule=rule) for r, a, rule in now),
            }
        )

    async def _send(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        carried = traced_headers({k: v.decode() for k, v in headers})  # the fact's span, when one is active
        await self.broker.publish(value, topic=topic, key=key.encode(), headers=carried)

    async def refuse(self, record: ConsumerRecord, topic: str, refusal: Refusal, agency: str | None = None) -> None:
        """Dead-letter the original record with its reason, then tell the sender why (both bounded).

        The dead letter keeps the record's value and headers as they arrived (for replay after a
        fix); its topic accepts records up to :data:`DEAD_LETTER_MAX_BYTES`, larger than any record
        an intake topic accepts. The rejection repeats only ids, the reason and the first errors, and
        goes to the agency whose intake topic the record came from (None for services' fact streams:
        the dead letter is enough there).
        """
        event = refusal.event
        reason = refusal.reason[:MAX_REASON_CHARS]  # what the sender is told
        detail = (refusal.detail or refusal.reason)[:MAX_REASON_CHARS]  # the dead letter's (operators only)
        refused(trace.get_current_span(), event, (record.key or b"").decode("utf-8", "replace"), reason_label(reason))
        if self.metrics is not None:
            self.metrics.refused(reason, event.type if event else dict(refusal.headers).get("ce_type"))
        meta = [
            ("alliance_dlq_reason", detail.encode()),
            ("alliance_dlq_service", self.service.encode()),
            ("alliance_dlq_topic", topic.encode()),
            ("alliance_dlq_partition", str(record.partition).encode()),
            ("alliance_dlq_offset", str(record.offset).encode()),
            ("alliance_dlq_time", datetime.now(UTC).isoformat().encode()),
        ]
        original = [(k, v) for k, v in (record.headers or []) if v is not None and not k.startswith("alliance_dlq_")]
        try:
            await self._retry(
                "dead-letter", lambda: self._send_dead_letter(record.value, record.key, [*original, *meta])
            )
        except Exception as exc:  # the copy itself cannot be written: keep at least where it was and why
            log.exception("dead letter with the original record failed; writing a reference instead")
            meta.append(("alliance_dlq_copy_failed", f"{type(exc).__name__}: {exc}"[:500].encode()))
            await self._retry("dead-letter", lambda: self._send_dead_letter(b"", record.key, meta))
        known = dict(refusal.headers)
        source = event.source if event else known.get("ce_source")
        rejected_id = (event.id if event else known.get("ce_id")) or None
        rejection = EventRejected(
            rejected_event_id=rejected_id[:200] if rejected_id else None,
            rejected_event_type=((event.type if event else known.get("ce_type")) or "")[:200] or None,
            rejected_event_source=source[:500] if source else None,
            rejected_record=RecordPosition(topic=record.topic, partition=record.partition, offset=record.offset),
            rejected_by=self.service,
            reason=reason,
            errors=list(refusal.errors[:MAX_REJECTION_ERRORS]),
            dead_letter_topic=self.dead_letter_topic,
        )
        reply = CloudEvent(
            id=f"rejection-{record.topic}-{record.partition}-{record.offset}",
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
        reply_topic = self.settings.topic(reply_topic_for(agency)) if agency else None
        if reply_topic is not None:
            await self._retry(
                "rejection",
                lambda: self.publish(
                    PendingEvent(topic=reply_topic, key=rejection.rejected_event_id or "unknown", event=reply)
                ),
            )
        log.warning(
            "event refused",
            reason=reason[:300],
            topic=topic,
            offset=record.offset,
            event_type=rejection.rejected_event_type,
            reply_topic=reply_topic,
        )

    async def _send_dead_letter(self, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        if self._dead_letters is None:
            self._dead_letters = AIOKafkaProducer(
                bootstrap_servers=self.settings.kafka_bootstrap_servers,
                client_id=f"alliance-{self.service}-deadletters",
                enable_idempotence=True,
                max_request_size=DEAD_LETTER_MAX_BYTES,
                **self.settings.kafka_security(),
            )
            await self._dead_letters.start()
        if value is None and key is None:
            value = b""  # a record nothing could be read from (Kafka needs a key or a value)
        await self._dead_letters.send_and_wait(self.dead_letter_topic, value, key=key, headers=headers)

    async def close(self) -> None:
        if self._dead_letters is not None:
            await self._dead_letters.stop()
            self._dead_letters = None

    async def _retry(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await waiting(self.settings, what, op)


class EventConsumer:
    """One subscription: a topic, a consumer group, and a handler per accepted event type.

    ``intake=True`` for topics agencies write to: an unknown event type there is refused. On other
    services' fact streams, types this service does not handle are skipped.

    What happens to a record (see :func:`screen` and :meth:`_handle`): bad input of any kind ends as
    one dead letter plus one rejection; a store or broker outage is waited out (the record is never
    refused for it); any other failure is retried :data:`UNEXPECTED_FAILURE_ATTEMPTS` times with
    backoff and then dead-lettered, so no record can loop forever.
    """

    def __init__(
        self, messenger: Messenger, topic: str, group: str, *, intake: bool, registry: RegistryFollower | None = None
    ) -> None:
        self.messenger = messenger
        self.topic = messenger.settings.topic(topic)
        self.domain = topic.split(".")[1] if intake else None  # alliance.<domain>.intake
        self.group = messenger.settings.group(messenger.service, group)
        self.intake = intake
        self.registry = registry
        self.handlers: dict[str, tuple[type[EventData], Handler]] = {}
        self.processed = 0
        self.refused = 0
        self.stopping = False  # set on shutdown: in-flight failures are released, never dead-lettered
        self.agencies: set[str] = set()  # intake: the agencies whose intake topic is subscribed
        self.revocations = Revocations()
        # Publishes what a batch's records committed (the service's outbox relay; unit tests: at once).
        self.publish_committed: Callable[[Sequence[Publication]], Awaitable[None]] = _publish_nothing

    def on(
        self, model: type[D]
    ) -> Callable[[Callable[[Received[D]], Awaitable[None]]], Callable[[Received[D]], Awaitable[None]]]:
        def register(handler: Callable[[Received[D]], Awaitable[None]]) -> Callable[[Received[D]], Awaitable[None]]:
            self.handlers[model.EVENT_TYPE] = (model, handler)
            return handler

        return register

    def accepted_types(self) -> list[type[EventData]]:
        return [model for model, _ in self.handlers.values()]

    def topics(self) -> list[str]:
        """The Kafka topics read: a fact stream, or one intake topic per agency that sends to this domain."""
        if not self.intake:
            return [self.topic]
        assert self.registry is not None
        assert self.domain is not None
        return [intake_topic(self.topic, a.id) for a in self.registry.registry.agencies if a.sends_to(self.domain)]

    def subscribe(self) -> list[Any]:
        """Subscribe (before the broker starts, or later for newly registered agencies): one consumer for
        all the topics not read yet (at start, every agency's intake topic of this domain)."""
        topics = [t for t in self.topics() if not self.intake or t[len(self.topic) + 1 :] not in self.agencies]
        if not topics:
            return []
        settings = self.messenger.settings
        subscriber = self.messenger.broker.subscriber(
            *topics,
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,  # commit after the batch's effects are stored; redeliver on crash
            batch=True,
            # Whatever has arrived, up to a bound: a quiet stream's one record is handled at once.
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.fetch_max_wait_ms,
            fetch_max_bytes=settings.batch_max_bytes,
            parser=_tolerant_parser,
            decoder=_raw_body,
            max_poll_interval_ms=30 * 60 * 1000,  # a store outage may hold one batch for a long time
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            listener=self.revocations,
        )
        subscriber(self._dispatch)
        if self.intake:
            self.agencies.update(t[len(self.topic) + 1 :] for t in topics)
        return [subscriber]

    def sender_of(self, record_topic: str) -> Agency | None:
        if not self.intake or self.registry is None:
            return None
        return self.registry.registry.get(record_topic[len(self.topic) + 1 :])

    async def _dispatch(self, message: KafkaMessage) -> None:
        """One batch: each partition's records in order, the partitions concurrently; then the batch's
        writes and facts together (see :mod:`alliance.runtime.batches`); offsets are committed after."""
        records = cast(tuple[ConsumerRecord, ...], message.raw_message)
        linger = self.messenger.settings.batch_linger_ms / 1000
        with batch(apply_committed, self.publish_committed, linger) as work:
            failures = await each_group(
                group_in_order(records, lambda r: (r.topic, r.partition)),
                lambda record: handling_record(work, lambda: self.process(record)),
            )
            await work.close()  # what the decided records left
        if failures:  # shutting down, or a partition handed over: the batch is read again from its start
            raise failures[0]

    async def process(self, record: ConsumerRecord) -> Refusal | None:
        """Screen one record and hand it to its handler, or refuse it; the refusal, if it was refused.

        The sender is the agency whose intake topic the record is on: for a replayed dead letter, the
        topic it was first written to (see :mod:`alliance.runtime.replays`).
        """
        agency = self.sender_of(record.topic)
        verdict = screen(record.headers or [], record.value, self.handlers, intake=self.intake, sender=agency)
        if verdict is None:
            return None  # a fact type this service does not handle: no span either
        sender = record.topic[len(self.topic) + 1 :] if self.intake else None
        with consuming(record.topic, record.partition, record.offset, record.headers or (), sender):
            return await self._decide(record, verdict, agency)

    async def _decide(
        self, record: ConsumerRecord, verdict: Accepted | Refusal, agency: Agency | None
    ) -> Refusal | None:
        if isinstance(verdict, Refusal):
            return await self._refuse(record, verdict, agency.id if agency else None)
        data, handler, event = verdict
        sender = Sender(agency.id, agency.country, agency.kind.value) if agency else None
        registry = self.registry.registry if self.registry is not None and agency else None
        received = Received(event=event, data=data, topic=self.topic, sender=sender, registry=registry)
        return await self._handle(record, handler, received)

    async def _refuse(self, record: ConsumerRecord, refusal: Refusal, agency: str | None = None) -> Refusal:
        self.refused += 1
        await self.messenger.refuse(record, record.topic, refusal, agency)
        return refusal

    def _still_ours(self, record: ConsumerRecord, epoch: int) -> None:
        """Before refusing a record it waited on: if its partition was revoked meanwhile, the record is
        (or will be) redelivered to the partition's next owner, which decides afresh; refusing it here
        too would leave two dead letters. Raising leaves it uncommitted."""
        if self.revocations.epoch(record) != epoch:
            raise PartitionHandedOver(f"{record.topic}:{record.partition} was revoked while this record waited")

    async def _handle(self, record: ConsumerRecord, handler: Handler, received: Received[Any]) -> Refusal | None:
        structlog.contextvars.bind_contextvars(event_id=received.event.id, event_type=received.event.type)
        key = (record.key or b"").decode("utf-8", "replace") or received.event.subject
        describe(trace.get_current_span(), received.event, "handled", key)
        token = cause_time.set(received.event.time)
        settings = self.messenger.settings
        delay = settings.retry_initial_seconds
        failures = 0
        started = asyncio.get_running_loop().time()
        epoch = self.revocations.epoch(record)
        try:
            while True:
                try:
                    await handler(received)
                    self.processed += 1
                    return None
                except RecordNotYetKnown as exc:
                    waited = asyncio.get_running_loop().time() - started
                    if waited < settings.parent_wait_seconds and not self.stopping:
                        log.info("record not known yet; waiting for it", waited_seconds=round(waited, 1))
                        await asyncio.sleep(min(1.0, settings.parent_wait_seconds - waited))
                        continue
                    self._still_ours(record, epoch)
                    agency = received.sender.agency if received.sender else None
                    waited_for = f"(waited {settings.parent_wait_seconds:.0f} s for it)"
                    refusal = Refusal(
                        f"rule violated: {exc.public} {waited_for}",
                        received.event,
                        detail=f"rule violated: {exc} {waited_for}",
                    )
                    return await self._refuse(record, refusal, agency)
                except (DomainRuleViolation, LimitExceeded) as exc:
                    label = "rule violated" if isinstance(exc, DomainRuleViolation) else "limit exceeded"
                    public = exc.public if isinstance(exc, DomainRuleViolation) else str(exc)
                    agency = received.sender.agency if received.sender else None
                    refusal = Refusal(f"{label}: {public}", received.event, detail=f"{label}: {exc}")
                    return await self._refuse(record, refusal, agency)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if self.stopping:
                        raise  # shutting down: not stored, not committed, redelivered to the next owner
                    if store_unavailable(exc):
                        # An outage (or a store that answers with errors) is waited out, never refused.
                        log.warning("dependency unavailable, waiting", error=f"{type(exc).__name__}: {exc}"[:300])
                    else:
                        failures += 1
                        failed(trace.get_current_span(), exc)
                        if failures >= UNEXPECTED_FAILURE_ATTEMPTS:
                            self._still_ours(record, epoch)
                            log.exception("handler failed; dead-lettering", attempts=failures)
                            # The sender is told only that it failed: an exception's text may quote stored records.
                            refusal = Refusal(
                                f"processing failed {failures} times (an internal error; operators have the details)",
                                received.event,
                                detail=f"processing failed {failures} times: {type(exc).__name__}: {exc}",
                            )
                            agency = received.sender.agency if received.sender else None
                            return await self._refuse(record, refusal, agency)
                        log.warning("handler failed, retrying", attempt=failures, error=f"{type(exc).__name__}")
                    await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                    delay = min(delay * 2, settings.retry_max_seconds)
        finally:
            cause_time.reset(token)
            structlog.contextvars.unbind_contextvars("event_id", "event_type")


class PartitionHandedOver(RuntimeError):
    """The partition of a record in hand was revoked: its next owner handles the record."""


class Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts, per partition, how often this process's consumers lost it (a rebalance)."""

    def __init__(self) -> None:
        self._epochs: dict[tuple[str, int], int] = {}

    def epoch(self, record: ConsumerRecord) -> int:
        return self._epochs.get((record.topic, record.partition), 0)

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self._epochs[(tp.topic, tp.partition)] = self._epochs.get((tp.topic, tp.partition), 0) + 1

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


# A handler that fails for a reason that is neither bad input nor an outage (a bug, a record the
# domain cannot load) is retried this many times in all, then its record is dead-lettered.
UNEXPECTED_FAILURE_ATTEMPTS = 4

# Store error codes that mean "busy or not available", not "this request is wrong". FerretDB answers
# InternalError (1) when SQLite is locked or its files are unavailable.
_STORE_UNAVAILABLE_CODES = frozenset({1, 6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})


# FerretDB answers InternalError for PostgreSQL's own refusals too: "program limit exceeded" (an index
# row or a value too large) is the record's fault, not an outage, and is dead-lettered after retries.
_PERMANENT_SQLSTATES = ("SQLSTATE 54000", "SQLSTATE 54001")


def store_unavailable(exc: BaseException) -> bool:
    """True for an outage: the dependency cannot serve now, and the same request will work later."""
    if is_transient(exc):
        return True
    if isinstance(exc, OperationFailure) and not isinstance(exc, DuplicateKeyError):
        if any(state in str(exc) for state in _PERMANENT_SQLSTATES):
            return False  # the record itself is beyond a limit: it would fail the same way for ever
        return exc.code in _STORE_UNAVAILABLE_CODES or exc.has_error_label("RetryableWriteError")
    return False


# The time the event being handled happened (its ce_time); facts derived from it carry this time.


@dataclass(frozen=True)
class Refusal:
    """Why a record is refused, and the event as far as it could be read.

    ``reason`` is what the sender is told; ``detail`` (None: the same) is what the dead letter keeps for
    operators, e.g. the stored record a rule was checked against, or an unexpected exception's text.
    """

    reason: str
    event: CloudEvent | None = None
    errors: tuple[FieldError, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    detail: str | None = None


Accepted = tuple[EventData, Handler, CloudEvent]


def screen(
    raw_headers: Any,
    value: bytes | None,
    handlers: dict[str, tuple[type[EventData], Handler]],
    *,
    intake: bool,
    sender: Agency | None = None,
) -> Accepted | Refusal | None:
    """Decide what to do with one record before any handler runs (pure; no I/O).

    Returns the handler to run, a :class:`Refusal` for bad input of any kind, or None for a fact
    type this service does not consume. Nothing a sender can put in a record makes this raise.
    On an intake topic the ``sender`` is the agency whose topic it is (its principal alone may write
    it): an unregistered one, or an event claiming another source or originator, or a type the
    registry does not let it send, is refused.
    """
    if intake and sender is None:
        return Refusal("not the intake topic of a registered agency")
    unreadable = next((v for k, v in raw_headers if k == kafka_records.UNREADABLE_HEADER and v), None)
    if unreadable is not None:  # a stand-in for a record no client can decode: its readable ce_* name it
        try:
            known = tuple(headers_to_dict([(k, v) for k, v in raw_headers if k.lower().startswith("ce_")]).items())
        except EnvelopeError:
            known = ()
        return Refusal(f"undecodable Kafka record: {unreadable.decode('utf-8', 'replace')}", headers=known)
    try:
        headers = headers_to_dict(raw_headers)
    except EnvelopeError as exc:
        return Refusal(f"invalid envelope: {exc}")
    known = tuple(headers.items())
    try:
        event = parse_record(headers, value)
    except EnvelopeError as exc:
        return Refusal(f"invalid envelope: {exc}", headers=known)
    if sender is not None:
        if not sender.source_matches(event.source):
            return Refusal(f"ce_source {event.source[:100]!r} is not agency {sender.id}'s", event, headers=known)
        if sender.id not in event.markings.originators:
            return Refusal(f"ce_originator does not name the sending agency {sender.id}", event, headers=known)
        event = event.model_copy(update={"markings": event.markings.as_sent()})
    entry = handlers.get(event.type)
    if entry is None:
        if intake:
            accepted = ", ".join(sorted(handlers))
            return Refusal(f"unknown event type {event.type!r} (accepted: {accepted})", event, headers=known)
        return None
    model, handler = entry
    if sender is not None and not sender.may_send(event.type):
        return Refusal(f"agency {sender.id} may not send {event.type}", event, headers=known)
    try:
        data = model.model_validate(event.data)
    except ValidationError as exc:
        errors = tuple(
            FieldError(
                location=(".".join(str(p) for p in e["loc"]) or "(data)")[:MAX_ERROR_CHARS],
                message=e["msg"][:MAX_ERROR_CHARS],
            )
            for e in exc.errors(include_url=False, include_input=False)[:MAX_REJECTION_ERRORS]
        )
        more = exc.error_count() - len(errors)
        summary = "; ".join(f"{e.location}: {e.message}" for e in errors[:5])
        if more > 0 or len(errors) > 5:
            summary += f" (and {exc.error_count() - min(5, len(errors))} more)"
        return Refusal(f"data does not match {event.type}: {summary}", event, errors, known)
    return data, handler, event


async def _tolerant_parser(records: tuple[ConsumerRecord, ...], parse: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser decodes every header value as UTF-8 and fails on anything else (or on a
    null value) before any handler runs. It gets sanitised copies; the message keeps the original
    records, byte for byte, for :func:`screen` and the dead letter."""
    clean = tuple(
        dataclasses.replace(
            r, headers=tuple((k, (v or b"").decode("utf-8", "replace").encode()) for k, v in r.headers or ())
        )
        for r in records
    )
    message = await parse(clean)
    message.raw_message = records
    return message


async def _publish_nothing(publications: Sequence[Publication]) -> None:
    if publications:
        raise RuntimeError("a consumer without an outbox relay committed facts")


async def _raw_body(message: Any) -> Any:
    """Hand the handler the undecoded record: the envelope is parsed (and refused) by our own code."""
    return message.body
