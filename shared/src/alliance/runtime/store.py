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

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, DeleteOne, InsertOne, ReplaceOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from alliance.application.records import Catalogue, Commit, ConcurrentUpdateError, Document, cards_of
from alliance.runtime import faults
from alliance.runtime.batches import Deferred, current_record, group_in_order
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
DUPLICATE_KEY = 11000


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
        maxPoolSize=settings.mongo_max_connections,  # more commands wait here, never inside the store
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
            await self._own_writes()
            head = await self._retrying(
                "head", lambda: self.collection.find_one({"_id": commit.record_id}, projection={"version": 1})
            )
            await self.roll_forward(commit.record_id, int(head["version"]) if head else 0)
            raise ConcurrentUpdateError(f"{self.name} {commit.record_id} version {commit.version} exists") from None
        deferred = Deferred(self, entry, deadline_changed=commit.next_deadline_at != commit.previous_deadline_at)
        record = current_record()
        if record is not None:  # in a batch: written with the batch's (see alliance.runtime.batches)
            record.deferred.append(deferred)
        else:
            await apply_committed([deferred])

    async def _apply(self, entry: Document) -> None:
        """Make a committed journal entry visible (rolling forward: the previous deadline is not known)."""
        await apply_committed([Deferred(self, entry, deadline_changed=True)])

    async def _own_writes(self) -> None:
        """A handler reads its own writes: apply what the record being handled deferred so far."""
        record = current_record()
        if record is not None and record.deferred:
            deferred, record.deferred = record.deferred, []
            await apply_committed(deferred)

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
        await self._own_writes()
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

        await self._own_writes()

        docs: list[Document] = await self._retrying(f"find {field}", run)
        return docs

    async def cards_filed_under(self, key: str) -> list[Document]:
        """The cards filed under ``key``, without their keys (the summary is what the caller reads)."""

        async def run() -> list[Document]:
            found = self.cards.find({"keys": key}, projection={"keys": 0}, batch_size=CARD_BATCH)
            return [card async for card in found]

        await self._own_writes()

        cards: list[Document] = await self._retrying("cards", run)
        return cards

    async def estimated_count(self) -> int:
        """How many records of this kind the store's statistics say there are, without reading them.

        ``$collStats`` count: FerretDB v1 answers from PostgreSQL's catalog (``pg_class.reltuples``, kept
        by autovacuum; -1 for a table never analysed), MongoDB from its metadata. Not ``count`` or
        an estimated document count, which FerretDB v1 answers by reading every document, nor the
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


async def apply_committed(deferred: Sequence[Deferred]) -> None:
    """Make committed journal entries visible: outbox entries → cards → heads → due deadlines.

    One bulk write per collection for all of them (a batch's records, or one commit). Each write is
    idempotent and never moves anything backwards (a slower writer of an older version arriving last
    finds a later head or card and changes nothing), so a retry or a roll-forward may repeat it.
    Within one call a record's latest version is the one written; every version keeps its outbox entry.
    """
    if not deferred:
        return
    first = deferred[0].store
    outbox = [_outbox_entry(d.store.name, d.entry) for d in deferred if d.entry["events"]]
    if outbox:  # written before a crash: published once either way
        await _bulk(first, "outbox", first.outbox, [InsertOne(doc) for doc in outbox])
    for stores in group_in_order(deferred, lambda d: d.store.name).values():
        store = stores[0].store
        latest = {d.entry["record"]: d.entry for d in sorted(stores, key=lambda d: d.entry["version"])}
        created = {d.entry["record"] for d in stores if d.entry["version"] == 1}
        if store.catalogue is not None:
            # Before the head: a record whose head shows this version is filed by it too.
            catalogue = store.catalogue
            cards = {
                record: cards_of(catalogue, record, entry["version"], entry["state"])
                for record, entry in latest.items()
            }
            await _bulk(store, "cards", store.cards, _newer_versions(cards, created))
        heads = {record: [_head(entry)] for record, entry in latest.items()}
        inserted = await _bulk(store, "heads", store.collection, _newer_versions(heads, created))
        if inserted and store._stored is not None:  # new records, counted once: the head's insert is unique
            store._stored(store.name, inserted)
    deadlines: dict[str, Any] = {}
    for d in sorted(deferred, key=lambda d: d.entry["version"]):
        key = f"{d.store.name}|{d.entry['record']}"
        if d.deadline_changed or key in deadlines:
            deadlines[key] = _deadline_write(d.store.name, key, d.entry)
    if deadlines:
        await _bulk(first, "deadlines", first.deadlines, list(deadlines.values()))


def _newer_versions(docs: dict[str, list[Document]], created: set[str]) -> list[Any]:
    """Writes of each record's documents (head or cards) at its latest version: inserted for a record
    created now, replacing a stored older version otherwise; never moving one backwards.

    No upserts: FerretDB v1 leaves ``nModified`` out of an update's answer that carries a duplicate-key
    error, which PyMongo's bulk write cannot read. An insert of a document that exists fails alone (a
    roll-forward, a redelivery); the replace that follows it brings it to this version if it is older.
    PyMongo sends an unordered bulk write's inserts before its updates.
    """
    writes: list[Any] = []
    for record, versions in docs.items():
        for doc in versions:
            if record in created:
                writes.append(InsertOne(doc))
            if doc["version"] > 1 or record not in created:
                writes.append(ReplaceOne({"_id": doc["_id"], "version": {"$lt": doc["version"]}}, doc))
    return writes


def _outbox_entry(collection: str, entry: Document) -> Document:
    return {
        "_id": outbox_id(collection, entry["record"], entry["version"]),
        "collection": collection,
        "record": entry["record"],
        "version": entry["version"],
        "events": entry["events"],
        # When it was written, not committed: a batch writes it later; the sweep's grace runs from here.
        "created_at": now(),
        "attempts": 0,
    }


def _head(entry: Document) -> Document:
    return {
        "_id": entry["record"],
        **entry["state"],
        "markings": entry["markings"],
        "version": entry["version"],
        "updated_at": entry["committed_at"],
    }


def _deadline_write(collection: str, key: str, entry: Document) -> DeleteOne | ReplaceOne[Document]:
    due = entry.get("next_deadline_at")
    if due is None:
        return DeleteOne({"_id": key})
    return ReplaceOne(
        {"_id": key},
        {
            "_id": key,
            "collection": collection,
            "record": entry["record"],
            "due_at": due,
            "bucket": due_bucket(max(due, now())),  # never a minute the clock has already left behind
            "version": entry["version"],
            "traceparent": entry.get("deadline_traceparent"),
        },
        upsert=True,
    )


async def _bulk(store: AggregateStore, what: str, collection: AsyncCollection[Document], ops: list[Any]) -> int:
    """One unordered bulk write; a duplicate key (written already, or a later version's) is not an error.
    The number of documents it inserted."""
    if not ops:
        return 0

    async def write() -> int:
        try:
            return (await collection.bulk_write(ops, ordered=False)).inserted_count
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or []
            if any(e.get("code") != DUPLICATE_KEY for e in errors) or exc.details.get("writeConcernErrors"):
                raise
            return int(exc.details.get("nInserted", 0))

    inserted: int = await store._retrying(what, write)
    return inserted


async def ensure_service_indexes(db: AsyncDatabase[Document], settings: Settings) -> None:
    """Indexes of the kernel's own collections: due deadlines by minute."""
    for collection, field in ((DEADLINES, "bucket"),):

        async def create(c: str = collection, f: str = field) -> str:
            return await db[c].create_index([(f, ASCENDING)])

        await waiting(settings, f"index {collection}.{field}", create)
