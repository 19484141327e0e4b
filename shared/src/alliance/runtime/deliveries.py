"""Deliveries to agencies whose delivery topic does not exist (yet): parked, never blocking.

An agency can be in the registry before its delivery topic exists (registered before it was
provisioned, or its topic deleted). Kafka then answers a send to that topic only after the producer's
metadata wait (40 s) and with an error, every time: the relay would hold every other fact and
recipient behind it for ever. Instead, a delivery whose topic is missing is *parked*: stored in the
service's ``_parked_deliveries`` (key, value and headers byte for byte), and the relay moves on.
Every later delivery to that agency is parked behind it, so the agency still receives its facts in
order; :meth:`Deliveries.run_forever` looks for the topic with backoff (up to a minute) and delivers
the parked facts once it exists, oldest first, each removed after the broker acknowledged it. Nothing is lost: a
crash between the two repeats the delivery with the same event id, which the agency drops.

The collection holds only deliveries waiting for a topic, so looking at it costs nothing per event.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import structlog
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance.contracts.topics import DELIVERIES_PREFIX
from alliance.runtime.kafka_admin import KafkaAdmin
from alliance.runtime.metrics import ServiceMetrics
from alliance.runtime.retry import is_transient, waiting
from alliance.runtime.settings import Settings
from alliance.runtime.store import now

log = structlog.get_logger(__name__)

PARKED = "_parked_deliveries"
BATCH = 500  # parked deliveries handled per pass; the next pass takes the rest
MAX_BACKOFF = timedelta(minutes=1)  # an agency just provisioned gets its deliveries within a minute

Send = Callable[[str, str, bytes, list[tuple[str, bytes]]], Awaitable[None]]


class Deliveries:
    def __init__(
        self, db: AsyncDatabase[Any], settings: Settings, kafka: KafkaAdmin, metrics: ServiceMetrics | None = None
    ) -> None:
        self._parked = db[PARKED]
        self._settings = settings
        self._kafka = kafka
        self._metrics = metrics
        self._send: Send | None = None
        self._present: set[str] = set()  # delivery topics seen to exist
        self.waiting: set[str] = set()  # delivery topics with parked deliveries: later ones queue behind
        self._looks: dict[str, tuple[int, float]] = {}  # missing topic -> (looks so far, next look, monotonic)
        self.parked = 0
        self.delivered_late = 0

    @property
    def started(self) -> bool:
        return self._send is not None

    def agency(self, topic: str) -> str:
        return topic.rpartition(self._settings.topic(DELIVERIES_PREFIX))[2]

    async def start(self, send: Send) -> None:
        """Remember the sender; pick up what an earlier run left parked (so it stays ahead of new facts)."""
        self._send = send
        await waiting(self._settings, "parked deliveries", self._ensure_index)
        self.waiting |= set(await waiting(self._settings, "parked deliveries", self._parked_topics))

    async def _ensure_index(self) -> None:
        await self._parked.create_index([("topic", ASCENDING), ("order", ASCENDING)])

    async def _parked_topics(self) -> list[str]:
        return [str(t) for t in await self._parked.distinct("topic")]

    async def deliver(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        """Send one released fact to an agency's delivery topic, or park it if that topic is missing."""
        assert self._send is not None, "start() first"
        if topic not in self.waiting and topic not in self._present and await self._missing(topic):
            self.waiting.add(topic)
        if topic in self.waiting:
            await self._park(topic, key, value, headers)
            return
        try:
            await asyncio.wait_for(self._send(topic, key, value, headers), self._settings.delivery_wait_seconds)
        except (UnknownTopicOrPartitionError, KafkaTimeoutError, TimeoutError):
            if not await self._missing(topic):
                raise  # the topic is there: a broker that is slow or down, waited out by the caller
            self.waiting.add(topic)
            await self._park(topic, key, value, headers)

    async def _missing(self, topic: str) -> bool:
        missing = topic in await self._kafka.missing_topics([topic])
        if not missing:
            self._present.add(topic)
        else:
            self._present.discard(topic)
        return missing

    async def _park(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        entry = {
            "_id": f"{topic}|{dict(headers).get('ce_id', b'').decode('utf-8', 'replace')}",
            "topic": topic,
            "key": key,
            "value": value,
            "headers": [{"name": k, "value": v} for k, v in headers],  # FerretDB stores no nested arrays
            "parked_at": now(),
            "order": time.time_ns(),  # finer than the store's milliseconds: the order they were parked in
        }
        try:
            await waiting(self._settings, "park delivery", functools.partial(self._parked.insert_one, entry))
        except DuplicateKeyError:
            return  # parked already (the publish was repeated): delivered once the topic exists
        self.waiting.add(topic)  # again: a pass that just caught up must come back for this one
        self.parked += 1
        if self._metrics is not None:
            self._metrics.parked_deliveries.labels(self._metrics.service, "parked").inc()
        log.warning("delivery topic missing; delivery parked", agency=self.agency(topic))

    async def retry_parked(self) -> int:
        """One pass: for each agency with parked deliveries whose topic exists now, deliver them, oldest
        first; a topic still missing is looked for again later, with backoff. Returns how many were delivered."""
        delivered = 0
        moment = time.monotonic()
        for topic in sorted(self.waiting):
            attempts, next_look = self._looks.get(topic, (0, 0.0))
            if moment < next_look:
                continue
            if await self._missing(topic):
                wait = min(2.0 ** (attempts + 1), MAX_BACKOFF.total_seconds())
                self._looks[topic] = (attempts + 1, moment + wait)
                log.warning("delivery topic still missing", agency=self.agency(topic), look_again_in_s=wait)
                continue
            self._looks.pop(topic, None)
            delivered += await self._deliver_parked(topic)
        return delivered

    async def _deliver_parked(self, topic: str) -> int:
        assert self._send is not None, "start() first"

        async def oldest() -> list[dict[str, Any]]:
            cursor = self._parked.find({"topic": topic}, sort=[("order", ASCENDING)], limit=BATCH)
            return [doc async for doc in cursor]

        queued = await waiting(self._settings, "parked deliveries", oldest)
        for entry in queued:
            headers = [(str(h["name"]), bytes(h["value"])) for h in entry["headers"]]
            await self._send(topic, entry["key"], bytes(entry["value"]), headers)
            await waiting(self._settings, "parked delivery", functools.partial(self._remove, entry["_id"]))
            self.delivered_late += 1
            if self._metrics is not None:
                self._metrics.parked_deliveries.labels(self._metrics.service, "delivered").inc()
        if len(queued) < BATCH:
            self.waiting.discard(topic)  # caught up: new deliveries go straight to the topic again
            if await self._still_parked(topic):
                self.waiting.add(topic)  # one was parked meanwhile: the next pass takes it
            log.info("parked deliveries delivered", agency=self.agency(topic), delivered=len(queued))
        return len(queued)

    async def _remove(self, entry_id: str) -> None:
        await self._parked.delete_one({"_id": entry_id})

    async def _still_parked(self, topic: str) -> bool:
        found = await waiting(self._settings, "parked deliveries", lambda: self._parked.find_one({"topic": topic}))
        return found is not None

    async def run_forever(self) -> None:
        while True:
            try:
                if self.waiting:
                    await self.retry_parked()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive any single failure
                if not is_transient(exc):
                    log.exception("parked deliveries pass failed")
            await asyncio.sleep(self._settings.outbox_sweep_seconds)
