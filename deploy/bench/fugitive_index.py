"""The fugitive index at scale: detained persons matched against 100,000 registered fugitives.

    python deploy/bench/fugitive_index.py [--fugitives 100000] [--detained 1000] [--keep]

Fugitives are drawn with real name frequencies (the matcher's own US 2020 census tables; the Hispanic
population's for Mexican names): two surnames, one or two given names, 92 % with a full date of
birth, 4 % with the year only, 4 % with none. Their records are loaded by bulk insert of the heads
and index cards the store writes, into a database of their own on the local store. Each detained
person is then looked up and compared exactly as extradition's handler does it:
``Fugitives.filed_under(detained.person)`` (the cards under its finding keys, weighed by the matcher,
the likely ones loaded whole), then ``Fugitive.compare`` for each.
Half the detained persons are registered fugitives seen again (as registered, without the maternal
surname, with the year of birth only, or with a one-letter slip in the surname); half are strangers.

Reported: per detained person, the time from lookup to decision (p50, p99, max), index lookups,
cards read and records loaded; and how many fugitives seen again were found (``match`` or ``possible``). Written to
``.local/bench/fugitive-index.json``. Needs the local store (``make up``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from alliance.application.records import cards_of
from alliance.application.repository import FactOutlet
from alliance.contracts.common import Person, Place
from alliance.contracts.extradition import FugitiveRegistered
from alliance.contracts.markings import TLP, Markings
from alliance.runtime.settings import Settings
from alliance.runtime.store import AggregateStore
from extradition.domain import DetainedPerson, Fugitive
from extradition.store import Fugitives
from person_matching.matching import filing_keys, finding_keys

ROOT = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("ALLIANCE_HOME", ROOT / ".local")).resolve()
MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-fgr",))
BATCH = 1000
TARGET_P99_MS = 50.0


def name_table() -> tuple[list[str], list[float], list[str], list[float]]:
    """Surnames and given names with their frequency among Hispanic people in the census tables."""
    text = resources.files("person_matching").joinpath("data/name_frequencies.tsv").read_text(encoding="utf-8")
    surnames: list[str] = []
    s_weights: list[float] = []
    given: list[str] = []
    g_weights: list[float] = []
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        weight = float(row["per_million_hispanic"] or 0)
        if weight <= 0 or len(row["name"]) < 2:
            continue
        if row["kind"] == "surname":
            surnames.append(row["name"])
            s_weights.append(weight)
        elif row["kind"] == "given":
            given.append(row["name"])
            g_weights.append(weight)
    return surnames, s_weights, given, g_weights


class People:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.surnames, self.s_weights, self.given, self.g_weights = name_table()

    def person(self) -> Person:
        rng = self.rng
        paternal, maternal = rng.choices(self.surnames, self.s_weights, k=2)
        given = rng.choices(self.given, self.g_weights, k=2 if rng.random() < 0.4 else 1)
        roll = rng.random()
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))
        dob = born if roll < 0.92 else (date(born.year, 1, 1) if roll < 0.96 else None)  # 1 January: year only
        return Person(
            given_names=" ".join(given).upper(),
            surnames=[paternal.upper(), maternal.upper()],
            date_of_birth=dob,
            nationality="MX",
        )

    def seen_again(self, person: Person) -> Person:
        """The same person as another agency writes them down."""
        rng = self.rng
        change = rng.randrange(4)
        if change == 1:
            return person.model_copy(update={"surnames": person.surnames[:1]})
        if change == 2 and person.date_of_birth is not None:
            return person.model_copy(update={"date_of_birth": date(person.date_of_birth.year, 1, 1)})
        if change == 3:
            paternal = person.surnames[0]
            i = rng.randrange(1, len(paternal))
            slipped = paternal[:i] + paternal[i + 1 :]  # one letter dropped
            return person.model_copy(update={"surnames": [slipped, *person.surnames[1:]]})
        return person


def precision(person: Person) -> str:
    """How the detained person's date of birth is known (1 January is read as the year only)."""
    dob = person.date_of_birth
    return "none" if dob is None else "year" if (dob.month, dob.day) == (1, 1) else "day"


def head(fugitive: Fugitive) -> dict[str, Any]:
    """The head document the store writes for a first version (see AggregateStore)."""
    now = datetime.now(UTC)
    return {
        "_id": fugitive.id,
        **fugitive.state(),
        "markings": fugitive.markings.model_dump(mode="json"),
        "version": 1,
        "updated_at": now,
    }


class CountingStore(AggregateStore):
    """The store, counting the cards lookups read."""

    cards_read = 0

    async def cards_filed_under(self, key: str) -> list[dict[str, Any]]:
        cards = await super().cards_filed_under(key)
        self.cards_read += len(cards)
        return cards


