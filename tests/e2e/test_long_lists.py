"""A record with a long indexed list (a person's index keys) is stored, found and never wedges a service.

FerretDB creates a B-tree on the whole value of an indexed field, which PostgreSQL refuses above 2704
bytes; the store's index bridge replaces non-unique ones with GIN indexes, which index each element.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import OperationFailure

from harness import MONGO_URI, Agency, System, read_all, wait_drained
from payloads.interdiction import COCAINE, seizure_reported

pytestmark = pytest.mark.e2e


async def test_a_document_with_a_long_indexed_list_is_stored_and_found_by_each_element() -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO_URI)
    name = f"long_{uuid.uuid4().hex[:8]}"
    try:
        collection = client[name]["people"]
        await collection.create_index("keys")
        keys = [f"s:{uuid.uuid4().hex}@{1950 + i % 60}" for i in range(400)]  # some 20 KB
        deadline = time.monotonic() + 30
        while True:  # the bridge swaps the B-tree for a GIN index within a second or two of its creation
            refused = ""
            try:
                await collection.insert_one({"_id": "p1", "keys": keys})
            except OperationFailure as exc:
                refused = str(exc)
            if not refused:
                break
            assert "index row" in refused, refused  # the B-tree on the whole list, not yet replaced
            assert time.monotonic() < deadline, "the B-tree on the list was never replaced"
            await asyncio.sleep(0.2)
        found = await collection.find({"keys": keys[237]}).to_list()
        assert [d["_id"] for d in found] == ["p1"]
        plan = await client[name].command("explain", {"find": "people", "filter": {"keys": keys[5]}})
        assert "Bitmap Index Scan" in str(plan)  # an index, not a scan of the table
    finally:
        await client.drop_database(name)
        await client.close()


async def test_a_detained_person_with_many_long_aliases_is_kept_and_flows_go_on(
    system: System, agency: Agency, mongo: MongoClient[dict[str, Any]]
) -> None:
    run = uuid.uuid4().hex[:6]
    person = {
        "given_names": "José María Guadalupe",
        "surnames": ["Ponce de León", "Montes de Oca"],
        "aliases": [f"Alias{chr(97 + i)} Fernández de la Cruz Villarreal" for i in range(10)],
        "date_of_birth": "1980-05-05",
    }
    seizure = seizure_reported(f"LONG-{run}", drugs=[COCAINE], detained_persons=[person])
    await agency.send(system.topic("alliance.interdiction.intake"), seizure, event_type=REPORTED)
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("extradition", "seizures"), [system.topic("alliance.interdiction.events")])
    stored = list(
        mongo[system.database("extradition")].detained_persons.find({"person.aliases.0": person["aliases"][0]})
    )
    assert len(stored) == 1
    assert len(stored[0]["index_keys"]) > 500  # far beyond what one B-tree entry may hold
    dead = await read_all([system.topic("alliance.extradition.deadletter")])
    assert not [r for r in dead if f"LONG-{run}" in r.value.decode("utf-8", "replace")]


REPORTED = "org.alliance.interdiction.seizure.reported.v1"
