"""Per-service MongoDB access (PyMongo async) and aggregates with their outbox inside the document.

There are no multi-document transactions (FerretDB lacks them, and they are not needed): a record and
the events it must publish are written by one single-document update. The relay
(:mod:`alliance.outbox`) publishes those events and advances the document's publication cursor.

Document layout kept by this module, beside the record's own fields::

    _id, version, markings, created_at, updated_at,
    outbox: [ {id, type, source, subject, time, topic, key, markings, data, traceparent}, ... ],
    outbox_published: <how many outbox entries have been published>,
    outbox_pending: <true while some are not>, outbox_updated_at
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance.envelope import CloudEvent
from alliance.markings import Markings
from alliance.retry import until_available
from alliance.settings import Settings

Document = dict[str, Any]


class ConcurrentUpdateError(RuntimeError):
    """The record changed since it was read; reload and decide again."""


class PendingEvent(BaseModel):
    """An event waiting in an aggregate's outbox, with where it must be published."""

    topic: str
    key: str
    event: CloudEvent

    def to_document(self) -> Document:
        return {"topic": self.topic, "key": self.key, **self.event.model_dump(mode="json")}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> PendingEvent:
        body = {k: v for k, v in doc.items() if k not in {"topic", "key"}}
        return cls(topic=doc["topic"], key=doc["key"], event=CloudEvent.model_validate(body))


def connect(settings: Settings) -> AsyncMongoClient[Document]:
    # Short server selection so an outage surfaces quickly and is retried by until_available.
    return AsyncMongoClient(settings.mongo_uri, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000, tz_aware=True)


def now() -> datetime:
    return datetime.now(UTC)


LOCKS = "_record_locks"
LOCK_LEASE = timedelta(seconds=30)


@asynccontextmanager
async def record_lock(
    db: AsyncDatabase[Document], collection: str, record_id: str, settings: Settings
) -> AsyncIterator[None]:
    """Serialise writers of one record across processes and instances.

    A version-checked update is atomic on MongoDB but not on FerretDB v1 (measured: two concurrent
    writers both "won" in 29 of 30 races), while inserting an existing ``_id`` is refused by both.
    So the lock is an inserted lease document; a holder that died loses it when the lease expires.
    """
    locks = db[LOCKS]
    key = f"{collection}:{record_id}"
    owner = uuid.uuid4().hex
    while True:
        try:
            await until_available(
                lambda: locks.insert_one({"_id": key, "owner": owner, "expires_at": now() + LOCK_LEASE}),
                what=f"lock {key}",
                initial=settings.retry_initial_seconds,
                maximum=settings.retry_max_seconds,
            )
            break
        except DuplicateKeyError:
            held = await locks.find_one({"_id": key})
            if held is not None and held["expires_at"] < now():
                await locks.delete_one({"_id": key, "owner": held["owner"]})  # the holder died: take over
                continue
            await asyncio.sleep(0.005 + random.random() * 0.02)  # another writer holds it briefly
    try:
        yield
    finally:
        await until_available(
            lambda: locks.delete_one({"_id": key, "owner": owner}),
            what=f"unlock {key}",
            initial=settings.retry_initial_seconds,
            maximum=settings.retry_max_seconds,
        )


class AggregateStore:
    """Stores one kind of aggregate: the record, its version and its outbox in a single document."""

    def __init__(self, db: AsyncDatabase[Document], collection: str, settings: Settings) -> None:
        self.collection: AsyncCollection[Document] = db[collection]
        self.name = collection
        self._settings = settings

    async def _retrying(self, what: str, op: Any) -> Any:
        return await until_available(
            op,
            what=f"{self.name}: {what}",
            initial=self._settings.retry_initial_seconds,
            maximum=self._settings.retry_max_seconds,
        )

    async def create(self, record_id: str, fields: Document, markings: Markings, events: list[PendingEvent]) -> bool:
        """Insert a new record with its events, unless it exists already (then nothing changes).

        Returns True when this call created it. Ids are deterministic, so a redelivered event that
        creates the same record is a harmless no-op.
        """
        stamp = now()
        document = {
            **fields,
            "markings": markings.model_dump(mode="json"),
            "version": 1,
            "created_at": stamp,
            "updated_at": stamp,
            "outbox": [e.to_document() for e in events],
            "outbox_published": 0,
            "outbox_pending": bool(events),
            "outbox_updated_at": stamp,
        }
        try:
            # A plain insert, not an upsert with $setOnInsert: FerretDB v1 drops empty arrays and nulls
            # from $setOnInsert documents (MongoDB keeps them); an existing _id is refused by both.
            await self._retrying("create", lambda: self.collection.insert_one({"_id": record_id, **document}))
        except DuplicateKeyError:
            return False  # created before (redelivery) or concurrently by another writer: ids are deterministic
        return True

    def locked(self, record_id: str) -> Any:
        """``async with store.locked(id):`` — see :func:`record_lock`."""
        return record_lock(self.collection.database, self.name, record_id, self._settings)

    async def update(
        self,
        record_id: str,
        expected_version: int,
        changes: Document,
        events: list[PendingEvent],
        markings: Markings | None = None,
    ) -> None:
        """Apply ``changes`` and append ``events`` if the record is still at ``expected_version``."""
        stamp = now()
        update: Document = {
            "$set": {
                **changes,
                "updated_at": stamp,
                "outbox_updated_at": stamp,
                **({"markings": markings.model_dump(mode="json")} if markings else {}),
                **({"outbox_pending": True} if events else {}),
            },
            "$inc": {"version": 1},
        }
        if events:
            update["$push"] = {"outbox": {"$each": [e.to_document() for e in events]}}
        result = await self._retrying(
            "update",
            lambda: self.collection.update_one({"_id": record_id, "version": expected_version}, update),
        )
        if result.matched_count == 0:
            raise ConcurrentUpdateError(f"{self.name} {record_id} is no longer at version {expected_version}")

    async def due_for_escalation(self, now: datetime) -> list[str]:
        """Ids of records whose next deadline escalation time has passed."""

        async def run() -> list[str]:
            cursor = self.collection.find({"next_deadline_at": {"$lte": now}}, projection={"_id": 1})
            return [doc["_id"] async for doc in cursor]

        ids: list[str] = await self._retrying("deadline scan", run)
        return ids

    async def get(self, record_id: str) -> Document | None:
        doc: Document | None = await self._retrying("get", lambda: self.collection.find_one({"_id": record_id}))
        return doc

    async def find(
        self, query: Document, *, limit: int = 0, sort: list[tuple[str, int]] | None = None
    ) -> list[Document]:
        async def run() -> list[Document]:
            cursor = self.collection.find(query, projection={"outbox": 0}, limit=limit, sort=sort)
            return [doc async for doc in cursor]

        docs: list[Document] = await self._retrying("find", run)
        return docs
