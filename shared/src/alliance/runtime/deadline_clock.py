"""The deadline clock: escalations of records whose deadline is due, read from ``_deadlines`` only.

A pass reads the minute buckets since the last one (each by equality: never the records, never a
range), then escalates the due records as a batch (see :mod:`alliance.runtime.batches`): several
lanes at a time, each record decided alone, their writes and facts together. A record that cannot be
escalated is logged, counted and postponed a minute; the others go on. A late batch of work whose
deadlines all fall due at once (a storm) drains at the pace of a batch, not of one record at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from alliance.application.records import Document
from alliance.application.repository import Repository
from alliance.runtime.batches import Publication, batch, each_group, group_in_order, handling_record
from alliance.runtime.retry import is_transient, waiting
from alliance.runtime.settings import Settings
from alliance.runtime.store import CLOCK, DEADLINES, apply_committed, due_bucket
from alliance.runtime.telemetry import in_trace

log = structlog.get_logger(__name__)

DEADLINE_BATCH = 500  # due records escalated per clock pass; the next pass takes the rest
LANES = 8  # records escalated at a time within a pass


class DeadlineClock:
    """Escalates due deadlines of one service's records, on its own schedule."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        repositories: Callable[[], dict[str, Repository[Any]]],
        publish: Callable[[Sequence[Publication]], Awaitable[None]],
        settings: Settings,
        service: str,
    ) -> None:
        self._deadlines = db[DEADLINES]
        self._clock = db[CLOCK]
        self._repositories = repositories  # collection → repository of a kind with deadlines
        self._publish = publish
        self._settings = settings
        self._service = service
        self._minute: datetime | None = None
        self.sweeps = 0
        self.failures = 0

    async def run_forever(self) -> None:
        while True:
            try:
                await self.escalate_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the clock must outlive any single failure
                log.exception("deadline clock pass failed")
            await asyncio.sleep(self._settings.deadline_scan_seconds)

    async def escalate_due(self) -> int:
        """One pass; returns how many records raised escalations."""
        moment = datetime.now(UTC)
        entries = await self._due(moment)
        escalated: list[bool] = []

        async def escalate(entry: Document) -> None:
            escalated.append(await self._escalate(entry, moment))

        lanes = group_in_order(list(enumerate(entries)), lambda e: e[0] % LANES)
        with batch(apply_committed, self._publish, self._settings.batch_linger_ms / 1000) as work:
            failures = await each_group(lanes, lambda e: handling_record(work, lambda: escalate(e[1])))
            await work.close()
        if failures:
            raise failures[0]  # an outage: this pass ends, the next one retries
        self.sweeps += 1
        return sum(escalated)

    async def _escalate(self, entry: Document, moment: datetime) -> bool:
        collection, record_id = entry["collection"], entry["record"]
        try:
            repository = self._repositories().get(collection)
            if repository is None:
                raise LookupError(f"no deadline kind for collection {collection!r}")
            with in_trace(entry.get("traceparent")):
                record = await repository.escalate_deadlines(record_id, moment, self._service)
            if record is None:
                await self._deadlines.delete_one({"_id": entry["_id"], "version": entry.get("version")})
            return record is not None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            self.failures += 1
            log.exception("deadline escalation failed; postponed", collection=collection, record_id=record_id)
            later = moment + timedelta(minutes=1)
            await self._deadlines.update_one(
                {"_id": entry["_id"]}, {"$set": {"due_at": later, "bucket": due_bucket(later)}}
            )
            return False

    async def _due(self, moment: datetime) -> list[Document]:
        """Deadline entries due by ``moment``: the minute buckets since the last pass, each by equality.

        The clock restarts two minutes before the last minute it looked at (persisted in ``_clock``),
        so an entry written while a pass ran, or by another instance, is never left behind.
        """
        if self._minute is None:
            stored = await self._retry("clock", lambda: self._clock.find_one({"_id": "watermark"}))
            if stored is None:
                # First pass ever on this database: one full look, then minute buckets from here on.
                async def everything() -> list[Document]:
                    return [doc async for doc in self._deadlines.find({"due_at": {"$lte": moment}})]

                due_now: list[Document] = await self._retry("due deadlines", everything)
                await self._retry(
                    "clock", lambda: self._clock.replace_one({"_id": "watermark"}, {"minute": moment}, upsert=True)
                )
                self._minute = moment
                return due_now
            self._minute = stored["minute"]
        assert self._minute is not None
        same_minute = due_bucket(self._minute) == due_bucket(moment)
        # Within the minute of the last pass, the minute before it covers a writer's clock skew; a new
        # minute looks two minutes behind the watermark (an entry is never bucketed before its write).
        start = min(self._minute, moment) - timedelta(minutes=1 if same_minute else 2)
        minutes = int((moment - start).total_seconds() // 60) + 1
        due: list[Document] = []
        for step in range(minutes):
            bucket = due_bucket(start + timedelta(minutes=step))

            async def run(b: str = bucket) -> list[Document]:
                return [doc async for doc in self._deadlines.find({"bucket": b}, limit=DEADLINE_BATCH)]

            due.extend(e for e in await self._retry("due deadlines", run) if e["due_at"] <= moment)
            if len(due) >= DEADLINE_BATCH:
                return due  # the rest on the next pass, from the same watermark
        self._minute = moment
        if not same_minute:  # stored once a minute: a restart resumes from here
            await self._retry(
                "clock", lambda: self._clock.replace_one({"_id": "watermark"}, {"minute": moment}, upsert=True)
            )
        return due

    async def _retry(self, what: str, op: Callable[[], Awaitable[Any]]) -> Any:
        return await waiting(self._settings, what, op)
