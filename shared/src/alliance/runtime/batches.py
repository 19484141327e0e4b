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
    _timer: asyncio.Task[None] | None = None

    async def finish(self) -> None:
        """Write what the decided records deferred, then publish their facts (and remove the outbox
        entries). One at a time, so a record's versions are published in order."""
        async with self._finishing:
            deferred, self.deferred = self.deferred, []
            publications, self.publications = self.publications, []
            try:
                if deferred:
                    await self.apply(deferred)
                if publications:
                    await self.publish(publications)
            except BaseException:
                # Kept for the batch's end to try again (each write is idempotent); an outage is waited
                # out inside, so this is a failure the batch's end reports (its records are read again).
                self.deferred[:0], self.publications[:0] = deferred, publications
                raise

    def decided(self) -> None:
        """A record is decided: its work is finished within ``linger``, whatever the batch's other records
        are doing (one waiting for the record it refers to holds no other record's facts back)."""
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._finish_after_linger(), name="batch linger")

    async def _finish_after_linger(self) -> None:
        while self.deferred or self.publications:
            await asyncio.sleep(self.linger)
            try:
                await asyncio.shield(self.finish())  # once begun, a finish completes even if the batch ends
            except asyncio.CancelledError:
                raise
            except Exception:
                return  # the work was kept: the batch's end finishes it or reports why it cannot

    async def close(self) -> None:
        """The batch's end: what is left is finished now (its offsets are committed next)."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()  # asleep, or waiting on a finish that goes on shielded: ours waits for it
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
    work.decided()
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
