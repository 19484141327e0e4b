"""The store path on the real store (FerretDB started by the test command): commits by unique insert,
no lost update between separate clients, roll-forward after a crash between writes, outbox recovery."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from alliance.application.records import Catalogue, Commit, ConcurrentUpdateError, PendingEvent
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from alliance.runtime.batches import batch, handling_record
from alliance.runtime.outbox import OutboxRelay
from alliance.runtime.settings import Settings
from alliance.runtime.store import DEADLINES, OUTBOX, AggregateStore, StoreMeter, apply_committed, journal_id
from harness import MONGO_URI

pytestmark = pytest.mark.e2e

MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("US",), originators=("us-atf",))
T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)


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


def commit(
    record_id: str,
    version: int,
    state: dict[str, Any],
    *events: int,
    due: datetime | None = None,
    previous: datetime | None = None,
) -> Commit:
    return Commit(
        record_id, version, state, MARKINGS, [pending(record_id, n) for n in events], due, previous_deadline_at=previous
    )


@pytest.fixture
async def db(stack: None) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URI, tz_aware=True)  # the stack's, logged in
    name = f"test_store_{uuid.uuid4().hex[:8]}"
    yield client[name]
    await client.drop_database(name)
    await client.close()


async def test_one_commit_per_version_and_the_sweep_publishes_left_overs_in_order_once(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event.id)

    # Committed, then the process "crashed" before publishing.
    await store.commit(commit("R1", 1, {"status": "open"}, 1, 2))
    await store.commit(commit("R1", 2, {"status": "closed"}, 3))
    with pytest.raises(ConcurrentUpdateError):
        await store.commit(commit("R1", 2, {"status": "reopened"}, 9))  # decided from a stale version

    relay = OutboxRelay(db, publish, Settings())
    assert await relay.sweep(grace=timedelta(seconds=-1)) == 2
    assert published == ["R1-1", "R1-2", "R1-3"]
    assert await relay.sweep(grace=timedelta(seconds=-1)) == 0
    assert published == ["R1-1", "R1-2", "R1-3"]
    assert await db[OUTBOX].count_documents({}) == 0  # published entries are removed
    doc = await store.get("R1")
    assert doc is not None
    assert (doc["status"], doc["version"]) == ("closed", 2)


async def test_separate_clients_lose_no_update_without_any_lock(db: Any) -> None:
    settings = Settings()
    clients = [AsyncMongoClient[dict[str, Any]](MONGO_URI, tz_aware=True) for _ in range(4)]
    name = db.name
    await AggregateStore(db, "counters", settings).commit(commit("c", 1, {"n": 0}))
    conflicts = 0

    async def increment(client: AsyncMongoClient[dict[str, Any]]) -> None:
        nonlocal conflicts
        store = AggregateStore(client[name], "counters", settings)
        for _ in range(10):
            while True:
                doc = await store.get("c")
                assert doc is not None
                try:
                    await store.commit(commit("c", doc["version"] + 1, {"n": doc["n"] + 1}))
                    break
                except ConcurrentUpdateError:
                    conflicts += 1

    try:
        await asyncio.gather(*(increment(c) for c in clients))
        final = await AggregateStore(db, "counters", settings).get("c")
        assert final is not None
        assert (final["n"], final["version"]) == (40, 41)  # no lost update
        assert await db["counters.journal"].count_documents({}) == 41
    finally:
        for c in clients:
            await c.close()


async def test_a_crash_after_the_commit_is_completed_by_the_next_writer(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    await store.commit(commit("R3", 1, {"status": "open"}, due=T0))
    # A writer commits version 2 (journal entry) and dies before outbox, head and deadline are written.
    entry = commit("R3", 2, {"status": "closed"}, 7, due=T0 + timedelta(days=1))
    await store.journal.insert_one(
        {
            "_id": "R3@0000000002",
            "record": "R3",
            "version": 2,
            "state": entry.state,
            "markings": MARKINGS.model_dump(mode="json"),
            "events": [e.to_document() for e in entry.events],
            "next_deadline_at": entry.next_deadline_at,
            "cause": None,
            "committed_at": datetime.now(UTC),
        }
    )
    head = await store.get("R3")
    assert head is not None
    assert head["version"] == 1
    # The redelivered event decides again from version 1: the insert conflicts and rolls forward.
    with pytest.raises(ConcurrentUpdateError):
        await store.commit(commit("R3", 2, {"status": "closed"}, 7))
    head = await store.get("R3")
    assert head is not None
    assert (head["status"], head["version"]) == ("closed", 2)
    assert [e["_id"] for e in await db[OUTBOX].find({}).to_list()] == ["records|R3@0000000002"]
    deadline = await db[DEADLINES].find_one({"_id": "records|R3"})
    assert deadline is not None
    assert deadline["due_at"] == T0 + timedelta(days=1)


async def test_a_first_version_whose_head_was_never_written_is_found(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    entry = commit("R4", 1, {"status": "open"})
    await store.journal.insert_one(
        {
            "_id": "R4@0000000001",
            "record": "R4",
            "version": 1,
            "state": entry.state,
            "markings": MARKINGS.model_dump(mode="json"),
            "events": [],
            "next_deadline_at": None,
            "cause": None,
            "committed_at": datetime.now(UTC),
        }
    )
    doc = await store.get("R4")
    assert doc is not None
    assert doc["status"] == "open"


async def test_a_new_record_keeps_its_empty_lists_and_nulls(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    await store.commit(commit("R2", 1, {"tags": [], "note": None, "n": 0}))
    doc = await store.get("R2")
    assert doc is not None
    assert (doc["tags"], doc["note"], doc["n"]) == ([], None, 0)  # FerretDB's $setOnInsert would drop the first two
    with pytest.raises(ConcurrentUpdateError):
        await store.commit(commit("R2", 1, {"tags": ["x"]}))  # an existing record is left alone
    assert (await store.get("R2") or {})["tags"] == []


async def test_deadlines_are_indexed_per_record_and_removed_when_none_remain(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    await store.commit(commit("R5", 1, {}, due=T0))
    await store.commit(commit("R6", 1, {}, due=T0 + timedelta(hours=1)))
    due = await db[DEADLINES].find({"due_at": {"$lte": T0}}).to_list()
    assert [d["record"] for d in due] == ["R5"]
    await store.commit(commit("R5", 2, {}, due=T0 + timedelta(hours=2), previous=T0))
    moved = await db[DEADLINES].find_one({"record": "R5"})
    assert moved is not None
    assert moved["due_at"] == T0 + timedelta(hours=2)
    await store.commit(commit("R5", 3, {}, due=T0 + timedelta(hours=2), previous=T0 + timedelta(hours=2)))
    await store.commit(commit("R5", 4, {}, due=None, previous=T0 + timedelta(hours=2)))
    assert await db[DEADLINES].count_documents({"record": "R5"}) == 0


async def test_two_instances_sweeping_publish_each_left_over_event_once(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    for n in range(20):
        await store.commit(commit(f"L{n}", 1, {}, n))
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event.id)
        await asyncio.sleep(0)  # let the other instance interleave

    first, second = OutboxRelay(db, publish, Settings()), OutboxRelay(db, publish, Settings())
    counts = await asyncio.gather(first.sweep(grace=timedelta(seconds=-1)), second.sweep(grace=timedelta(seconds=-1)))
    assert sum(counts) == 20
    assert sorted(published) == sorted(f"L{n}-{n}" for n in range(20))
    assert await db[OUTBOX].count_documents({}) == 0
    assert await db["_claims"].count_documents({}) == 0


async def test_a_claim_left_by_a_dead_instance_is_taken_over_after_its_lease(db: Any) -> None:
    from alliance.runtime.outbox import CLAIM_LEASE

    store = AggregateStore(db, "records", Settings())
    await store.commit(commit("D1", 1, {}, 1))
    await db["_claims"].insert_one({"_id": "records|D1@0000000001#0", "at": datetime.now(UTC) - CLAIM_LEASE * 2})
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event.id)

    assert await OutboxRelay(db, publish, Settings()).sweep(grace=timedelta(seconds=-1)) == 1
    assert published == ["D1-1"]


PEOPLE = Catalogue(keys="keys", carries=("name",), cards=3)


async def cards_under(store: AggregateStore, key: str) -> list[tuple[str, int, str]]:
    cards = await store.cards_filed_under(key)
    return sorted((c["record"], c["version"], json.loads(c["summary"])["name"]) for c in cards)


async def test_cards_follow_every_version_and_a_crash_before_them_is_rolled_forward(db: Any) -> None:
    store = AggregateStore(db, "people", Settings(), PEOPLE)
    await store.ensure_indexes([])
    keys = [f"k{n}" for n in range(12)]
    await store.commit(commit("P1", 1, {"keys": keys, "name": "Ana"}))
    await store.commit(commit("P2", 1, {"keys": ["k0"], "name": "Eva"}))
    assert await cards_under(store, "k0") == [("P1", 1, "Ana"), ("P2", 1, "Eva")]
    for key in keys[1:]:
        assert await cards_under(store, key) == [("P1", 1, "Ana")]
    assert await db["people.cards"].count_documents({"record": "P1"}) == 3  # every key on one of three cards
    found = [c async for c in db["people.cards"].find({"record": "P1"})]
    assert sorted(k for c in found for k in c["keys"]) == sorted(keys)

    # Version 2 drops k0 and renames: its cards replace version 1's.
    await store.commit(commit("P1", 2, {"keys": keys[1:], "name": "Ana María"}))
    assert await cards_under(store, "k0") == [("P2", 1, "Eva")]
    assert await cards_under(store, "k5") == [("P1", 2, "Ana María")]

    # A slower writer of version 2's cards and head arriving after version 3's does not move them back.
    await store.commit(commit("P1", 3, {"keys": ["k99"], "name": "Ana"}))
    await store._apply(await store.journal.find_one({"_id": journal_id("P1", 2)}))
    assert (await store.get("P1") or {}).get("version") == 3
    assert await cards_under(store, "k5") == []
    assert await cards_under(store, "k99") == [("P1", 3, "Ana")]

    # A writer commits version 4 (journal entry) and dies before the cards and the head are written.
    state = {"keys": ["k42"], "name": "Ana"}
    await store.journal.insert_one(
        {
            "_id": "P1@0000000004",
            "record": "P1",
            "version": 4,
            "state": state,
            "markings": MARKINGS.model_dump(mode="json"),
            "events": [],
            "next_deadline_at": None,
            "cause": None,
            "committed_at": datetime.now(UTC),
        }
    )
    assert await cards_under(store, "k42") == []
    with pytest.raises(ConcurrentUpdateError):  # the redelivered event decides again from version 3
        await store.commit(commit("P1", 4, state))
    assert await cards_under(store, "k42") == [("P1", 4, "Ana")]
    assert await cards_under(store, "k99") == []


async def test_cards_are_indexed_by_their_keys(db: Any) -> None:
    """FerretDB answers an unindexed filter by reading every card (the bench measures the indexed one)."""
    store = AggregateStore(db, "people", Settings(), PEOPLE)
    await store.ensure_indexes([])
    await store.ensure_indexes([])  # idempotent
    info = await db["people.cards"].index_information()
    assert [spec["key"] for name, spec in info.items() if name != "_id_"] == [[("keys", 1)]]


async def test_a_record_is_counted_once_where_it_is_first_stored(db: Any) -> None:
    counted: list[tuple[str, int]] = []
    store = AggregateStore(db, "records", Settings(), stored=lambda name, n: counted.append((name, n)))
    assert await store.estimated_count() == -1  # no such collection yet: no estimate, and nothing read
    await store.commit(commit("R1", 1, {"status": "open"}))
    await store.commit(commit("R1", 2, {"status": "closed"}))  # a change: not a new record
    with pytest.raises(ConcurrentUpdateError):
        await store.commit(commit("R1", 1, {"status": "again"}))  # a second writer of the first version
    await store.commit(commit("R2", 1, {"status": "open"}))
    assert counted == [("records", 1), ("records", 1)]
    assert await store.estimated_count() >= -1  # PostgreSQL's estimate: -1 until the table is analysed


async def test_the_relay_knows_the_outbox_lag_without_asking_the_store(db: Any) -> None:
    store = AggregateStore(db, "records", Settings())
    started, release = asyncio.Event(), asyncio.Event()
    failing = True

    async def publish(event: PendingEvent) -> None:
        if event.event.id.startswith("R2") and failing:
            raise ValueError("cannot be published yet")
        started.set()
        await release.wait()

    relay = OutboxRelay(db, publish, Settings())
    assert relay.lag_seconds() == 0
    await store.commit(commit("R1", 1, {"status": "open"}, 1))
    flushing = asyncio.create_task(relay.flush("records", "R1", 1, [pending("R1", 1)]))
    await started.wait()  # the flush now waits on the broker
    assert relay.lag_seconds() > 0
    release.set()
    await flushing
    assert relay.lag_seconds() == 0

    await store.commit(commit("R2", 1, {"status": "open"}, 1))  # committed; then the process "crashed"
    assert await relay.sweep(grace=timedelta(seconds=-1)) == 0  # found, failed, postponed
    assert relay.lag_seconds() > 0  # what the sweep left is still waiting
    failing = False
    await db[OUTBOX].update_many({}, {"$unset": {"retry_at": ""}})  # its retry is due now
    assert await relay.sweep(grace=timedelta(seconds=-1)) == 1
    assert relay.lag_seconds() == 0


# -- batches: each record decided as if alone, the batch's writes and facts together ----------------


@pytest.fixture
async def metered() -> AsyncIterator[tuple[Any, StoreMeter]]:
    meter = StoreMeter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URI, tz_aware=True, event_listeners=[meter])
    name = f"test_batch_{uuid.uuid4().hex[:8]}"
    yield client[name], meter
    await client.drop_database(name)
    await client.close()


async def test_a_batch_writes_its_records_together_and_publishes_each_records_facts_in_order(
    metered: tuple[Any, StoreMeter],
) -> None:
    db, meter = metered
    people = AggregateStore(db, "people", Settings(), PEOPLE)
    cases = AggregateStore(db, "cases", Settings())
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event.id)

    relay = OutboxRelay(db, publish, Settings())
    await people.ensure_indexes([])
    await cases.collection.insert_one({"_id": "warm-up"})  # collections exist before counting commands
    before = meter.commands

    async def decide(n: int) -> None:
        await people.commit(commit(f"P{n}", 1, {"keys": [f"k{n}", "common"], "name": f"N{n}"}, 1))
        await cases.commit(commit(f"C{n}", 1, {"status": "open"}, 1, due=T0 + timedelta(days=n)))
        due = T0 + timedelta(days=n)  # version 2 keeps version 1's deadline: the latest one written is v1's due
        await cases.commit(commit(f"C{n}", 2, {"status": "open", "step": 2}, 2, due=due, previous=due))
        await relay.flush("people", f"P{n}", 1, [pending(f"P{n}", 1)])
        await relay.flush("cases", f"C{n}", 1, [pending(f"C{n}", 1)])
        await relay.flush("cases", f"C{n}", 2, [pending(f"C{n}", 2)])

    with batch(apply_committed, relay.publish_all, linger=3600) as work:
        for n in range(20):
            await handling_record(work, lambda n=n: decide(n))
        # Decided, not yet written: the journal holds the commits, the heads are not there yet.
        assert await db["cases"].count_documents({"_id": {"$ne": "warm-up"}}) == 0
        assert await db["cases.journal"].count_documents({}) == 40
        await work.close()

    # 60 journal inserts, one at a time (each commit is decided by its insert); then one bulk write
    # per collection: outbox, people's cards, people's heads, cases' heads (inserted, then replaced by
    # version 2), deadlines, and the outbox entries' removal once published (and this test's two counts).
    assert meter.commands - before == 60 + 1 + 1 + 1 + 2 + 1 + 1 + 2
    assert sorted(published) == sorted([f"{r}{n}-1" for r in "PC" for n in range(20)] + [f"C{n}-2" for n in range(20)])
    assert all(published.index(f"C{n}-1") < published.index(f"C{n}-2") for n in range(20))
    assert await db[OUTBOX].count_documents({}) == 0
    heads = {doc["_id"]: doc async for doc in db["cases"].find({"_id": {"$ne": "warm-up"}})}
    assert {k: (v["version"], v.get("step")) for k, v in heads.items()} == {f"C{n}": (2, 2) for n in range(20)}
    assert await db[DEADLINES].count_documents({}) == 20
    cards = [c async for c in db["people.cards"].find({"keys": "common"})]
    assert sorted(c["record"] for c in cards) == sorted(f"P{n}" for n in range(20))


async def test_a_handler_reads_its_own_writes_and_a_redelivered_batch_changes_nothing(
    metered: tuple[Any, StoreMeter],
) -> None:
    db, _ = metered
    cases = AggregateStore(db, "cases", Settings())
    published: list[str] = []

    async def publish(event: PendingEvent) -> None:
        published.append(event.event.id)

    relay = OutboxRelay(db, publish, Settings())
    seen: list[Any] = []

    async def decide() -> None:
        await cases.commit(commit("C1", 1, {"status": "open"}, 1))
        await relay.flush("cases", "C1", 1, [pending("C1", 1)])
        seen.append(await cases.get("C1"))  # before the batch is finished

    with batch(apply_committed, relay.publish_all, linger=3600) as work:
        await handling_record(work, decide)
        await work.close()
    assert seen[0] is not None
    assert seen[0]["status"] == "open"

    # The same batch again (its offsets were not committed before a crash): the commit is refused by
    # its journal entry and nothing else is written.
    with batch(apply_committed, relay.publish_all, linger=3600) as work:
        with pytest.raises(ConcurrentUpdateError):
            await handling_record(work, decide)
        await work.close()
    assert await db["cases.journal"].count_documents({}) == 1
    assert published == ["C1-1"]
    assert await db[OUTBOX].count_documents({}) == 0


async def test_a_crash_before_the_batch_is_written_is_rolled_forward(metered: tuple[Any, StoreMeter]) -> None:
    db, _ = metered
    cases = AggregateStore(db, "cases", Settings())
    relay = OutboxRelay(db, _no_publication, Settings())

    async def decide() -> None:
        await cases.commit(commit("C1", 1, {"status": "open"}, 1, due=T0))

    with batch(apply_committed, relay.publish_all, linger=3600) as work:
        await handling_record(work, decide)
        # the process dies here: work.finish() never runs
    assert await db["cases"].count_documents({}) == 0
    # The redelivered record's handler reads the record: the journal entry is rolled forward whole.
    head = await cases.get("C1")
    assert head is not None
    assert head["version"] == 1
    assert await db[OUTBOX].count_documents({}) == 1
    assert await db[DEADLINES].count_documents({}) == 1


async def _no_publication(event: PendingEvent) -> None:
    raise AssertionError(f"nothing is published in this test, not {event.event.id}")
