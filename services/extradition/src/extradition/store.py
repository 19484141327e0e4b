"""Extradition's own database: one repository per aggregate, with the queries the handlers need by name."""

from __future__ import annotations

from collections.abc import Iterable

from alliance.application.repository import Repository
from extradition.domain import DetainedPerson, ExtraditionRequest, Fugitive, MlatRequest, PersonMatch, StatusReport


class Fugitives(Repository[Fugitive]):
    kind = Fugitive
    collection = "fugitives"
    indexes = ("index_keys",)

    async def filed_under(self, keys: Iterable[str]) -> list[Fugitive]:
        """Candidates for a person seen elsewhere (detained, or a traced gun's purchaser): the fugitive
        index's blocks for its finding keys, then compared. Equality lookups only, never a scan."""
        return await self.where_any("index_keys", keys)


class DetainedPersons(Repository[DetainedPerson]):
    kind = DetainedPerson
    collection = "detained_persons"
    indexes = ("index_keys",)

    async def filed_under(self, keys: Iterable[str]) -> list[DetainedPerson]:
        """People detained at seizures whom a newly registered fugitive may be."""
        return await self.where_any("index_keys", keys)


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
