"""One login's load never wedges the store (FerretDB v1 on PostgreSQL keeps one pool of connections per
login: ``STORE_POOL_PER_LOGIN``, 40 locally).

Unpatched, FerretDB v1 kept a query's PostgreSQL connection while the query's rows were being read: an
``update`` command held one per statement until the command ended (and took another for each write), and
a cursor held one from ``find`` to its last ``getMore``. Once a login's requests held its whole pool and
waited for one more connection, they waited forever, even through a client of ten connections; so did
every request of that login, and every login's collection creation (the catalog lock waited too). The
stack builds FerretDB with deploy/local/ferretdb/patches, which read a query's rows at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable
from typing import Any

import pytest
from pymongo import AsyncMongoClient, DeleteOne, InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError

from alliance.runtime.settings import Settings
from alliance.runtime.store import connect
from harness import MONGO_PORT, MONGO_URI, STACK_HOME, STORE_POOL_PER_LOGIN, security
from harness import stack as run_stack

pytestmark = pytest.mark.e2e

POOL = STORE_POOL_PER_LOGIN
BOUND = 30.0  # seconds for each step; each takes well under one on the local stack


def service_login(namespace: str) -> Settings:
    """The firearms service's own store settings in a namespace of this test (its client, its login)."""
    role = security.store_role("firearms")
    return Settings(
        mongo_uri=f"mongodb://127.0.0.1:{MONGO_PORT}/",
        mongo_username=role,
        mongo_password_file=security.secret_file(STACK_HOME, role, "store"),
        mongo_auth_mechanism="PLAIN",
        namespace=namespace,
    )


async def within_bound(step: str, work: Awaitable[Any]) -> Any:
    """The step's result; a step with no answer in BOUND left the store wedged: FerretDB is restarted (the
    only way out) so the session goes on, and the test fails naming the step."""
    try:
        async with asyncio.timeout(BOUND):
            return await work
    except TimeoutError:
        run_stack("down", "--only", "ferretdb")
        run_stack("up", "--only", "ferretdb")
        pytest.fail(f"the store wedged: {step} had no answer in {BOUND:.0f}s (FerretDB restarted)")


async def test_one_login_with_more_statements_and_open_cursors_than_its_pool_never_wedges_the_store(
    stack: None,
) -> None:
    settings = service_login(f"sp{uuid.uuid4().hex[:8]}")
    client = connect(settings)  # as a service process: at most ALLIANCE_MONGO_MAX_CONNECTIONS (10) in flight
    assert settings.mongo_max_connections < POOL
    db = client[settings.database("firearms")]
    records, journal, outbox = db["records"], db["journal"], db["outbox"]
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URI)
    try:
        await records.insert_many([{"_id": i, "n": 0} for i in range(2 * POOL)])

        # One update command with twice as many statements as the pool (a batch's head replacements).
        replaced = await within_bound(
            f"an update command of {2 * POOL} statements",
            records.bulk_write([ReplaceOne({"_id": i}, {"n": 1}) for i in range(2 * POOL)], ordered=False),
        )
        assert replaced.modified_count == 2 * POOL

        # Twice as many cursors open at once as the pool, each between its first batch and the rest.
        async def read_cursors() -> list[int]:
            cursors = [records.find({}, batch_size=POOL) for _ in range(2 * POOL)]
            for cursor in cursors:
                await anext(cursor)  # its find: the first batch, the cursor left open
            return [1 + len(await cursor.to_list()) for cursor in cursors]

        assert await within_bound(f"{2 * POOL} cursors open at once", read_cursors()) == [2 * POOL] * (2 * POOL)

        # A storm as the deadline clock's lanes make it: each reads a head, journals, replaces a run of
        # heads, writes outbox entries (some duplicates, unordered) and removes one.
        async def lane(i: int) -> None:
            await records.find_one({"_id": i})
            await journal.insert_one({"_id": f"j{i}"})
            await records.bulk_write([ReplaceOne({"_id": j}, {"n": 2}) for j in range(i, i + 12)], ordered=False)
            with contextlib.suppress(BulkWriteError):  # the next lane's entry may be there first: unordered
                await outbox.bulk_write([InsertOne({"_id": f"o{i}"}), InsertOne({"_id": f"o{i + 1}"})], ordered=False)
            await outbox.bulk_write([DeleteOne({"_id": f"o{i}"})])

        await within_bound("8 lanes of mixed writes", asyncio.gather(*(lane(i) for i in range(8))))
        assert await journal.count_documents({}) == 8

        # Afterwards the login answers, and both it and another login can create a collection (the catalog
        # lock is free).
        await within_bound("ping as the same login", client.admin.command("ping"))
        await within_bound("a new collection by the same login", db["created"].insert_one({"_id": 1}))
        other = admin[settings.database("firearms")]["created_by_another_login"]
        await within_bound("a new collection by another login", other.insert_one({"_id": 1}))
    finally:
        await client.close()
        await admin.drop_database(settings.database("firearms"))
        await admin.close()
