"""Who sent an intake event, as the registry knows it, and the rules that hold a data field to it.

The sender is the agency whose intake topic the event was read from (its principal alone may write
it): its id, country and kind come from its registry entry, never from the event. A data field that
names a country, an agency or a role (``wanted_by``, ``exporting_country``, ``reporting_country``…)
is a claim the domain checks against this entry before anything is stored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from alliance.contracts.registry import AgencyKind
from alliance.domain.errors import DomainRuleViolation


@dataclass(frozen=True)
class Sender:
    """The authenticated agency an intake event came from (its principal wrote its own intake topic)."""

    agency: str
    country: str
    kind: str


def require_own_country(sender: Sender | None, country: str, field: str, rule: str) -> None:
    """``field`` names the sender's own country, as ``rule`` requires (no-op for services' facts)."""
    if sender is not None and country != sender.country:
        raise DomainRuleViolation(f"{field} {country} is not the sending agency's country ({sender.country}): {rule}")


def require_kind(sender: Sender | None, kinds: Collection[AgencyKind], role: str, rule: str) -> None:
    """The sender is registered as one of ``kinds`` (the ``role`` the rule gives this act)."""
    if sender is not None and sender.kind not in {k.value for k in kinds}:
        raise DomainRuleViolation(f"agency {sender.agency} ({sender.kind}) is not {role}: {rule}")
