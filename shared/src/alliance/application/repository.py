"""Typed repositories: load an aggregate, let a domain method decide, commit the outcome with its facts.

A service declares one subclass per aggregate kind, naming its collection, the fields its queries
look records up by, and intent-named queries (``licences.covering(serial)``) written with
:meth:`Repository.where` / :meth:`Repository.where_any` — equality only, the one query every store
answers from an index. Handlers never see a query language or how dates are stored.

The same repository runs over the real store (runtime) or an in-memory one (unit tests).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, TypeVar

from alliance.application.handling import Received
from alliance.application.records import (
    Catalogue,
    Commit,
    ConcurrentUpdateError,
    Document,
    PendingEvent,
    Records,
    check_publishable,
)
from alliance.contracts.base import EventData
from alliance.contracts.disclosure import DeliveryWithdrawn, RecipientDecision, Release, markings_digest
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.registry import Registry
from alliance.contracts.topics import delivery_topic
from alliance.domain.aggregate import RELEASED_TO, Aggregate
from alliance.domain.errors import NotYours, RecordNotYetKnown
from alliance.domain.ids import event_id
from alliance.domain.periods import months_between
from alliance.domain.release import WITHDRAWAL, decide_all, lost_access

A = TypeVar("A", bound=Aggregate)
# Lookups of one where_any in flight at once: enough to hide round trips, few enough to leave the
# store's connection pool to other handlers.
LOOKUP_CONCURRENCY = 8

# When the event being handled happened: the facts it causes carry that time (set by the consumer).
cause_time: ContextVar[datetime | None] = ContextVar("cause_time", default=None)

Flush = Callable[[str, str, int, list[PendingEvent]], Awaitable[None]]


async def _nothing_to_flush(collection: str, record_id: str, version: int, events: list[PendingEvent]) -> None:
    return None


def _no_trace() -> str | None:
    return None


class FactOutlet:
    """Stamps an aggregate's new facts for this service and hands committed ones to the publisher."""

    def __init__(
        self,
        source: str,
        events_topic: str,
        *,
        topic_name: Callable[[str], str] = str,
        flush: Flush = _nothing_to_flush,
        traceparent: Callable[[], str | None] = _no_trace,
        registry: Callable[[], Registry] | None = None,
        service: str = "",
    ) -> None:
        self.source = source
        self.events_topic = events_topic
        self.topic_name = topic_name
        self.flush = flush
        self.traceparent = traceparent
        self.registry = registry  # None: no disclosure to agencies (unit tests that do not look at it)
        self.service = service

    def event(
        self, *, topic: str, key: str, event_id: str, data: EventData, markings: Markings, subject: str | None = None
    ) -> PendingEvent:
        """A fact to publish from the outbox, stamped with this service and the current trace."""
        return PendingEvent(
            topic=self.topic_name(topic),
            key=key,
            event=CloudEvent(
                id=event_id,
                source=self.source,
                type=data.EVENT_TYPE,
                time=cause_time.get() or datetime.now(UTC),  # a fact happens when its cause did
                subject=subject or key,
                markings=markings,
                data=data.to_data(),
                traceparent=self.traceparent(),
            ),
        )

    def pending(self, aggregate: Aggregate, topic: str | None) -> list[PendingEvent]:
        """Outbox entries for the aggregate's new facts; ids derive from record id and version.

        Each fact carries its release decision (who receives it, and the audit of every decision),
        taken now, with the record's markings and the current registry, and stored in the same
        commit; the record remembers who received which types. Every agency that received some of
        its facts and may no longer (tightened markings, a lower clearance, a revoked consent) is sent
        one content-free withdrawal, and forgotten.
        """
        next_version = aggregate.version + 1
        facts = [
            self.event(
                topic=topic or self.events_topic,
                key=aggregate.id,
                event_id=event_id(aggregate.id, e.EVENT_TYPE, f"{next_version}:{i}"),
                data=e,
                markings=aggregate.markings,  # a fact is never weaker than the record it is about
            )
            for i, e in enumerate(aggregate.pending_events)
        ]
        if self.registry is None:
            return facts
        registry = self.registry()
        notices = self._withdrawals(aggregate, registry, next_version)
        released = [f.model_copy(update={"release": self._release(f.event, registry)}) for f in facts]
        for fact in released:
            assert fact.release is not None
            aggregate.note_released(fact.event.type, fact.release.recipients())
        return released + notices

    def withdrawals_due(self, aggregate: Aggregate) -> bool:
        """Whether some agency holds facts of this record that it may no longer receive."""
        return self.registry is not None and bool(lost_access(aggregate.released, aggregate.markings, self.registry()))

    def _release(self, event: CloudEvent, registry: Registry) -> Release:
        decisions = decide_all(event.markings, event.type, registry)
        return Release(
            registry_version=registry.version,
            markings_digest=markings_digest(event.markings),
            decided_at=datetime.now(UTC),
            decisions=tuple(
                RecipientDecision(recipient=d.recipient, allowed=d.allowed, rule=d.rule) for d in decisions
            ),
        )

    def _withdrawals(self, aggregate: Aggregate, registry: Registry, version: int) -> list[PendingEvent]:
        lost = lost_access(aggregate.released, aggregate.markings, registry)
        aggregate.forget_released(lost)
        notices = []
        for agency in lost:
            notice = self.event(
                topic=delivery_topic(agency),
                key=aggregate.id,
                event_id=event_id(aggregate.id, DeliveryWithdrawn.EVENT_TYPE, f"{version}:{agency}"),
                data=DeliveryWithdrawn(record_id=aggregate.id),
                markings=Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("alliance",)),
            )
            decision = RecipientDecision(recipient=agency, allowed=True, rule=WITHDRAWAL)
            notices.append(
                notice.model_copy(
                    update={
                        "release": Release(
                            registry_version=registry.version,
                            markings_digest=markings_digest(aggregate.markings),
                            decided_at=datetime.now(UTC),
                            decisions=(decision,),
                        )
                    }
                )
            )
        return notices


