"""Deliveries to an agency whose topic is missing are parked and delivered later, in order, without holding
up anyone else (no broker or store here; tests/e2e/test_registry.py runs it on the real ones)."""

from __future__ import annotations

from typing import Any

from aiokafka.errors import UnknownTopicOrPartitionError
from pymongo.errors import DuplicateKeyError

from alliance.runtime.deliveries import Deliveries
from alliance.runtime.settings import Settings


class Cursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def __aiter__(self) -> Any:
        async def walk() -> Any:
            for doc in self.docs:
                yield doc

        return walk()


class Collection:
    """The few collection calls Deliveries makes, in memory (unique ``_id`` as in the store)."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def create_index(self, *_: Any, **__: Any) -> None:
        pass

    async def insert_one(self, doc: dict[str, Any]) -> None:
        if doc["_id"] in self.docs:
            raise DuplicateKeyError("duplicate")
        self.docs[doc["_id"]] = dict(doc)

    async def distinct(self, field: str) -> list[Any]:
        return sorted({d[field] for d in self.docs.values()})

    def find(self, query: dict[str, Any], sort: Any = None, limit: int = 0) -> Cursor:
        found = [d for d in self.docs.values() if all(d.get(k) == v for k, v in query.items())]
        found.sort(key=lambda d: d["order"])
        return Cursor(found[:limit] if limit else found)

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs.values() if all(d.get(k) == v for k, v in query.items())), None)

    async def delete_one(self, query: dict[str, Any]) -> None:
        self.docs.pop(query["_id"], None)


class Broker:
    def __init__(self, topics: set[str]) -> None:
        self.topics = topics
        self.sent: list[tuple[str, str]] = []

    async def missing_topics(self, topics: list[str]) -> set[str]:
        return {t for t in topics if t not in self.topics}

    async def send(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        if topic not in self.topics:
            raise UnknownTopicOrPartitionError()
        self.sent.append((topic, dict(headers)["ce_id"].decode()))


def fact(n: int) -> tuple[str, bytes, list[tuple[str, bytes]]]:
    return f"SZ-{n}", b"{}", [("ce_id", f"fact-{n}".encode())]


async def test_a_missing_topic_parks_that_agency_s_deliveries_in_order_and_holds_up_no_one() -> None:
    parked = Collection()
    broker = Broker({"alliance.deliveries.us-epic"})
    deliveries = Deliveries({"_parked_deliveries": parked}, Settings(), broker)  # type: ignore[arg-type]
    await deliveries.start(broker.send)
    for n in range(3):
        await deliveries.deliver("alliance.deliveries.late", *fact(n))
        await deliveries.deliver("alliance.deliveries.us-epic", *fact(n))
    await deliveries.deliver("alliance.deliveries.late", *fact(0))  # a repeated publish parks nothing more
    assert broker.sent == [("alliance.deliveries.us-epic", f"fact-{n}") for n in range(3)]
    assert len(parked.docs) == 3
    assert deliveries.waiting == {"alliance.deliveries.late"}
    assert await deliveries.retry_parked() == 0  # still missing: looked for again later

    broker.topics.add("alliance.deliveries.late")  # provisioned now
    deliveries._looks.clear()  # (the backoff's next look, due now)
    await deliveries.deliver("alliance.deliveries.late", *fact(3))  # still behind the parked ones
    assert await deliveries.retry_parked() == 4
    late = [fact_id for topic, fact_id in broker.sent if topic == "alliance.deliveries.late"]
    assert late == ["fact-0", "fact-1", "fact-2", "fact-3"]  # oldest first, nothing lost
    assert not parked.docs
    assert not deliveries.waiting
    await deliveries.deliver("alliance.deliveries.late", *fact(4))  # caught up: straight to the topic
    assert broker.sent[-1] == ("alliance.deliveries.late", "fact-4")
    assert (deliveries.parked, deliveries.delivered_late) == (4, 4)


async def test_a_topic_deleted_after_it_was_seen_parks_too() -> None:
    parked = Collection()
    broker = Broker({"alliance.deliveries.us-epic"})
    deliveries = Deliveries({"_parked_deliveries": parked}, Settings(), broker)  # type: ignore[arg-type]
    await deliveries.start(broker.send)
    await deliveries.deliver("alliance.deliveries.us-epic", *fact(1))
    broker.topics.clear()  # deleted: the send fails, the check finds it missing
    await deliveries.deliver("alliance.deliveries.us-epic", *fact(2))
    assert [d["_id"] for d in parked.docs.values()] == ["alliance.deliveries.us-epic|fact-2"]


async def test_parked_deliveries_left_by_an_earlier_run_stay_ahead_of_new_ones() -> None:
    parked = Collection()
    broker = Broker(set())
    first = Deliveries({"_parked_deliveries": parked}, Settings(), broker)  # type: ignore[arg-type]
    await first.start(broker.send)
    await first.deliver("alliance.deliveries.late", *fact(1))
    broker.topics.add("alliance.deliveries.late")
    restarted = Deliveries({"_parked_deliveries": parked}, Settings(), broker)  # type: ignore[arg-type]
    await restarted.start(broker.send)
    await restarted.deliver("alliance.deliveries.late", *fact(2))  # the topic exists, but fact 1 waits
    assert broker.sent == []
    await restarted.retry_parked()
    assert broker.sent == [("alliance.deliveries.late", "fact-1"), ("alliance.deliveries.late", "fact-2")]
