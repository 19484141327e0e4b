"""Outbox relay: publishes the events stored inside aggregates, then advances their cursor.

A handler stores a record and its events in one update, then asks the relay to flush that record at
once (low latency). A background sweep publishes anything left behind by a crash or an outage.
Delivery is at least once: a crash between publishing and marking republishes the same event ids,
which consumers treat as duplicates.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from alliance.retry import until_available
from alliance.settings import Settings
from alliance.store import Document, PendingEvent, now, record_lock

log = structlog.get_logger(__name__)

Publish = Callable[[PendingEvent], Awaitable[None]]


class OutboxRelay:
    def __init__(
        self, db: AsyncDatabase[Document], collections: list[str], publish: Publish, settings: Settings
    ) -> None:
        self._db = db
        self._collections = collections
        self._publish = publish
        self._settings = settings
        self.published = 0

    async def flush(self, collection: str, record_id: str) -> None:
        """Publish the unpublished events of one record, in order, holding the record's lock."""
        async with record_lock(self._db, collection, record_id, self._settings):
            await self.flush_held(collection, record_id)

    async def flush_held(self, collection: str, record_id: str) -> None:
        """:meth:`flush` for a caller that already holds the record's lock."""
        coll = self._db[collection]
        doc = await self._retry("read", lambda: coll.find_one({"_id": record_id}))
        if doc is None:
            return
        outbox = doc.get("outbox", [])
        start = int(doc.get("outbox_published", 0))
        for entry in outbox[start:]:
            pending = PendingEvent.from_document(entry)
            await self._retry(f"publish {pending.event.type}", functools.partial(self._publish, pending))
            self.published += 1
        done = len(outbox)
        # Clear the pending flag only if nothing was appended meanwhile (same version).
        result = await self._retry(
            "mark published",
            lambda: coll.update_one(
                {"_id": record_id, "version": doc["version"]},
                {"$set": {"outbox_published": done, "outbox_pending": False}},
            ),
        )
        if result.matched_count == 0:
            await self._retry(
                "advance cursor",
                lambda: coll.update_one({"_id": record_id}, {"$max": {"outbox_published": done}}),
            )

    async def sweep(self, grace: timedelta | None = None) -> int:
        """Flush every record with pending events older than ``grace``; returns how many records."""
        cutoff = now() - (grace if grace is not None else timedelta(seconds=self._settings.outbox_sweep_seconds))
        flushed = 0
        for collection in self._collections:
            query = {"outbox_pending": True, "outbox_updated_at": {"$lt": cutoff}}
            pending = await self._retry(f"scan {collection}", functools.partial(self._pending_ids, collection, query))
            for record_id in pending:
                await self.flush(collection, record_id)
                flushed += 1
        return flushed

    async def _pending_ids(self, collection: str, query: Document) -> list[str]:
        return [doc["_id"] async for doc in self._db[collection].find(query, projection={"_id": 1})]

    async def run_forever(self) -> None:
        interval = self._settings.outbox_sweep_seconds
        while True:
            try:
                count = await self.sweep()
                if count:
                    log.info("outbox sweep published left-over events", records=count)
            except asyncio.CancelledError:
                raise
            except Exception:  # the sweep must outlive any single failure
                log.exception("outbox sweep failed")
            await asyncio.sleep(interval)

    async def _retry(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await until_available(
            op,
            what=f"outbox {what}",
            initial=self._settings.retry_initial_seconds,
            maximum=self._settings.retry_max_seconds,
        )
