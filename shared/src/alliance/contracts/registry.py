"""The agency registry: who may send which intake events, and who may receive which facts.

A versioned data file (``alliance/data/agencies.json``) is the baseline; registry changes are events
on the registry topic (written only by the operators' principal), each carrying one agency's whole
entry, the registry version it was made against and the version it makes. Every service folds the
file and the topic into the same :class:`Registry`, so every release decision names the registry
version it was taken under.

A change is a compare-and-set: it applies only to the version it names (:meth:`Registry.after`).
The registry topic has one partition, so every reader sees the changes in the same order and refuses
the same ones: of two changes made against the same version, the first written wins and the other
is refused everywhere (the operators' CLI reads the topic back and says which).
"""

from __future__ import annotations

import fnmatch
import json
from enum import StrEnum
from importlib import resources
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from alliance.contracts.base import Fact
from alliance.contracts.markings import TLP, AgencyId, CountryCode

REGISTRY_TOPIC = "alliance.registry"


class AgencyKind(StrEnum):
    CUSTOMS = "customs"
    BORDER_ENFORCEMENT = "border_enforcement"
    NAVY = "navy"
    TRACING_CENTRE = "tracing_centre"
    FORENSIC_LABORATORY = "forensic_laboratory"
    EXPORT_LICENSING = "export_licensing"
    CHEMICAL_AUTHORITY = "chemical_authority"
    FINANCIAL_INTELLIGENCE_UNIT = "fiu"
    ASSET_FORFEITURE = "asset_forfeiture"
    CENTRAL_AUTHORITY = "central_authority"
    PROSECUTOR = "prosecutor"
    INTELLIGENCE_CENTRE = "intelligence_centre"


class Agency(BaseModel):
    """One agency system: its principal is its id; it writes only to its own intake topics."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: AgencyId
    name: str = Field(max_length=200)
    country: CountryCode
    kind: AgencyKind
    sends: tuple[str, ...] = Field(default=(), description="intake event types it may send (glob patterns)")
    receives: tuple[str, ...] = Field(default=(), description="fact event types delivered to it (glob patterns)")
    clearance: TLP = Field(default=TLP.AMBER, description="the highest TLP level it may receive")
    orcon_consents: tuple[AgencyId, ...] = Field(
        default=(), description="agencies it lets receive the originator-controlled information it originates"
    )

    def may_send(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.sends)

    def subscribed_to(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.receives)

    def sends_to(self, domain: str) -> bool:
        """Whether it may send any intake event of ``domain`` (so has an intake topic there)."""
        return any(p.startswith(f"org.alliance.{domain}.") for p in self.sends)

    def source_matches(self, source: str) -> bool:
        """An event's ``ce_source`` names this agency: ``urn:agency:<id>`` or ``urn:agency:<id>:<system>``."""
        return source == f"urn:agency:{self.id}" or source.startswith(f"urn:agency:{self.id}:")


class Registry(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = Field(ge=1)
    agencies: tuple[Agency, ...]

    def get(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def after(self, change: AgencyRegistered) -> Registry:
        """The registry after ``change``, which must have been made against this very version.

        Raises :class:`RegistryChangeRefused` for a change that is not newer than this registry
        (stale or repeated) or that was made against another version (another change came first).
        """
        if change.registry_version <= self.version:
            raise RegistryChangeRefused(
                f"version {change.registry_version} is not newer than the registry's version {self.version}"
            )
        if change.replaces_version != self.version:
            raise RegistryChangeRefused(
                f"made against version {change.replaces_version}, but the registry is at version {self.version}"
            )
        others = tuple(a for a in self.agencies if a.id != change.agency.id)
        return Registry(
            version=change.registry_version, agencies=tuple(sorted((*others, change.agency), key=lambda a: a.id))
        )


class RegistryChangeRefused(ValueError):
    """A registry change that does not apply to the registry as it stands (compare-and-set)."""


class AgencyRegistered(Fact):
    """A registry change: one agency's whole entry (new, changed, or with new consents)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.registry.agency.registered.v1"

    registry_version: int = Field(ge=2, description="the version this change makes")
    replaces_version: int = Field(
        ge=1, description="the version it was made against: it applies to that version only (compare-and-set)"
    )
    agency: Agency


def baseline_registry() -> Registry:
    text = resources.files("alliance").joinpath("data/agencies.json").read_text(encoding="utf-8")
    return Registry.model_validate(json.loads(text))
