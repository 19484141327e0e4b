"""Per-service MongoDB access (PyMongo async): records committed by unique inserts, outbox, due deadlines.

No multi-document transactions (FerretDB lacks them) and no conditional updates for concurrency
(FerretDB v1 does not apply them atomically: measured, two writers both "won" 37 of 40 races). The one
primitive every MongoDB-wire store honours is the unique ``_id``, so a change is committed by
**inserting** its journal entry ``<record>@<version>``: of two writers deciding from the same version,
exactly one insert succeeds, the other reloads and decides again. No lock, no lease, no fencing.

Collections of one aggregate kind ``C`` and of the service::

    C            the record's current state (the "head"): _id, version, markings, fields; queried
    C.journal    one entry per committed version: _id "<id>@<version>", state, events, cause, time
    C.cards      for a kind with a catalogue: the cards a record is filed on, _id "<id>#<n>", its keys
                 spread over them, each with a summary (see ``records.Catalogue``)
    _outbox      events committed but not yet published: _id "<C>|<id>@<version>" (removed once sent)
    _deadlines   each record's next deadline escalation: _id "<C>|<id>", due_at, minute bucket
                 (removed when none); ``_clock`` keeps the last minute the clock looked at

A change is written in this order: journal entry (the commit) → outbox entry → cards → head → due deadline;
then the events are published and the outbox entry removed. A crash or an error between any two
writes leaves a journal entry ahead of the head; the next writer of that record (the redelivered
event, the clock) hits the duplicate insert, rolls the head forward from the journal, re-creates the
outbox entry and the deadline, and decides again. The relay and the clock read only ``_outbox`` and
``_deadlines``, which hold what is pending or due, never the records: their cost does not grow with
the amount of data stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from alliance.application.records import Catalogue, Commit, ConcurrentUpdateError, Document, cards_of
from alliance.runtime import faults
from alliance.runtime.retry import waiting
from alliance.runtime.settings import Settings

OUTBOX = "_outbox"
DEADLINES = "_deadlines"
CLOCK = "_clock"
CLAIMS = "_claims"
JOURNAL_SUFFIX = ".journal"
CARDS_SUFFIX = ".cards"
# Cards per lookup read in one answer: FerretDB's first batch is 101 documents, and a common name's
# block holds a few hundred; one round trip instead of three.
CARD_BATCH = 1000


class StoreMeter(monitoring.CommandListener):
    """Counts the store commands a service sends (``/health`` shows them; ``make bench`` reads them)."""

    def __init__(self) -> None:
        self.commands = 0
        self.failures = 0
        # "<command> <collection>" → count: where the commands go, to find the handler that sends extra.
        self.by_target: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in {"ping", "hello", "isMaster", "ismaster", "endSessions"}:
            self.commands += 1
            target = event.command.get(event.command_name)
            self.by_target[f"{event.command_name} {target if isinstance(target, str) else ''}".rstrip()] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.failures += 1


def connect(settings: Settings, meter: StoreMeter | None = None) -> AsyncMongoClient[Document]:
    # Short server selection so an outage surfaces quickly and is retried by until_available.
    return AsyncMongoClient(
        settings.mongo_uri,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        tz_aware=True,
        event_listeners=[meter] if meter else [],
        **settings.mongo_auth(),
    )


class StoreCredentialsError(RuntimeError):
    """The store refused this service's login: a configuration error, reported at once, never waited out."""


# MongoDB refuses a login with code 18; FerretDB v1 passes the login to PostgreSQL and relays its refusal.
_LOGIN_REFUSED = ("SQLSTATE 28P01", "SQLSTATE 28000")


async def check_store_login(client: AsyncMongoClient[Document], settings: Settings) -> None:
    """Fail fast on a wrong store role or password (a store that cannot be reached is waited for later)."""
    try:
        await client.admin.command("ping")
    except OperationFailure as exc:
        if exc.code == 18 or any(marker in str(exc) for marker in _LOGIN_REFUSED):
            raise StoreCredentialsError(
                f"the store refused role {settings.mongo_username or '(none)'!r}; check ALLIANCE_MONGO_USERNAME "
                "and ALLIANCE_MONGO_PASSWORD (or ALLIANCE_MONGO_PASSWORD_FILE)"
            ) from None
    except PyMongoError:
        return


def now() -> datetime:
    return datetime.now(UTC)


