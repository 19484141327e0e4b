"""Outbox crash recovery against the real store (FerretDB started by the test command)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from alliance.envelope import CloudEvent
from alliance.markings import TLP, Markings
from alliance.outbox import OutboxRelay
from alliance.settings import Settings
from alliance.store import AggregateStore, ConcurrentUpdateError, PendingEvent

pytestmark = pytest.mark.e2e

MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("US",), originators=("us-atf",))


def pending(record_id: str, n: int) -> PendingEvent:
    event = CloudEvent(
        id=f"{record_id}-{n}",
        source="urn:alliance:service:test",
        type="org.alliance.test.happened.v1",
        time=datetime.now(UTC),
        markings=MARKINGS,
        data={"n": n},
    )
    return PendingEvent(topic="t", key=record_id, event=event)


@pytest.fixture
async def db(stack: None) -> AsyncIterator[object]:
    settings = Settings()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongo_uri, tz_aware=True)
    name = f"test_outbox_{uuid.uuid4().hex[:8]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


async def test_sweep_publishes_what_a_crash_left_behind_in_order_and_only_once(db: object) -> None:
    settings = Settings()
    store = AggregateStore(db, "records", settings)  # type: ignore[arg-type]
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event.id)

    # A record stored with its events, then the process "crashed" before flushing.
    assert await store.create("R1", {"status": "open"}, MARKINGS, [pending("R1", 1), pending("R1", 2)])
    assert not await store.create("R1", {"status": "open"}, MARKINGS, [pending("R1", 9)])  # redelivery: no-op
    await store.update("R1", 1, {"status": "closed"}, [pending("R1", 3)])
    with pytest.raises(ConcurrentUpdateError):
        await store.update("R1", 1, {"status": "reopened"}, [])

    relay = OutboxRelay(db, ["records"], publish, settings)  # type: ignore[arg-type]
    assert await relay.sweep(grace=timedelta(seconds=-1)) == 1
    assert published == ["R1-1", "R1-2", "R1-3"]

    assert await relay.sweep(grace=timedelta(seconds=-1)) == 0
    await relay.flush("records", "R1")
    assert published == ["R1-1", "R1-2", "R1-3"]
    doc = await store.get("R1")
    assert doc is not None
    assert (doc["outbox_published"], doc["outbox_pending"], doc["status"], doc["version"]) == (3, False, "closed", 2)


async def test_record_lock_serialises_writers_from_separate_clients(db: object) -> None:
    from alliance.store import record_lock

    settings = Settings()
    clients = [AsyncMongoClient(settings.mongo_uri, tz_aware=True) for _ in range(4)]
    name = db.name  # type: ignore[attr-defined]
    await clients[0][name]["counters"].insert_one({"_id": "c", "n": 0})

    async def increment(client: AsyncMongoClient[dict[str, object]]) -> None:
        database = client[name]
        for _ in range(10):
            async with record_lock(database, "counters", "c", settings):
                doc = await database["counters"].find_one({"_id": "c"})
                assert doc is not None
                await database["counters"].update_one({"_id": "c"}, {"$set": {"n": int(doc["n"]) + 1}})  # type: ignore[call-overload]

    try:
        await asyncio.gather(*(increment(c) for c in clients))
        final = await clients[0][name]["counters"].find_one({"_id": "c"})
        assert final is not None
        assert final["n"] == 40  # no lost update
        assert await clients[0][name]["_record_locks"].count_documents({}) == 0
    finally:
        for c in clients:
            await c.close()


async def test_a_new_record_keeps_its_empty_lists_and_nulls(db: object) -> None:
    store = AggregateStore(db, "records", Settings())  # type: ignore[arg-type]
    assert await store.create("R2", {"tags": [], "note": None, "n": 0}, MARKINGS, [])
    doc = await store.get("R2")
    assert doc is not None
    assert (doc["tags"], doc["note"], doc["n"]) == ([], None, 0)  # FerretDB's $setOnInsert would drop the first two
    assert not await store.create("R2", {"tags": ["x"]}, MARKINGS, [])  # an existing record is left alone
