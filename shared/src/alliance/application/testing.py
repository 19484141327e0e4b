"""Running handlers without Kafka or a store: in-memory records and a harness that shows what was published.

    harness = HandlerHarness(ROUTES, FirearmsDeps, settings=FirearmsSettings())
    facts = await harness.send(SeizureRecorded(...), markings=GREEN_US_MX)
    assert [f.type for f in facts] == [...]
    trace = await harness.repository(TraceRequests).get("TR-…")

Records are kept as the runtime stores them (the aggregate's ``state()`` plus bookkeeping) and read
back through ``from_document``, so a field the store would lose is lost here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from alliance.application.handling import Deps, Received, RegistryView, Route, Sender, inject
from alliance.application.records import (
    Catalogue,
    Commit,
    ConcurrentUpdateError,
    Document,
    PendingEvent,
    cards_of,
    head_document,
)
from alliance.application.repository import FactOutlet, Repository, cause_time
from alliance.contracts.base import EventData
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import Markings
from alliance.contracts.registry import Registry, baseline_registry

R = TypeVar("R", bound=Repository[Any])

TEST_SOURCE = "urn:alliance:agency:test"


class MemoryRecords:
    """One aggregate kind's records in a dict: versions committed by unique key, like the journal."""

    def __init__(
        self, name: str, committed: Callable[[Commit], None] | None = None, catalogue: Catalogue | None = None
    ) -> None:
        self.name = name
        self.committed = committed  # the outbox: what a commit stores is published, even if the writer dies
        self.catalogue = catalogue
        self.heads: dict[str, Document] = {}
        self.cards: dict[str, Document] = {}
        self.journal: dict[tuple[str, int], Commit] = {}
        self.fail_after_commits: int | None = None  # a crash after that many commits (then cleared)

    async def get(self, record_id: str) -> Document | None:
        head = self.heads.get(record_id)
        return dict(head) if head is not None else None

    async def commit(self, commit: Commit) -> None:
        key = (commit.record_id, commit.version)
        if key in self.journal:
            raise ConcurrentUpdateError(f"{self.name} {commit.record_id} version {commit.version} exists")
        self.journal[key] = commit
        if self.catalogue is not None:
            for card in cards_of(self.catalogue, commit.record_id, commit.version, commit.state):
                self.cards[card["_id"]] = card
        self.heads[commit.record_id] = head_document(commit.record_id, commit, datetime.now(UTC))
        if self.committed is not None:
            self.committed(commit)
        if self.fail_after_commits is not None:
            self.fail_after_commits -= 1
            if self.fail_after_commits <= 0:
                self.fail_after_commits = None
                raise RuntimeError(f"injected failure after a commit to {self.name}")

    async def find_equal(self, field: str, value: Any) -> list[Document]:
        found = []
        for head in self.heads.values():
            stored = head.get(field)
            if stored == value or (isinstance(stored, list) and value in stored):
                found.append(dict(head))
        return found

    async def cards_filed_under(self, key: str) -> list[Document]:
        return [{k: v for k, v in card.items() if k != "keys"} for card in self.cards.values() if key in card["keys"]]


