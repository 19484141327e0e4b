"""Disclosure at commit time: each fact carries its release decision; a tightening sends withdrawals."""

from __future__ import annotations

from typing import Any, ClassVar

from alliance.application.records import Commit, PendingEvent
from alliance.application.repository import FactOutlet, Repository
from alliance.application.testing import MemoryRecords
from alliance.contracts.base import Fact
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.registry import Agency, AgencyKind, Registry
from alliance.domain.aggregate import Aggregate

US_MX = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-cbp",))
US_ONLY = Markings(tlp=TLP.GREEN, releasable_to=("US",), originators=("us-cbp",))


class Noted(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.test.noted.v1"
    note: str


class Note(Aggregate):
    RECORD_TYPE = "note"
    text: str

    def write(self, text: str) -> None:
        self.text = text
        self._raise(Noted(note=text))


class Notes(Repository[Note]):
    kind = Note
    collection = "notes"


def agency(id: str, country: str) -> Agency:
    return Agency(id=id, name=id, country=country, kind=AgencyKind.CUSTOMS, receives=("org.alliance.test.*",))


REGISTRY = Registry(version=7, agencies=(agency("us-cbp", "US"), agency("mx-semar", "MX")))


def notes() -> tuple[Notes, list[PendingEvent]]:
    committed: list[PendingEvent] = []

    def keep(commit: Commit) -> None:
        committed.extend(commit.events)

    outlet = FactOutlet(
        "urn:alliance:service:test",
        "alliance.test.events",
        registry=lambda: REGISTRY,
        published_types=lambda: [Noted.EVENT_TYPE],
    )
    return Notes(MemoryRecords("notes", keep), outlet), committed


async def test_each_fact_carries_the_decision_for_every_registered_agency() -> None:
    repository, committed = notes()
    note = Note(id="N-1", markings=US_ONLY, text="")
    note.write("first")
    await repository.add(note)
    [fact] = committed
    assert fact.release is not None
    assert fact.release.registry_version == 7
    assert {(d.recipient, d.allowed, d.rule) for d in fact.release.decisions} == {
        ("us-cbp", True, "released"),
        ("mx-semar", False, "releasability"),
    }


async def test_a_tightening_withdraws_from_those_who_lose_access_and_tells_them_nothing_else() -> None:
    repository, committed = notes()
    note = Note(id="N-1", markings=US_MX, text="")
    note.write("first")
    await repository.add(note)
    committed.clear()

    def tighten(n: Any) -> None:
        n.absorb_markings(US_ONLY)
        n.write("second, US only")

    await repository.change("N-1", tighten)
    withdrawals = [p for p in committed if p.event.type == "org.alliance.delivery.withdrawn.v1"]
    assert [w.topic for w in withdrawals] == ["alliance.deliveries.mx-semar"]
    [withdrawal] = withdrawals
    assert withdrawal.event.data == {
        "record_id": "N-1",
        "reason": "the markings of this record were tightened; delete what you received about it",
    }
    assert "second" not in withdrawal.event.model_dump_json()
    [fact] = [p for p in committed if p.event.type == Noted.EVENT_TYPE]
    assert fact.release is not None
    assert fact.release.recipients() == ["us-cbp"]  # the new content reaches only who may still see it


async def test_loosening_or_keeping_markings_withdraws_nothing() -> None:
    repository, committed = notes()
    note = Note(id="N-1", markings=US_ONLY, text="")
    note.write("first")
    await repository.add(note)
    committed.clear()
    await repository.change("N-1", lambda n: n.write("second"))
    assert [p.event.type for p in committed] == [Noted.EVENT_TYPE]
