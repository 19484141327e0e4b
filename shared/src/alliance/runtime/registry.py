"""The agency registry as a service sees it: the baseline file plus the registry topic, followed live.

Registry changes are ``AgencyRegistered`` events on the registry topic (one partition), which only
the operators' principal may write (ACL). At start a service reads that topic to its end before it
subscribes to any intake, so its first decision already uses the current registry; afterwards it
follows changes and tells its listeners (a new agency's intake topic is then subscribed).

- **Compare-and-set.** A change applies only to the version it was made against
  (:meth:`Registry.after`); a stale, repeated or out-of-sequence change is refused -- logged (ids and
  versions only), counted (``/health`` and ``alliance_registry_changes{outcome="refused"}``) -- and
  the operators' CLI, which reads the topic back after writing, tells the operator.
- **Supervised.** The follower restarts with backoff when it fails; ``/health`` reports its version,
  whether it is following, how long ago it last polled, how far behind the topic's end it is, and
  turns degraded when it is not following.
- **Never older.** The registry a service applied is kept in its own store (``_registry``) with the
  id of the change that made it. A registry topic that lost that change (deleted, emptied) is not
  folded back to the baseline: the service keeps the registry it had -- revocations stay applied --
  and reports the topic as older, loudly, until the history is restored or a change is made against
  the version it keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance.contracts.registry import (
    REGISTRY_TOPIC,
    Agency,
    AgencyRegistered,
    Registry,
    RegistryChangeRefused,
    baseline_registry,
)
from alliance.runtime import faults
from alliance.runtime.metrics import ServiceMetrics
from alliance.runtime.retry import waiting
from alliance.runtime.settings import Settings

log = structlog.get_logger(__name__)

OPERATOR_SOURCE = "urn:alliance:operator"
APPLIED = "_registry"  # the registry this service applied last, and the change that made it
POLL_MS = 5000
STALE_AFTER_SECONDS = 30.0  # no poll for this long: the follower is not following

Headers = list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]


def read_change(value: bytes | None, headers: Headers | None) -> tuple[str, AgencyRegistered]:
    """A registry record's change id and change; refused when not the operators' or unreadable."""
    known = dict(headers or ())
    source = known.get("ce_source", b"").decode("utf-8", "replace")
    if source != OPERATOR_SOURCE:
        raise RegistryChangeRefused(f"not from the operators (source {source[:100]!r})")
    try:
        change = AgencyRegistered.model_validate(json.loads(value or b""))
    except ValidationError as exc:
        raise RegistryChangeRefused(f"unreadable: {exc.error_count()} fields do not match the contract") from None
    except ValueError:
        raise RegistryChangeRefused("unreadable: not JSON") from None
    return known.get("ce_id", b"").decode("utf-8", "replace"), change


@dataclass(frozen=True)
class Outcome:
    """What became of one record of the registry topic."""

    offset: int
    change_id: str
    change: AgencyRegistered | None
    refused: str | None  # why, or None: applied


def fold(records: list[ConsumerRecord[bytes, bytes]], start: Registry | None = None) -> tuple[Registry, list[Outcome]]:
    """The registry after ``records`` (from the baseline unless ``start``), and each record's outcome:
    the same rule every service applies, for the operators' CLI to say what a change became."""
    registry = start or baseline_registry()
    outcomes = []
    for record in records:
        change: AgencyRegistered | None = None
        change_id = ""
        try:
            change_id, change = read_change(record.value, record.headers)
            registry = registry.after(change)
            outcomes.append(Outcome(record.offset, change_id, change, None))
        except RegistryChangeRefused as exc:
            outcomes.append(Outcome(record.offset, change_id, change, str(exc)))
    return registry, outcomes


