"""Handlers as plain functions: a table of routes, and the dependencies each service's handlers receive.

A handler is ``async def handler(received: Received[SomeEvent], deps: ServiceDeps) -> None``. The
service's ``ROUTES`` table says which topic and event type reach it; ``ServiceDeps`` is a dataclass
whose fields are the repositories (and settings) it needs. The runtime fills it with repositories over
the real store, the unit-test harness with in-memory ones: handlers never know which.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from alliance.contracts.base import EventData
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import Markings
from alliance.contracts.registry import Registry
from alliance.domain.principals import Sender
from alliance.domain.release import may_see

__all__ = ["INTAKE_GROUP", "Deps", "Handler", "Received", "RegistryView", "Route", "Sender", "inject"]

D_co = TypeVar("D_co", bound=EventData, covariant=True)
Deps = TypeVar("Deps")

INTAKE_GROUP = "intake"


@dataclass(frozen=True)
class RegistryView:
    """The agency registry as it stands when a handler runs, for a handler that decides over every agency
    (e.g. who may know each record a sanitised statistic counts). A handler dependency like a repository."""

    current: Callable[[], Registry]


@dataclass(frozen=True)
class Received(Generic[D_co]):
    """An event accepted by the envelope, sender and contract checks, handed to a domain handler."""

    event: CloudEvent
    data: D_co
    topic: str
    sender: Sender | None = None  # None for facts of Alliance services (their topic's ACL proves them)
    registry: Registry | None = None  # the registry the sender was authenticated under (intake only)

    def may_see(self, markings: Markings) -> bool:
        """Whether the sender may know of a record under ``markings`` (always, for a service's fact).

        A request about a record the sender may not see is refused as if the record did not exist.
        """
        return self.sender is None or may_see(markings, self.sender.agency, self.registry)

    def consequence(self) -> Received[D_co]:
        """The same event, changing a further record as the consequence of a decision the domain already
        allowed on the record it is about: that record's visibility to the sender is not asked again."""
        return dataclasses.replace(self, sender=None, registry=None)

    @property
    def sender_country(self) -> str | None:
        """The authenticated sender's country (None for services' facts and unauthenticated tests)."""
        return self.sender.country if self.sender else None

    @property
    def sending_agency(self) -> str:
        """Who sent it: the authenticated agency, or for a service's fact its source."""
        return self.sender.agency if self.sender else self.event.source

    @property
    def occurred_at(self) -> datetime:
        """When the event happened or was reported (its ce_time, bounded by the envelope check).

        Legal deadlines run from this time, never from when Alliance processed the event, so consumer
        lag or a replay does not move them.
        """
        return self.event.time

    @property
    def cause(self) -> str:
        """Identifies the causing event (same source and id = same event) for idempotent changes."""
        return f"{self.event.source}|{self.event.id}"


Handler = Callable[[Received[Any], Deps], Awaitable[None]]


@dataclass(frozen=True)
class Route(Generic[Deps]):
    """Which records reach a handler: a topic, the consumer group reading it, and one event type.

    ``intake`` topics are written by agencies (an unknown type there is refused); other topics are
    services' fact streams (types nobody routes are skipped).
    """

    topic: str
    group: str
    event: type[EventData]
    handler: Handler[Deps]
    intake: bool

    @classmethod
    def intake_of(cls, topic: str, event: type[EventData], handler: Handler[Deps]) -> Route[Deps]:
        return cls(topic, INTAKE_GROUP, event, handler, intake=True)

    @classmethod
    def facts_of(cls, topic: str, group: str, event: type[EventData], handler: Handler[Deps]) -> Route[Deps]:
        return cls(topic, group, event, handler, intake=False)


def inject(deps_type: type[Deps], provide: Callable[[type[Any]], object]) -> Deps:
    """The handlers' dependencies: each field of the dataclass ``deps_type`` provided by its type."""
    if not dataclasses.is_dataclass(deps_type):
        raise TypeError(f"{deps_type.__name__} must be a dataclass of the handlers' dependencies")
    hints = typing.get_type_hints(deps_type)
    return deps_type(**{f.name: provide(hints[f.name]) for f in dataclasses.fields(deps_type)})