def local_store_admin() -> dict[str, str]:
    """The local stack's store superuser (its own secret file): the bench database is no service's."""
    sys.path.insert(0, str(ROOT / "deploy" / "local"))
    import security

    role = security.STORE_ADMIN
    return {"username": role, "password": security.password(HOME, role, "store"), "authMechanism": "PLAIN"}


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fugitives", type=int, default=100_000)
    parser.add_argument("--detained", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--keep", action="store_true", help="keep the bench database (to look at it)")
    parser.add_argument(
        "--reuse", action="store_true", help="match against a kept database of the same size and seed (no load)"
    )
    args = parser.parse_args()
    console = Console()
    settings = Settings()
    database = f"bench_fugitives_{args.fugitives}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_uri, tz_aware=True, **(settings.mongo_auth() or local_store_admin())
    )
    db = client[database]
    assert Fugitives.catalogue is not None
    catalogue = Fugitives.catalogue
    records = CountingStore(db, Fugitives.collection, settings, catalogue)
    fugitives = Fugitives(records, FactOutlet("urn:alliance:service:extradition", "bench.events"))
    people = People(args.seed)
    registered: list[Person] = []
    try:
        reuse = args.reuse and await db[Fugitives.collection].count_documents({}) == args.fugitives
        if not reuse:  # a kept database may hold keys of another version
            await db[Fugitives.collection].drop()
            await records.cards.drop()
            await records.ensure_indexes(list(Fugitives.indexes))
        load_started = time.monotonic()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("registering fugitives", total=args.fugitives)
            for start in range(0, args.fugitives, BATCH):
                batch: list[dict[str, Any]] = []
                cards: list[dict[str, Any]] = []
                for n in range(start, min(start + BATCH, args.fugitives)):
                    person = people.person()
                    registered.append(person)
                    event = FugitiveRegistered(
                        fugitive_reference=f"FG-{n:07d}", wanted_by="MX", person=person, charges=["narcotics"]
                    )
                    if not reuse:  # the same people again: drawn from the same seed
                        fugitive = Fugitive.register(event, MARKINGS, "mx-fgr")
                        batch.append(head(fugitive))
                        cards += cards_of(catalogue, fugitive.id, 1, fugitive.state())
                if batch:
                    await db[Fugitives.collection].insert_many(batch, ordered=False)
                    await records.cards.insert_many(cards, ordered=False)
                progress.update(task, completed=len(registered))
        load_seconds = time.monotonic() - load_started
        sample = registered[:1000]
        keys_per_fugitive = sum(len(filing_keys(p)) for p in sample) / len(sample)
        await asyncio.sleep(2)  # the store's index bridge adds its GIN index within a second of a new index

        timings: list[float] = []
        lookup_ms: list[float] = []
        by_date: dict[str, list[float]] = {"day": [], "year": [], "none": []}
        lookups: list[int] = []
        candidates: list[int] = []  # cards read
        loaded: list[int] = []  # records loaded whole
        found = seen_again = 0
        place = Place(description="Laredo", country="US")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("matching detained persons", total=args.detained)
            for n in range(args.detained):
                again = n % 2 == 0
                person = people.seen_again(people.rng.choice(registered)) if again else people.person()
                seen = DetainedPerson.seen(f"SZ-bench-{n}", person, place, date(2026, 11, 20), MARKINGS)
                started = time.perf_counter()
                keys = finding_keys(seen.person)
                read_before = records.cards_read
                found_here = await fugitives.filed_under(seen.person)
                looked_up = time.perf_counter()
                decided = [r for f in found_here if (r := f.compare(seen.person, "US")) is not None]
                timings.append((time.perf_counter() - started) * 1000)
                lookup_ms.append((looked_up - started) * 1000)
                by_date[precision(person)].append(timings[-1])
                lookups.append(len(keys))
                candidates.append(records.cards_read - read_before)
                loaded.append(len(found_here))
                if again:
                    seen_again += 1
                    found += bool(decided)
                progress.update(task, completed=n + 1)
        ordered = sorted(timings)
        result = {
            "fugitives": args.fugitives,
            "detained": args.detained,
            "load_seconds": round(load_seconds, 1),
            "index_keys_per_fugitive": round(keys_per_fugitive, 1),
            "p50_ms": round(percentile(ordered, 0.50), 2),
            "p99_ms": round(percentile(ordered, 0.99), 2),
            "max_ms": round(ordered[-1], 2),
            "lookup_p50_ms": round(percentile(sorted(lookup_ms), 0.50), 2),
            "lookup_p99_ms": round(percentile(sorted(lookup_ms), 0.99), 2),
            "lookups_per_person": round(sum(lookups) / len(lookups), 1),
            "lookups_max": max(lookups),
            "cards_read_mean": round(sum(candidates) / len(candidates), 1),
            "cards_read_p99": percentile(sorted(candidates), 0.99),
            "records_loaded_mean": round(sum(loaded) / len(loaded), 2),
            "records_loaded_max": max(loaded),
            "seen_again_found": f"{found}/{seen_again}",
            **{
                f"p99_ms_date_{kind}": round(percentile(sorted(ms), 0.99), 2) if ms else None
                for kind, ms in by_date.items()
            },
            **{f"detained_date_{kind}": len(ms) for kind, ms in by_date.items()},
            "target_p99_ms": TARGET_P99_MS,
        }
        table = Table(title=f"fugitive index: {args.fugitives:,} fugitives, {args.detained:,} detained persons")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for k, v in result.items():
            table.add_row(k.replace("_", " "), str(v))
        console.print(table)
        out = HOME / "bench" / "fugitive-index.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
        console.print(f"written to {out}")
        return 0 if result["p99_ms"] < TARGET_P99_MS else 1
    finally:
        if not args.keep:
            await client.drop_database(database)
        await client.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
