"""Issue 17, item 2: one detained person with every name field at the contract's limits.

Given names, three surnames and 20 aliases of some 166 two-letter words each once made extradition build
220 MB of filing keys (``DocumentTooLarge``), grow to 1.6 GB resident, retry and dead-letter the seizure:
the person was never compared with the fugitives. A name is now read to its first words and a person's
keys are held to a budget (``person_matching.blocking``): the person is stored, compared from both sides,
and the service stays small.
"""

from __future__ import annotations

import random
import string
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from harness import Agency, Producers, Record, System, read_all, read_until, wait_drained
from person_matching.blocking import MAX_FILING_KEYS

pytestmark = pytest.mark.e2e
X = "org.alliance.extradition."
OUTCOMES = (X + "fugitive.located.v1", X + "person_match.review_requested.v1")
PEAK_RSS_MB = 300


def at_the_limit(first: str, rng: random.Random) -> str:
    """A name field of 500 characters, the contract's limit: ``first``, then two-letter words."""
    words = [first] if first else []
    while len(" ".join(words)) < 497:
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(2)))
    return " ".join(words)[:500].strip()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


async def register(fgr: Agency, system: System, reference: str, surname: str) -> None:
    await fgr.send(
        system.topic("alliance.extradition.intake"),
        {
            "fugitive_reference": reference,
            "wanted_by": "MX",
            "priority": True,
            "person": {"given_names": "Joaquín", "surnames": [surname, "Loera"], "nationality": "MX"},
            "charges": ["delincuencia organizada"],
        },
        event_type=X + "fugitive.registered.v1",
        key=reference,
    )


async def test_a_detained_person_at_the_contract_limits_is_kept_and_compared_without_exhausting_extradition(
    system: System, agency: Agency, producer: Producers, mongo: MongoClient[dict[str, Any]]
) -> None:
    run = uuid.uuid4().hex[:6]
    rng = random.Random(run)
    fgr = Agency(producer, "mx-fgr")
    surname = f"Guzmán{run}"
    before, after = f"FGR-{run}-1", f"FGR-{run}-2"
    # One fugitive registered before the seizure (found by the detained person's lookup), one after
    # (finding the detained person's filing keys): both sides of the comparison.
    await register(fgr, system, before, surname)
    await wait_drained(system.group("extradition", "intake"), [system.topic("alliance.extradition.intake")])
    person = {
        "given_names": at_the_limit("Joaquín", rng),
        "surnames": [at_the_limit(surname, rng), at_the_limit("Loera", rng), at_the_limit("", rng)],
        "aliases": [at_the_limit("", rng) for _ in range(20)],
    }
    await agency.send(
        system.topic("alliance.interdiction.intake"),
        {
            "report_reference": f"LONGEST-{run}",
            "seizure": {
                "mode": "land",
                "seized_at": "2026-11-20T14:30:00-06:00",
                "place": {"description": "Laredo, lane 2", "country": "US", "port_of_entry": "Laredo"},
                "drugs": [{"drug": "methamphetamine", "quantity": 20, "unit": "kg"}],
                "detained_persons": [person],
            },
        },
        event_type="org.alliance.interdiction.seizure.reported.v1",
    )
    events = system.topic("alliance.extradition.events")

    def outcomes(records: list[Record], reference: str) -> list[Record]:
        """The comparison's outcomes for one fugitive, one per event id: the relay publishes at least once
        (its sweep may publish an event again while the handler's own publication is slow)."""
        found = [r for r in records if r.type in OUTCOMES and r.json()["fugitive_reference"] == reference]
        return list({r.headers["ce_id"]: r for r in found}.values())

    await read_until([events], lambda rs: bool(outcomes(rs, before)), timeout=120)
    await register(fgr, system, after, surname)
    await read_until([events], lambda rs: bool(outcomes(rs, after)), timeout=120)
    # Read everything once each consumer has stored its work: a second outcome or a dead letter would show.
    await wait_drained(system.group("interdiction", "intake"), [system.topic("alliance.interdiction.intake")])
    await wait_drained(system.group("extradition", "seizures"), [system.topic("alliance.interdiction.events")])
    await wait_drained(system.group("extradition", "intake"), [system.topic("alliance.extradition.intake")])
    records = await read_all([events])
    for reference in (before, after):
        [outcome] = outcomes(records, reference)
        assert outcome.json()["detained_person"]["surnames"] == person["surnames"]  # the record is kept whole
        assert (outcome.json()["wanted_by"], outcome.json()["located_in"]) == ("MX", "US")
    stored = list(
        mongo[system.database("extradition")].detained_persons.find({"person.surnames.0": person["surnames"][0]})
    )
    assert len(stored) == 1
    assert 0 < len(stored[0]["index_keys"]) <= MAX_FILING_KEYS
    dead = await read_all(
        [system.topic("alliance.interdiction.deadletter"), system.topic("alliance.extradition.deadletter")]
    )
    assert not [r for r in dead if run in r.value.decode("utf-8", "replace")]
    process = system.services["extradition"].process
    assert process is not None
    assert process.poll() is None  # still running: never crashed
    assert peak_rss_mb(process.pid) < PEAK_RSS_MB
