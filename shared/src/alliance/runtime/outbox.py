"""Outbox relay: publishes committed events, then removes their outbox entry.

A handler commits a change (its events go into ``_outbox`` with the commit) and publishes them at
once (low latency). A background sweep publishes whatever a crash or an outage left behind; with
several instances, each left-over entry is claimed by one of them (see :meth:`OutboxRelay._claim`). It reads
only ``_outbox`` — pending entries, a small collection whatever the amount of data — and it isolates
entries: one that cannot be published is logged, counted and retried later with backoff, while the
others go on. Delivery is at least once: a crash between publishing and removing republishes the
same event ids, which consumers treat as duplicates.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
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

        async def publish(publication: Publication) -> None:
            for pending in publication.events:
                await self._retry(f"publish {pending.event.type}", functools.partial(self._publish, pending))
                self.published += 1
            done.append(outbox_id(publication.collection, publication.record_id, publication.version))

        # An outage is waited out inside; any other failure leaves that record's entries to the sweep.
        failures = await each_group(group_in_order(publications, lambda p: (p.collection, p.record_id)), publish)
        if done:
            removals = [DeleteOne({"_id": entry}) for entry in done]
            await self._retry("remove", lambda: self._outbox.bulk_write(removals, ordered=False))
        if failures:
            raise failures[0]

    async def sweep(self, grace: timedelta | None = None) -> int:
        """Publish entries older than ``grace`` (left by a crash or an outage); returns how many."""
        cutoff = now() - (grace if grace is not None else timedelta(seconds=self._settings.outbox_sweep_seconds))
        entries = await self._retry("scan", functools.partial(self._due, cutoff))
        done = 0
        # Oldest first: a record's versions are published in order.
        for entry in sorted(entries, key=lambda e: (e["collection"], e["record"], e["version"])):
            try:
                if not await self._claim(entry):
                    continue  # another instance holds it
                current = await self._retry("re-read", functools.partial(self._outbox.find_one, {"_id": entry["_id"]}))
                if current is None or (current.get("retry_at") and current["retry_at"] > now()):
                    await self._release(entry)  # published (or postponed) by another instance meanwhile
                    continue
                await self._publish_entry(current)
                done += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise  # an outage: the whole pass waits for the next one
                self.failures += 1
                log.exception("outbox entry could not be published", entry=entry["_id"])
                await self._postpone(entry)
        return done

    async def _due(self, cutoff: Any) -> list[Document]:
        cursor = self._outbox.find({"created_at": {"$lt": cutoff}}, limit=SWEEP_BATCH)
        entries = [doc async for doc in cursor]
        moment = now()
        return [e for e in entries if e.get("retry_at") is None or e["retry_at"] <= moment]

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
