"""Batches of consumed records: each record is decided as if alone, their writes and facts go together.

A record's handler commits exactly as without batches: the journal insert is the commit, so a
conflict, a stored record found again and a refusal are all known at once. What follows a commit
(outbox entry, cards, head, due deadline; see :mod:`alliance.runtime.store`) is idempotent and is
deferred: the batch writes it for all its records with one bulk write per collection, publishes the
facts of all of them, and removes their outbox entries with one more. Offsets are committed after
that, once per batch.

Two rules keep every decision the one a record alone would reach:

- **A handler reads its own writes.** Before any read, the deferred writes of the record being
  handled are applied. Two handlers that each store something and then look for the other (a
  fugitive and a detained person, in two services' instances) still cannot both miss.
- **The journal decides.** Another record's deferred head may be a version behind; a handler that
  decides from it commits a version that exists already, rolls the head forward and decides again,
  as it does against another instance.

A crash before the batch's writes leaves journal entries ahead of heads, exactly the state a crash
between two writes leaves without batches: the redelivered records roll them forward.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from alliance.application.records import Document, PendingEvent
    from alliance.runtime.store import AggregateStore

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Deferred:
    """A committed version whose outbox entry, cards, head and deadline are still to be written."""

    store: AggregateStore
    entry: Document
    deadline_changed: bool


@dataclass
class Publication:
    """The facts of one committed version, published once its writes are done."""

    collection: str
    record_id: str
    version: int
    events: list[PendingEvent]


@dataclass
class RecordWork:
    """What the record being handled has committed but not yet applied."""

    deferred: list[Deferred] = field(default_factory=list)


@dataclass
class BatchWork:
    """What the records of one batch leave to do once every one of them is decided."""

    apply: Callable[[Sequence[Deferred]], Awaitable[None]]
    publish: Callable[[Sequence[Publication]], Awaitable[None]]
    linger: float = 0.1  # seconds a decided record's writes and facts may wait for others'
    deferred: list[Deferred] = field(default_factory=list)
    publications: list[Publication] = field(default_factory=list)
    _finishing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _since: float | None = None  # when the oldest work not finished yet was decided

    async def finish(self) -> None:
        """Write what the decided records deferred, then publish their facts (and remove the outbox
        entries). One at a time, so a record's versions are published in order."""
        async with self._finishing:
            self._since = None
            deferred, self.deferred = self.deferred, []
            publications, self.publications = self.publications, []
            if deferred:
                await self.apply(deferred)
            if publications:
                await self.publish(publications)

    async def decided(self) -> None:
        """A record is decided: finish if the oldest unfinished work has waited ``linger`` (a long batch
        publishes as it goes; its offsets are still committed once, at its end)."""
        now = asyncio.get_running_loop().time()
        if self._since is None:
            self._since = now
        elif now - self._since >= self.linger:
            await self.finish()


_batch: ContextVar[BatchWork | None] = ContextVar("alliance_batch", default=None)
_record: ContextVar[RecordWork | None] = ContextVar("alliance_batch_record", default=None)


def current_batch() -> BatchWork | None:
    return _batch.get()


def current_record() -> RecordWork | None:
    return _record.get()


class batch:
    """Within it, commits defer their writes and publications to the returned :class:`BatchWork`."""

    def __init__(
        self,
        apply: Callable[[Sequence[Deferred]], Awaitable[None]],
        publish: Callable[[Sequence[Publication]], Awaitable[None]],
        linger: float,
    ) -> None:
        self.work = BatchWork(apply, publish, linger)
        self._token: Any = None

    def __enter__(self) -> BatchWork:
        self._token = _batch.set(self.work)
        return self.work

    def __exit__(self, *exc: object) -> None:
        _batch.reset(self._token)


async def handling_record(work: BatchWork, handle: Callable[[], Awaitable[Any]]) -> Any:
    """Handle one record of ``work``'s batch: its commits defer their writes, which join the batch's."""
    record = RecordWork()
    token = _record.set(record)
    try:
        outcome = await handle()
    finally:
        _record.reset(token)
        work.deferred.extend(record.deferred)
    await work.decided()
    return outcome


def group_in_order(items: Sequence[V], key: Callable[[V], K]) -> dict[K, list[V]]:
    """Items grouped by ``key``, each group in the items' order (a partition's records, a record's facts)."""
    groups: dict[K, list[V]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


async def each_group(groups: dict[K, list[V]], step: Callable[[V], Awaitable[Any]]) -> list[BaseException]:
    """Run ``step`` over each group's items in order, the groups concurrently; the failures, if any."""

    async def run(items: list[V]) -> None:
        for item in items:
            await step(item)

    results = await asyncio.gather(*(run(items) for items in groups.values()), return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]
