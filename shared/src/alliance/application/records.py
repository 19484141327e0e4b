"""What a repository needs from a record store: a committed version with its facts, and lookups."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from alliance.contracts.disclosure import Release
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.limits import MAX_FACT_BYTES, LimitExceeded
from alliance.contracts.markings import Markings

Document = dict[str, Any]


class ConcurrentUpdateError(RuntimeError):
    """Another writer committed this version first; reload and decide again."""


class PendingEvent(BaseModel):
    """An event waiting in the outbox, with where it must be published."""

    topic: str
    key: str
    event: CloudEvent
    release: Release | None = None  # who receives it (and the audit of that decision), fixed at commit

    def to_document(self) -> Document:
        doc = {"topic": self.topic, "key": self.key, **self.event.model_dump(mode="json")}
        if self.release is not None:
            doc["release"] = self.release.model_dump(mode="json")
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> PendingEvent:
        body = {k: v for k, v in doc.items() if k not in {"topic", "key", "release"}}
        release = Release.model_validate(doc["release"]) if doc.get("release") else None
        return cls(topic=doc["topic"], key=doc["key"], event=CloudEvent.model_validate(body), release=release)

    def size(self) -> int:
        """Bytes this event takes on Kafka (value and headers), to refuse it before it is stored."""
        value, headers = self.event.to_kafka()
        return len(value) + len(self.key) + sum(len(k) + len(v) for k, v in headers)


def check_publishable(events: list[PendingEvent]) -> None:
    """Refuse, before anything is stored, an event that Kafka could never take."""
    for pending in events:
        size = pending.size()
        if size > MAX_FACT_BYTES:
            raise LimitExceeded(
                f"{pending.event.type} for {pending.key} would be {size} bytes; facts are limited to {MAX_FACT_BYTES}"
            )


@dataclass(frozen=True)
class Commit:
    """One version of one record: its full state and the events it publishes."""

    record_id: str
    version: int
    state: Document  # the record's own fields, datetimes kept as datetimes
    markings: Markings
    events: list[PendingEvent]
    next_deadline_at: datetime | None
    cause: str | None = None
    previous_deadline_at: datetime | None = None  # the loaded version's; None for a new record
    deadline_traceparent: str | None = None  # the trace the next escalation continues


@dataclass(frozen=True)
class Catalogue:
    """Small cards a record is filed on, for an index looked up by many keys (an index of people).

    A lookup that returns a few hundred candidates reads their cards, not their records: FerretDB's
    cost per document read grows with its values (measured: 300 records with 80 keys each 61 ms, with
    one key 12 ms), and the record's own keys are most of them. So a record's keys are spread over
    ``cards`` cards by hash, each card carrying the fields that tell whether the record is worth loading
    as one JSON text (a nested person costs FerretDB twice what one string does); only the records
    worth it are then loaded whole.
    """

    keys: str  # the record's field holding its lookup keys
    carries: tuple[str, ...]  # fields each card carries (its ``summary``)
    cards: int = 4


def cards_of(catalogue: Catalogue, record_id: str, version: int, state: Mapping[str, Any]) -> list[Document]:
    """A record's cards for one version: every key on exactly one card, the same card for every version."""
    spread: list[list[str]] = [[] for _ in range(catalogue.cards)]
    for key in state.get(catalogue.keys) or []:
        spread[zlib.crc32(str(key).encode()) % catalogue.cards].append(key)
    summary = json.dumps({field: state.get(field) for field in catalogue.carries}, default=str, sort_keys=True)
    return [
        {"_id": f"{record_id}#{n}", "record": record_id, "version": version, "keys": keys, "summary": summary}
        for n, keys in enumerate(spread)
    ]


class Records(Protocol):
    """One aggregate kind's records in some store (MongoDB in the runtime, a dict in unit tests)."""

    name: str

    async def get(self, record_id: str) -> Document | None:
        """The record's current state, or None."""
        ...

    async def commit(self, commit: Commit) -> None:
        """Store one version; :class:`ConcurrentUpdateError` if that version exists already."""
        ...

    async def find_equal(self, field: str, value: Any) -> list[Document]:
        """Records whose top-level ``field`` equals ``value`` (or, for a list, contains it)."""
        ...

    async def cards_filed_under(self, key: str) -> list[Document]:
        """The cards (``record``, ``version``, ``summary`` as JSON text) filed under ``key``."""
        ...


def head_document(record_id: str, commit: Commit, committed_at: datetime) -> Document:
    """A record's current state as stored and queried: its fields beside the kernel's bookkeeping."""
    return {
        "_id": record_id,
        **commit.state,
        "markings": commit.markings.model_dump(mode="json"),
        "version": commit.version,
        "updated_at": committed_at,
    }