class HandlerHarness(Generic[Deps]):
    """A service's routes and handlers over in-memory repositories; every published fact is kept."""

    def __init__(
        self,
        routes: Sequence[Route[Deps]],
        deps_type: type[Deps],
        *,
        settings: object | None = None,
        service: str = "test",
        events_topic: str = "events",
        registry: Registry | None = None,
    ) -> None:
        self.routes = list(routes)
        self.settings = settings
        self.registry = registry or baseline_registry()  # what RegistryView gives handlers; tests may replace it
        self.published: list[PendingEvent] = []
        # Facts count as published once committed (the outbox relay publishes them even when the
        # handler fails afterwards), not when the handler's flush runs.
        self.outlet = FactOutlet(f"urn:alliance:service:{service}", events_topic)
        self._repositories: dict[type[Repository[Any]], Repository[Any]] = {}
        self.deps: Deps = inject(deps_type, self._provide)

    def _committed(self, commit: Commit) -> None:
        self.published.extend(commit.events)

    def _provide(self, wanted: type[Any]) -> object:
        if isinstance(wanted, type) and issubclass(wanted, Repository):
            return self.repository(wanted)
        if wanted is RegistryView:
            return RegistryView(lambda: self.registry)
        if self.settings is not None and isinstance(self.settings, wanted):
            return self.settings
        raise TypeError(f"the harness cannot provide {wanted!r}: pass settings=… of that type")

    def repository(self, kind: type[R]) -> R:
        if kind not in self._repositories:
            records = MemoryRecords(kind.collection, self._committed, kind.catalogue)
            self._repositories[kind] = kind(records, self.outlet)
        repository = self._repositories[kind]
        assert isinstance(repository, kind)
        return repository

    def records(self, kind: type[Repository[Any]]) -> MemoryRecords:
        records = self.repository(kind).records
        assert isinstance(records, MemoryRecords)
        return records

    async def send(
        self,
        data: EventData,
        *,
        markings: Markings,
        source: str = TEST_SOURCE,
        event_id: str | None = None,
        time: datetime | None = None,
        topic: str | None = None,
        sender: Sender | None = None,
        registry: Registry | None = None,
    ) -> list[CloudEvent]:
        """Deliver one event to its route's handler; the facts published while it ran.

        ``sender`` is the agency it comes from, as the consumer authenticates an intake event (its
        source then names it); its visibility of stored records is decided under ``registry``
        (default: the baseline registry). A refusal (``DomainRuleViolation``, ``LimitExceeded``)
        propagates, as the consumer would turn it into a dead letter and a rejection.
        """
        if sender is not None and source == TEST_SOURCE:
            source = f"urn:agency:{sender.agency}"
        route = self._route(data, topic)
        event = CloudEvent(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=data.EVENT_TYPE,
            time=time or datetime.now(UTC),
            markings=markings,
            data=data.to_data(),
        )
        if sender is None:
            return await self.deliver(event, route.topic)
        return await self._deliver(event, route.topic, sender, registry or baseline_registry())

    async def deliver(self, event: CloudEvent, topic: str) -> list[CloudEvent]:
        """Deliver an already-built event (e.g. one this harness published) to the route for its type."""
        return await self._deliver(event, topic, None, None)

    async def _deliver(
        self, event: CloudEvent, topic: str, sender: Sender | None, registry: Registry | None
    ) -> list[CloudEvent]:
        route = self._route_for(event.type, topic)
        data = route.event.model_validate(event.data)
        before = len(self.published)
        token = cause_time.set(event.time)
        try:
            await route.handler(
                Received(event=event, data=data, topic=topic, sender=sender, registry=registry), self.deps
            )
        finally:
            cause_time.reset(token)
        return [p.event for p in self.published[before:]]

    def _route(self, data: EventData, topic: str | None) -> Route[Deps]:
        return self._route_for(data.EVENT_TYPE, topic)

    def _route_for(self, event_type: str, topic: str | None) -> Route[Deps]:
        routes = [r for r in self.routes if event_type == r.event.EVENT_TYPE and topic in (None, r.topic)]
        if len(routes) != 1:
            raise LookupError(f"{len(routes)} routes for {event_type} on {topic or 'any topic'}")
        return routes[0]

    async def settle(self, *, own_topic: str | None = None, rounds: int = 20) -> list[CloudEvent]:
        """Deliver published facts to this service's own policy routes until nothing new is published."""
        seen = 0
        delivered: list[CloudEvent] = []
        for _ in range(rounds):
            batch = self.published[seen:]
            seen = len(self.published)
            if not batch:
                return delivered
            for pending in batch:
                policy = [
                    r for r in self.routes if pending.event.type == r.event.EVENT_TYPE and r.topic == pending.topic
                ]
                if own_topic is not None and pending.topic != own_topic:
                    continue
                if policy:
                    delivered.extend(await self.deliver(pending.event, pending.topic))
        raise RuntimeError("policies kept publishing after 20 rounds")


def registered_sender(agency: str, registry: Registry | None = None) -> Sender:
    """The sender the consumer would authenticate for ``agency``'s intake topic (baseline registry)."""
    entry = (registry or baseline_registry()).get(agency)
    if entry is None:
        raise LookupError(f"{agency} is not registered")
    return Sender(entry.id, entry.country, entry.kind.value)
