"""Extradition's own database: one repository per aggregate, with the queries the handlers need by name."""

from __future__ import annotations

from alliance.application.records import Catalogue, Document
from alliance.application.repository import Repository
from alliance.contracts.common import Person
from extradition.domain import DetainedPerson, ExtraditionRequest, Fugitive, MlatRequest, PersonMatch, StatusReport
from person_matching.matching import finding_keys, may_be_the_same

# An index of people: each person is filed on cards carrying their names and date of birth, so the
# matcher tells a common name's namesakes apart without reading their whole records.
PEOPLE = Catalogue(keys="index_keys", carries=("person",))


class Fugitives(Repository[Fugitive]):
    kind = Fugitive
    collection = "fugitives"
    catalogue = PEOPLE

    async def filed_under(self, seen: Person) -> list[Fugitive]:
        """The fugitives a person seen elsewhere (detained, or a traced gun's purchaser) may be: the fugitive
        index's cards under the person's finding keys, weighed by the matcher. Equality lookups only."""

        def worth_loading(card: Document) -> bool:
            return may_be_the_same(Person.model_validate(card["person"]), seen)

        return await self.catalogued(finding_keys(seen), worth_loading)


class DetainedPersons(Repository[DetainedPerson]):
    kind = DetainedPerson
    collection = "detained_persons"
    catalogue = PEOPLE

    async def filed_under(self, wanted: Person) -> list[DetainedPerson]:
        """People detained at seizures whom a newly registered fugitive may be."""

        def worth_loading(card: Document) -> bool:
            return may_be_the_same(wanted, Person.model_validate(card["person"]))

        return await self.catalogued(finding_keys(wanted), worth_loading)


class PersonMatches(Repository[PersonMatch]):
    kind = PersonMatch
    collection = "person_matches"


class ExtraditionRequests(Repository[ExtraditionRequest]):
    kind = ExtraditionRequest
    collection = "extradition_requests"
    indexes = ("priority",)
    deadlines = True  # the treaty's sixty days for the formal request

    async def priority_cases(self) -> list[ExtraditionRequest]:
        return await self.where("priority", True)


class MlatRequests(Repository[MlatRequest]):
    kind = MlatRequest
    collection = "mlat_requests"
    indexes = ("priority",)
    deadlines = True  # review and execution periods

    async def priority_cases(self) -> list[MlatRequest]:
        return await self.where("priority", True)


class StatusReports(Repository[StatusReport]):
    kind = StatusReport
    collection = "status_reports"