class Repository(Generic[A]):
    """All records of one aggregate kind. Subclasses set ``kind`` and ``collection``."""

    kind: type[A]
    collection: ClassVar[str]
    indexes: ClassVar[tuple[str, ...]] = ()  # fields the intent-named queries look up
    deadlines: ClassVar[bool] = False  # whether the deadline clock watches this kind
    catalogue: ClassVar[Catalogue | None] = None  # cards for an index looked up by many keys (see Catalogue)

    def __init__(self, records: Records, outlet: FactOutlet) -> None:
        self.records = records
        self.outlet = outlet

    # -- reading ----------------------------------------------------------------------------------

    async def get(self, record_id: str) -> A | None:
        doc = await self.records.get(record_id)
        return self._load(doc) if doc is not None else None

    async def stored_or_fixed(self, record_id: str, fix: Callable[[], Awaitable[A]]) -> A:
        """The record stored under ``record_id``, or the one fixed now and stored; of two writers fixing it
        at once, the first stored wins and both return it (a sanitised quarter, fixed once)."""
        stored = await self.get(record_id)
        if stored is not None:
            return stored
        return await self.add(await fix())

    async def where(self, field: str, value: Any) -> list[A]:
        """Records whose ``field`` equals ``value`` (for a list field: contains it)."""
        return [self._load(doc) for doc in await self.records.find_equal(field, value)]

    async def where_any(self, field: str, values: Iterable[Any]) -> list[A]:
        """Records whose ``field`` equals any of ``values``: one indexed lookup per value (several at a
        time: an index of people looks a person up by some fifty keys), each record once."""
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def lookup(value: Any) -> list[Document]:
            async with gate:
                return await self.records.find_equal(field, value)

        found: dict[str, Document] = {}
        for docs in await asyncio.gather(*(lookup(v) for v in dict.fromkeys(values))):
            for doc in docs:
                found.setdefault(doc["_id"], doc)
        return [self._load(doc) for doc in found.values()]

    async def catalogued(self, keys: Iterable[str], worth_loading: Callable[[Document], bool]) -> list[A]:
        """Records filed under any of ``keys`` whose card's summary is ``worth_loading``, loaded whole.

        Candidates are told apart on their cards (see :class:`Catalogue`); only the few worth it are read.
        """
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def lookup(key: str) -> list[Document]:
            async with gate:
                return await self.records.cards_filed_under(key)

        latest: dict[str, Document] = {}  # a record's newest card: one being refiled may show two versions
        for cards in await asyncio.gather(*(lookup(k) for k in dict.fromkeys(keys))):
            for card in cards:
                held = latest.get(card["record"])
                if held is None or card["version"] > held["version"]:
                    latest[card["record"]] = card
        wanted = [record for record, card in latest.items() if worth_loading(json.loads(card["summary"]))]

        async def load(record_id: str) -> A | None:
            async with gate:
                return await self.get(record_id)

        return [a for a in await asyncio.gather(*(load(r) for r in wanted)) if a is not None]

    async def in_months(self, field: str, start: date, end: date) -> list[A]:
        """Records whose month lookup key ``field`` is a month from ``start`` to ``end`` (callers keep the
        exact days): reports find their records by equality, one lookup per month, never by range."""
        return await self.where_any(field, months_between(start, end))

    def _load(self, doc: Document) -> A:
        return self.kind.from_document(doc)

    # -- writing ----------------------------------------------------------------------------------

    async def add(self, record: A, topic: str | None = None, *, check: Callable[[A], object] | None = None) -> A:
        """Store a record, or absorb its markings into the one already stored under its id; the stored record.

        Ids are deterministic (derived from the causing event), so the record may exist: a redelivery,
        a correction of the input it was derived from, the other input of a match. Whatever is stored
        never stays weaker than what was derived now (AP9): stricter markings tighten the stored record,
        and the agencies that lose access are sent a withdrawal. Nothing else of the stored record
        changes, and a reaction must never depend on whether it was created now. ``check`` runs on a
        stored record first: it refuses (raises) a record that may not be sent again by this sender.
        """

        def reclassify(stored: A) -> None:
            if check is not None:
                check(stored)
            stored.reclassify(record.markings)

        for _ in range(5):
            # Insert first: a new record costs its writes only (no read that finds nothing); the
            # unique journal insert tells a record stored already, which is then reclassified.
            if await self._create(record, topic):
                return record
            stored = await self.change(record.id, reclassify, topic=topic)
            if stored is not None:
                return stored
        raise ConcurrentUpdateError(f"{self.collection} {record.id} could not be stored or reclassified")

    async def _create(self, aggregate: A, topic: str | None) -> bool:
        """Commit a new record; False if another writer created it first."""
        try:
            await self._commit(aggregate, topic)
        except ConcurrentUpdateError:
            if aggregate.version == 0:
                return False
            raise
        return True

    async def change(
        self,
        record_id: str,
        method: Callable[[A], object],
        *,
        cause: str | None = None,
        topic: str | None = None,
    ) -> A | None:
        """Load a record, apply a domain method, commit the outcome; None if there is no such record.

        ``cause`` (the causing event's source|id) makes redelivery harmless: a record that already
        applied it is returned unchanged. A concurrent writer makes this reload and decide again.
        """
        for _ in range(50):
            aggregate = await self.get(record_id)
            if aggregate is None or (cause is not None and aggregate.has_applied(cause)):
                return aggregate
            before = aggregate.model_dump()
            previous_deadline = aggregate.next_deadline_at()
            method(aggregate)
            if cause is not None:
                aggregate.mark_applied(cause)
            elif (
                not aggregate.pending_events
                and aggregate.model_dump() == before
                and not self.outlet.withdrawals_due(aggregate)
            ):
                return aggregate  # nothing changed: nothing to store
            try:
                await self._commit(aggregate, topic, previous_deadline)
                return aggregate
            except ConcurrentUpdateError:
                await asyncio.sleep(random.random() * 0.01)  # another writer won this version: decide again
        raise ConcurrentUpdateError(f"{self.collection} {record_id} kept changing under us")

    async def apply(
        self,
        record_id: str,
        received: Received[Any],
        method: Callable[[A], object],
        *,
        missing: str | None = None,
        topic: str | None = None,
    ) -> A:
        """The received event changes an existing record: the one way a cause reaches a record.

        Idempotent by the causing event, absorbs the cause's markings before the domain method runs
        (so nothing derived from it is weaker than it), and refuses the event with a clear reason
        when the record does not exist. A record the sending agency may not see (its markings), or
        that the domain says is not the sender's to change (:class:`NotYours`), is refused in the same
        words as one that does not exist: the agency learns nothing of other agencies' records.
        """
        missing = missing or f"no {self.kind.RECORD_TYPE} {record_id}"

        def step(aggregate: A) -> None:
            if not received.may_see(aggregate.markings):
                raise NotYours(f"{self.kind.RECORD_TYPE} {record_id} exists; its markings hide it from the sender")
            aggregate.absorb_markings(received.event.markings)
            method(aggregate)

        try:
            record = await self.change(record_id, step, cause=received.cause, topic=topic)
        except NotYours as exc:
            raise RecordNotYetKnown(f"{missing} ({exc})", public=missing) from None
        if record is None:
            raise RecordNotYetKnown(missing)
        return record

    async def get_visible(self, record_id: str, received: Received[Any]) -> A | None:
        """The record, if it exists and the sending agency may see it (a service's fact sees all)."""
        record = await self.get(record_id)
        return record if record is not None and received.may_see(record.markings) else None

    async def change_or_create(
        self,
        record_id: str,
        create: Callable[[], A],
        method: Callable[[A], object],
        *,
        cause: str | None = None,
        topic: str | None = None,
    ) -> A:
        """Apply to an existing record, or to a new one made by ``create`` (safe when two race to create)."""
        for _ in range(5):
            existing = await self.change(record_id, method, cause=cause, topic=topic)
            if existing is not None:
                return existing
            record = create()
            method(record)
            if cause is not None:
                record.mark_applied(cause)
            if await self._create(record, topic):
                return record
        raise ConcurrentUpdateError(f"{self.collection} {record_id} could not be created or changed")

    async def released_to(self, agency: str) -> list[str]:
        """Ids of the records whose facts were released to ``agency`` (a registry change rechecks them)."""
        return [doc["_id"] for doc in await self.records.find_equal(RELEASED_TO, agency)]

    async def reconsider_release(self, record_id: str) -> None:
        """After a registry change: withdraw the record from agencies that may no longer hold it."""
        await self.change(record_id, _unchanged)

    async def escalate_deadlines(self, record_id: str, moment: datetime, service: str) -> A | None:
        """Raise the record's due deadline escalations (the deadline clock's one change)."""
        return await self.change(record_id, lambda a: a.escalate_deadlines(moment, service))

    async def _commit(
        self,
        aggregate: A,
        topic: str | None,
        previous_deadline: datetime | None = None,
    ) -> None:
        aggregate.trace_deadlines(self.outlet.traceparent())
        events = self.outlet.pending(aggregate, topic)
        check_publishable(events)
        version = aggregate.version + 1
        await self.records.commit(
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
        aggregate.clear_events()
        if events:
            await self.outlet.flush(self.collection, aggregate.id, version, events)


def _unchanged(aggregate: Aggregate) -> None:
    return None