def due_bucket(moment: datetime) -> str:
    """The minute a deadline falls due in: the clock looks up due deadlines by minute, by equality.

    FerretDB pushes only equality filters down to its backend (a range like ``due_at <= now`` makes
    it read every entry), so due deadlines are found one minute bucket at a time.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def journal_id(record_id: str, version: int) -> str:
    return f"{record_id}@{version:010d}"


def outbox_id(collection: str, record_id: str, version: int) -> str:
    return f"{collection}|{journal_id(record_id, version)}"


class AggregateStore:
    """Stores one kind of aggregate: head, journal, and its share of the outbox and deadlines."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        collection: str,
        settings: Settings,
        catalogue: Catalogue | None = None,
        stored: Callable[[str, int], None] | None = None,
    ) -> None:
        self.collection: AsyncCollection[Document] = db[collection]
        self.journal: AsyncCollection[Document] = db[collection + JOURNAL_SUFFIX]
        self.cards: AsyncCollection[Document] = db[collection + CARDS_SUFFIX]
        self.catalogue = catalogue
        self.outbox: AsyncCollection[Document] = db[OUTBOX]
        self.deadlines: AsyncCollection[Document] = db[DEADLINES]
        self.name = collection
        self._settings = settings
        self._stored = stored  # told of each record stored for the first time (the metrics' record count)

    async def _retrying(self, what: str, op: Any) -> Any:
        return await waiting(self._settings, f"{self.name}: {what}", op)

    # -- writing ----------------------------------------------------------------------------------

    async def commit(self, commit: Commit) -> None:
        """Commit one version; :class:`ConcurrentUpdateError` if that version exists already.

        On a conflict the head is first rolled forward from the journal, so the caller's reload
        sees the winner's state (and whatever a crashed writer had committed).
        """
        faults.before_commit(self.name)
        stamp = now()
        entry = {
            "_id": journal_id(commit.record_id, commit.version),
            "record": commit.record_id,
            "version": commit.version,
            "state": commit.state,
            "markings": commit.markings.model_dump(mode="json"),
            "events": [e.to_document() for e in commit.events],
            "next_deadline_at": commit.next_deadline_at,
            "deadline_traceparent": commit.deadline_traceparent,
            "cause": commit.cause,
            "committed_at": stamp,
        }
        try:
            await self._retrying("commit", lambda: self.journal.insert_one(entry))
        except DuplicateKeyError:
            # Roll forward from what the head shows, not from the version this writer started at:
            # versions already applied are not applied again (their events were published).
            head = await self._retrying(
                "head", lambda: self.collection.find_one({"_id": commit.record_id}, projection={"version": 1})
            )
            await self.roll_forward(commit.record_id, int(head["version"]) if head else 0)
            raise ConcurrentUpdateError(f"{self.name} {commit.record_id} version {commit.version} exists") from None
        await self._apply(entry, deadline_changed=commit.next_deadline_at != commit.previous_deadline_at)

    async def _apply(self, entry: Document, *, deadline_changed: bool = True) -> None:
        """Make a committed journal entry visible: outbox entry, head, due deadline (each idempotent).

        The deadline entry is written only when the record's next deadline changed (always when
        rolling forward after a crash, where the previous one is not known).
        """
        record_id, version = entry["record"], entry["version"]
        if entry["events"]:
            pending = {
                "_id": outbox_id(self.name, record_id, version),
                "collection": self.name,
                "record": record_id,
                "version": version,
                "events": entry["events"],
                "created_at": entry["committed_at"],
                "attempts": 0,
            }
            with contextlib.suppress(DuplicateKeyError):  # written before a crash: published once either way
                await self._retrying("outbox", lambda: self.outbox.insert_one(pending))
        if self.catalogue is not None:
            # Before the head: a record whose head shows this version is filed by it too.
            cards = cards_of(self.catalogue, record_id, version, entry["state"])
            await asyncio.gather(*(self._file(card) for card in cards))
        head = {
            **entry["state"],
            "markings": entry["markings"],
            "version": version,
            "updated_at": entry["committed_at"],
        }
        if version == 1:
            try:
                await self._retrying("head", lambda: self.collection.insert_one({"_id": record_id, **head}))
            except DuplicateKeyError:
                pass  # written before a crash, or by the writer this one rolls forward for: counted then
            else:
                if self._stored is not None:  # a new record: counted here, once (the insert is unique)
                    self._stored(self.name, 1)
        else:
            # Never move a head backwards (a slower writer of an older version arriving last).
            await self._retrying(
                "head",
                lambda: self.collection.update_one({"_id": record_id, "version": {"$lt": version}}, {"$set": head}),
            )
        if not deadline_changed:
            return
        due = entry.get("next_deadline_at")
        key = f"{self.name}|{record_id}"
        if due is None:
            await self._retrying("deadline", lambda: self.deadlines.delete_one({"_id": key}))
        else:
            entry_doc = {
                "collection": self.name,
                "record": record_id,
                "due_at": due,
                "bucket": due_bucket(max(due, now())),  # never a minute the clock has already left behind
                "version": version,
                "traceparent": entry.get("deadline_traceparent"),
            }
            await self._retrying("deadline", lambda: self.deadlines.replace_one({"_id": key}, entry_doc, upsert=True))

    async def _file(self, card: Document) -> None:
        """Write one card unless a later version's is there (a slower writer arriving last)."""
        newer = {"_id": card["_id"], "version": {"$lt": card["version"]}}
        with contextlib.suppress(DuplicateKeyError):  # the upsert of a card a later version wrote
            await self._retrying("card", lambda: self.cards.replace_one(newer, card, upsert=True))

    async def roll_forward(self, record_id: str, known_version: int) -> int:
        """Apply journal entries past ``known_version`` that a crash left unapplied; the latest version."""
        version = known_version
        while True:
            entry = await self._retrying(
                "journal", lambda v=version: self.journal.find_one({"_id": journal_id(record_id, v + 1)})
            )
            if entry is None:
                return version
            await self._apply(entry)
            version = entry["version"]

    # -- reading ----------------------------------------------------------------------------------

    async def get(self, record_id: str) -> Document | None:
        doc: Document | None = await self._retrying("get", lambda: self.collection.find_one({"_id": record_id}))
        if doc is None:
            # A record whose first version was committed but whose head a crash left unwritten.
            if await self.roll_forward(record_id, 0) == 0:
                return None
            doc = await self._retrying("get", lambda: self.collection.find_one({"_id": record_id}))
        return doc

    async def find_equal(self, field: str, value: Any) -> list[Document]:
        """Records whose top-level ``field`` equals ``value`` (or, for a list field, contains it).

        Equality only: FerretDB pushes equality down to an index but reads every record for ranges
        or ``$in`` (a repository's ``where_any`` makes one lookup per value).
        """

        async def run() -> list[Document]:
            return [doc async for doc in self.collection.find({field: value})]

        docs: list[Document] = await self._retrying(f"find {field}", run)
        return docs

    async def cards_filed_under(self, key: str) -> list[Document]:
        """The cards filed under ``key``, without their keys (the summary is what the caller reads)."""

        async def run() -> list[Document]:
            found = self.cards.find({"keys": key}, projection={"keys": 0}, batch_size=CARD_BATCH)
            return [card async for card in found]

        cards: list[Document] = await self._retrying("cards", run)
        return cards

    async def estimated_count(self) -> int:
        """How many records of this kind the store's statistics say there are, without reading them.

        ``$collStats`` count: FerretDB v1 answers from PostgreSQL's catalog (``pg_class.reltuples``, kept
        by autovacuum; -1 for a table never analysed), MongoDB from its metadata. Not ``count`` or
        ``estimated_document_count``, which FerretDB v1 answers by reading every document, nor the
        ``collStats``/``dbStats`` commands, which make it run ``ANALYZE`` first (verified in
        PostgreSQL's statement log). Returns -1 when the store has no estimate.
        """

        async def run() -> int:
            cursor = await self.collection.aggregate([{"$collStats": {"count": {}}}])
            found = [doc async for doc in cursor]
            return int(found[0].get("count", -1)) if found else -1

        try:
            count: int = await self._retrying("statistics", run)
        except OperationFailure:  # no such collection yet, or statistics refused: no estimate
            return -1
        return count

    async def ensure_indexes(self, fields: list[str]) -> None:
        """Indexes for the intent-named queries of this kind, and of its cards (idempotent)."""
        for field in fields:
            await self._retrying(f"index {field}", lambda f=field: self.collection.create_index([(f, ASCENDING)]))
        if self.catalogue is not None:
            await self._retrying("index cards", lambda: self.cards.create_index([("keys", ASCENDING)]))


async def ensure_service_indexes(db: AsyncDatabase[Document], settings: Settings) -> None:
    """Indexes of the kernel's own collections: due deadlines by minute."""
    for collection, field in ((DEADLINES, "bucket"),):

        async def create(c: str = collection, f: str = field) -> str:
            return await db[c].create_index([(f, ASCENDING)])

        await waiting(settings, f"index {collection}.{field}", create)