class RegistryFollower:
    def __init__(
        self, settings: Settings, db: AsyncDatabase[Any] | None = None, metrics: ServiceMetrics | None = None
    ) -> None:
        self.settings = settings
        self.registry: Registry = baseline_registry()
        self.listeners: list[Callable[[Agency], None]] = []
        self._db = db
        self._metrics = metrics
        self._partition = TopicPartition(settings.topic(REGISTRY_TOPIC), 0)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_offset = 0
        self._made_by: str | None = None  # id of the change that made the current version (None: the baseline)
        self._last_poll: float | None = None  # monotonic
        self.applied = 0
        self.refused = 0
        self.restarts = 0
        self.problem: str | None = None  # the topic is older than the registry applied here
        self.failure: str | None = None  # the follower failed and waits to restart

    # -- start-up ---------------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the registry topic to its end, from the registry kept in the store (waits for Kafka and
        the store like every start-up step, and for a grant to read the registry that has not reached
        the broker yet: measured up to 12 s after provisioning on a busy broker)."""
        try:
            await self._load()
        except TopicAuthorizationFailedError:
            raise ConnectionError("not (yet) allowed to read the registry topic") from None

    async def _load(self) -> None:
        kept = await self._kept()
        floor = 0
        self.registry, self._made_by = baseline_registry(), None
        if kept is not None:
            self.registry, self._made_by = kept
            floor = self.registry.version  # changes up to it were applied before this start
        consumer = await self._open(None)
        try:
            end = (await consumer.end_offsets([self._partition]))[self._partition]
            found_maker = self._made_by is None
            while await consumer.position(self._partition) < end:
                for records in (await consumer.getmany(self._partition, timeout_ms=1000)).values():
                    for record in records:
                        change_id = dict(record.headers or ()).get("ce_id", b"").decode("utf-8", "replace")
                        found_maker |= change_id == self._made_by
                        await self._take(record, floor)
                        self._next_offset = record.offset + 1
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._last_poll = time.monotonic()
        if not found_maker and self.problem is None:
            self._older_topic(f"it does not hold the change {self._made_by} that made version {self.registry.version}")
        log.info("registry loaded", version=self.registry.version, agencies=len(self.registry.agencies))

    async def _open(self, offset: int | None) -> AIOKafkaConsumer:
        """A consumer of the registry partition at ``offset`` (None: its beginning)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            client_id="alliance-registry",
            # Earliest as the default reset too: a background "latest" reset of the new assignment can
            # land after seek_to_beginning and skip the registry (seen with the operators' reader).
            auto_offset_reset="earliest",
            **self.settings.kafka_security(),
        )
        await consumer.start()
        try:
            consumer.assign([self._partition])
            begin = (await consumer.beginning_offsets([self._partition]))[self._partition]
            consumer.seek(self._partition, max(begin, offset or 0))
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    # -- following --------------------------------------------------------------------------------

    def follow(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="registry")

    async def _supervise(self) -> None:
        """Follow for as long as the service runs: a failure restarts the follower with backoff."""
        delay = self.settings.retry_initial_seconds
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts += 1
                self.failure = f"follower failed ({type(exc).__name__}); restart {self.restarts} in {delay:.1f} s"
                log.exception("registry follower failed; restarting", restarts=self.restarts, retry_in_s=delay)
                consumer, self._consumer = self._consumer, None
                if consumer is not None:
                    with contextlib.suppress(Exception):
                        await consumer.stop()
                await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, self.settings.retry_max_seconds)

    async def _follow(self) -> None:
        if self._consumer is None:
            self._consumer = await self._open(self._next_offset)
        while True:
            faults.at("registry-follow")
            batch = await self._consumer.getmany(self._partition, timeout_ms=POLL_MS)
            self._last_poll = time.monotonic()
            self.failure = None
            for records in batch.values():
                for record in records:
                    agency = await self._take(record, 0)
                    self._next_offset = record.offset + 1
                    if agency is not None:
                        self._notify(agency)
            end = self._consumer.highwater(self._partition)
            if end is not None and end < self._next_offset and self.problem is None:
                self._older_topic(f"it now ends at offset {end}, before the {self._next_offset} records read")

    def _notify(self, agency: Agency) -> None:
        for listener in self.listeners:
            try:
                listener(agency)
            except Exception:  # one listener's failure must not stop the registry
                log.exception("registry listener failed", agency=agency.id)

    async def _take(self, record: ConsumerRecord[bytes, bytes], floor: int) -> Agency | None:
        """Apply one record of the topic; changes up to ``floor`` are skipped (applied before)."""
        change: AgencyRegistered | None = None
        try:
            change_id, change = read_change(record.value, record.headers)
            if change.registry_version <= floor:
                return None
            if self.problem is not None and change_id == self._made_by:
                self.problem = None  # the topic's history was restored up to the registry kept here
                log.info("registry topic holds the registry applied here again", version=self.registry.version)
                return None
            registry = self.registry.after(change)
        except RegistryChangeRefused as exc:
            self.refused += 1
            if self._metrics is not None:
                self._metrics.registry_changes.labels(self._metrics.service, "refused").inc()
            log.warning(
                "registry change refused",
                reason=str(exc),
                offset=record.offset,
                agency=change.agency.id if change else None,
                registry_version=change.registry_version if change else None,
                replaces_version=change.replaces_version if change else None,
                current_version=self.registry.version,
            )
            return None
        self.registry, self._made_by, self.problem = registry, change_id, None
        await self._keep()
        self.applied += 1
        if self._metrics is not None:
            self._metrics.registry_changes.labels(self._metrics.service, "applied").inc()
        log.info("registry changed", version=registry.version, agency=change.agency.id)
        return change.agency

    def _older_topic(self, why: str) -> None:
        self.problem = (
            f"the registry topic is older than the registry applied here ({why}); keeping version "
            f"{self.registry.version}: restore the topic's history (alliance registry restore)"
        )
        log.error("registry topic older than the registry applied; not reverting", version=self.registry.version)

    # -- the registry kept in the store -----------------------------------------------------------

    async def _kept(self) -> tuple[Registry, str | None] | None:
        if self._db is None:
            return None
        db = self._db
        doc = await waiting(self.settings, "registry store", lambda: db[APPLIED].find_one({"_id": "applied"}))
        if doc is None:
            return None
        return Registry.model_validate(doc["registry"]), doc.get("made_by")

    async def _keep(self) -> None:
        """Store the registry just applied (only ever a newer version over an older one)."""
        if self._db is None:
            return
        collection = self._db[APPLIED]
        version = self.registry.version
        doc = {
            "version": version,
            "made_by": self._made_by,
            "registry": self.registry.model_dump(mode="json"),
            "at": datetime.now(UTC),
        }

        async def write() -> None:
            with contextlib.suppress(DuplicateKeyError):  # another instance kept this version or a newer one
                await collection.replace_one({"_id": "applied", "version": {"$lt": version}}, doc, upsert=True)

        await waiting(self.settings, "registry store", write)

    # -- reporting --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """For ``/health``: the version, whether it is following, how recently and how far behind."""
        age = time.monotonic() - self._last_poll if self._last_poll is not None else None
        running = self._task is not None and not self._task.done()
        following = running and self.failure is None and age is not None and age < STALE_AFTER_SECONDS
        end = self._consumer.highwater(self._partition) if self._consumer is not None else None
        return {
            "version": self.registry.version,
            "following": following,
            "last_poll_age_seconds": round(age, 1) if age is not None else None,
            "behind": max(end - self._next_offset, 0) if end is not None else None,
            "changes_applied": self.applied,
            "changes_refused": self.refused,
            "restarts": self.restarts,
            "problem": self.problem or self.failure or (None if running else "not following"),
        }

    def healthy(self) -> bool:
        status = self.status()
        return bool(status["following"]) and self.problem is None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
