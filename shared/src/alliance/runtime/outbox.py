"""Outbox relay: publishes committed events, then removes their outbox entry.

A handler commits a change (its events go into ``_outbox`` with the commit) and publishes them at
once (low latency). A background sweep publishes whatever a crash or an outage left behind; with
several instances, each left-over entry is claimed by one of them (see :meth:`OutboxRelay._claim`). It reads
only ``_outbox`` — pending entries, a small collection whatever the amount of data — and it isolates
entries: one that cannot be published is logged, counted and retried later with backoff, while the
others go on. Delivery is at least once: a crash between publishing and removing republishes the
same event ids, which consumers treat as duplicates.

The relay also knows the outbox lag without asking the store (:meth:`OutboxRelay.lag_seconds`, read by
each metrics scrape): the age of the oldest entry it is publishing now, or that its last sweep found
and left (claimed by another instance, postponed after a failure).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from pymongo import DeleteOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance.application.records import Document, PendingEvent
from alliance.runtime.batches import Publication, current_batch, each_group, group_in_order
from alliance.runtime.retry import is_transient, waiting
from alliance.runtime.settings import Settings
from alliance.runtime.store import CLAIMS, OUTBOX, now, outbox_id

log = structlog.get_logger(__name__)

Publish = Callable[[PendingEvent], Awaitable[None]]

SWEEP_BATCH = 500  # entries read per sweep pass; the next pass takes the rest
MAX_BACKOFF = timedelta(minutes=10)
CLAIM_LEASE = timedelta(seconds=60)


class OutboxRelay:
    def __init__(self, db: AsyncDatabase[Document], publish: Publish, settings: Settings) -> None:
        self._outbox = db[OUTBOX]
        self._claims = db[CLAIMS]
        self._publish = publish
        self._settings = settings
        self.published = 0
        self.failures = 0  # entries that could not be published (not an outage); retried later
        self._publishing: dict[str, datetime] = {}  # entries being published now: since when they wait
        self._left_over: datetime | None = None  # the oldest entry the last sweep found and did not publish

    def lag_seconds(self) -> float:
        """Age of the oldest unpublished event this relay knows of (0: none), from memory alone.

        Entries being published, and the oldest one the last sweep left; an entry whose publication
        failed is seen by the next sweep, so the figure may lag the outbox by one sweep interval (and
        miss entries past the first :data:`SWEEP_BATCH` of a sweep).
        """
        waiting_since = [*self._publishing.values(), *([self._left_over] if self._left_over else [])]
        return max((now() - min(waiting_since)).total_seconds(), 0.0) if waiting_since else 0.0

    async def flush(self, collection: str, record_id: str, version: int, events: list[PendingEvent]) -> None:
        """Publish a just-committed version's events in order, then remove its outbox entry (in a batch:
        once the batch's writes are done, with the others')."""
        publication = Publication(collection, record_id, version, events)
        work = current_batch()
        if work is not None:
            work.publications.append(publication)
        else:
            await self.publish_all([publication])

    async def publish_all(self, publications: Sequence[Publication]) -> None:
        """Publish committed versions' events, each record's in order, records concurrently; then remove
        their outbox entries with one write."""

        done: list[str] = []
        entries = [outbox_id(p.collection, p.record_id, p.version) for p in publications]
        started = now()
        for entry in entries:
            self._publishing.setdefault(entry, started)  # the outbox lag counts them until removed

        async def publish(publication: Publication) -> None:
            for pending in publication.events:
                await self._retry(f"publish {pending.event.type}", functools.partial(self._publish, pending))
                self.published += 1
            done.append(outbox_id(publication.collection, publication.record_id, publication.version))

        try:
            # An outage is waited out inside; any other failure leaves that record's entries to the sweep.
            failures = await each_group(group_in_order(publications, lambda p: (p.collection, p.record_id)), publish)
            if done:
                removals = [DeleteOne({"_id": entry}) for entry in done]
                await self._retry("remove", lambda: self._outbox.bulk_write(removals, ordered=False))
        finally:
            for entry in entries:
                self._publishing.pop(entry, None)  # published, or left for the sweep (which will see it)
        if failures:
            raise failures[0]

    async def sweep(self, grace: timedelta | None = None) -> int:
        """Publish entries older than ``grace`` (left by a crash or an outage); returns how many."""
        cutoff = now() - (grace if grace is not None else timedelta(seconds=self._settings.outbox_sweep_seconds))
        found = await self._retry("scan", functools.partial(self._left_behind, cutoff))
        left = {e["_id"]: e["created_at"] for e in found}  # unpublished, as far as this pass knows
        self._left_over = min(left.values(), default=None)
        moment = now()
        # Not those this process is publishing right now (a batch's, written a moment before): the
        # sweep is for what a crash or an outage left, and would publish them a second time.
        entries = [
            e
            for e in found
            if (e.get("retry_at") is None or e["retry_at"] <= moment) and e["_id"] not in self._publishing
        ]
        done = 0
        # Oldest first: a record's versions are published in order.
        for entry in sorted(entries, key=lambda e: (e["collection"], e["record"], e["version"])):
            try:
                if not await self._claim(entry):
                    continue  # another instance holds it
                current = await self._retry("re-read", functools.partial(self._outbox.find_one, {"_id": entry["_id"]}))
                if current is None or (current.get("retry_at") and current["retry_at"] > now()):
                    await self._release(entry)  # published (or postponed) by another instance meanwhile
                    if current is None:
                        left.pop(entry["_id"], None)
                    continue
                await self._publish_entry(current)
                left.pop(entry["_id"], None)
                self._left_over = min(left.values(), default=None)
                done += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise  # an outage: the whole pass waits for the next one
                self.failures += 1
                log.exception("outbox entry could not be published", entry=entry["_id"])
                await self._postpone(entry)
        self._left_over = min(left.values(), default=None)
        return done

    async def _left_behind(self, cutoff: Any) -> list[Document]:
        """Entries older than ``cutoff`` (postponed ones included: they count in the lag)."""
        cursor = self._outbox.find({"created_at": {"$lt": cutoff}}, limit=SWEEP_BATCH)
        return [doc async for doc in cursor]

    async def _claim(self, entry: Document) -> bool:
        """Claim a left-over entry so that one instance publishes it (fenced by the entry's epoch).

        The claim is a unique insert of ``<entry>#<epoch>``: of several instances sweeping, one wins.
        A claim older than :data:`CLAIM_LEASE` belongs to an instance that died or stalled: the next
        sweeper moves the entry to the next epoch and claims that instead. A stalled holder that wakes
        up can at worst publish the same event ids again, which consumers drop as duplicates.
        """
        epoch = int(entry.get("epoch", 0))
        claim = {"_id": f"{entry['_id']}#{epoch}", "at": now()}
        try:
            await self._retry("claim", lambda: self._claims.insert_one(claim))
            return True
        except DuplicateKeyError:
            held = await self._retry("claim", lambda: self._claims.find_one({"_id": claim["_id"]}))
            if held is None or now() - held["at"] < CLAIM_LEASE:
                return False
            await self._retry(
                "claim", lambda: self._outbox.update_one({"_id": entry["_id"]}, {"$set": {"epoch": epoch + 1}})
            )
            entry["epoch"] = epoch + 1
            return await self._claim(entry)

    async def _release(self, entry: Document) -> None:
        claim = f"{entry['_id']}#{int(entry.get('epoch', 0))}"
        await self._retry("release", lambda: self._claims.delete_one({"_id": claim}))

    async def _publish_entry(self, entry: Document) -> None:
        for doc in entry["events"]:
            pending = PendingEvent.from_document(doc)
            await self._retry(f"publish {pending.event.type}", functools.partial(self._publish, pending))
            self.published += 1
        await self._retry("remove", lambda: self._outbox.delete_one({"_id": entry["_id"]}))
        await self._release(entry)  # after the removal: whoever claims next finds the entry gone

    async def _postpone(self, entry: Document) -> None:
        attempts = int(entry.get("attempts", 0)) + 1
        wait = min(timedelta(seconds=2**attempts), MAX_BACKOFF)
        await self._retry(
            "postpone",
            lambda: self._outbox.update_one(
                {"_id": entry["_id"]}, {"$set": {"attempts": attempts, "retry_at": now() + wait}}
            ),
        )
        await self._release(entry)

    async def run_forever(self) -> None:
        interval = self._settings.outbox_sweep_seconds
        while True:
            try:
                count = await self.sweep()
                if count:
                    log.info("outbox sweep published left-over events", entries=count)
            except asyncio.CancelledError:
                raise
            except Exception:  # the sweep must outlive any single failure
                log.exception("outbox sweep failed")
            await asyncio.sleep(interval)

    async def _retry(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await waiting(self._settings, f"outbox {what}", op)
