"""Disclosure at commit time: each fact carries its release decision; a tightening sends withdrawals."""

from __future__ import annotations

from typing import Any, ClassVar

from alliance.application.records import Commit, PendingEvent
from alliance.application.repository import FactOutlet, Repository
from alliance.application.testing import MemoryRecords
from alliance.contracts.base import Fact
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.registry import Agency, AgencyKind, AgencyRegistered, Registry
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
AMBER = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))


def notes(registry: list[Registry] | None = None) -> tuple[Notes, list[PendingEvent]]:
    committed: list[PendingEvent] = []

    def keep(commit: Commit) -> None:
        committed.extend(commit.events)

    outlet = FactOutlet(
        "urn:alliance:service:test",
        "alliance.test.events",
        registry=lambda: (registry or [REGISTRY])[-1],
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
        "reason": "your agency may no longer hold this record; delete what you received about it",
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


def changed(registry: Registry, entry: Agency) -> Registry:
    """The registry after an operator's change of one entry (its next version)."""
    change = AgencyRegistered(registry_version=registry.version + 1, replaces_version=registry.version, agency=entry)
    return registry.after(change)


def withdrawn_from(committed: list[PendingEvent]) -> list[str]:
    return [p.topic.rsplit(".", 1)[1] for p in committed if p.event.type == "org.alliance.delivery.withdrawn.v1"]


async def test_an_agency_that_never_received_the_record_is_never_told_its_id() -> None:
    # mx-pgr is routed only another type of fact: it could have received those, but this record raised none.
    other = Agency(id="mx-pgr", name="pgr", country="MX", kind=AgencyKind.PROSECUTOR, receives=("org.alliance.x.*",))
    registry = [Registry(version=7, agencies=(*REGISTRY.agencies, other))]
    repository, committed = notes(registry)
    note = Note(id="N-1", markings=US_MX, text="")
    note.write("first")
    await repository.add(note)
    committed.clear()
    await repository.change("N-1", lambda n: n.absorb_markings(US_ONLY))
    assert withdrawn_from(committed) == ["mx-semar"]
    await repository.change("N-1", lambda n: n.absorb_markings(US_ONLY.model_copy(update={"tlp": TLP.AMBER})))
    assert withdrawn_from(committed) == ["mx-semar"]  # told once: it holds nothing of the record any more


async def test_a_lower_clearance_withdraws_the_records_that_agency_received_and_only_from_it() -> None:
    registry = [REGISTRY]
    repository, committed = notes(registry)
    note = Note(id="N-1", markings=AMBER, text="")
    note.write("amber")
    await repository.add(note)
    assert await repository.released_to("mx-semar") == ["N-1"]
    committed.clear()
    await repository.reconsider_release("N-1")
    assert committed == []  # nothing changed: nothing is stored or sent
    lowered = REGISTRY.agencies[1].model_copy(update={"clearance": TLP.GREEN})
    registry.append(changed(REGISTRY, lowered))
    await repository.reconsider_release("N-1")
    assert withdrawn_from(committed) == ["mx-semar"]
    assert await repository.released_to("mx-semar") == []
    await repository.reconsider_release("N-1")
    assert withdrawn_from(committed) == ["mx-semar"]  # once


async def test_a_revoked_consent_withdraws_originator_controlled_records_from_that_agency() -> None:
    consenting = REGISTRY.agencies[0].model_copy(update={"orcon_consents": ("mx-semar",)})
    registry = [changed(REGISTRY, consenting)]
    repository, committed = notes(registry)
    note = Note(id="N-1", markings=US_MX.model_copy(update={"originator_control": True}), text="")
    note.write("orcon")
    await repository.add(note)
    [fact] = committed
    assert fact.release is not None
    assert sorted(fact.release.recipients()) == ["mx-semar", "us-cbp"]
    committed.clear()
    registry.append(changed(registry[-1], REGISTRY.agencies[0]))  # consent revoked
    await repository.reconsider_release("N-1")
    assert withdrawn_from(committed) == ["mx-semar"]
