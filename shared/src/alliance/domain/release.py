"""Who may receive a fact: one pure decision per fact and registered recipient, deny by default.

The rules, in the order they are checked (the first that denies decides; the rule that applied is
recorded in the audit):

1. ``unregistered``   the recipient is not in the registry;
2. ``not-routed``     the registry does not route this event type to the recipient;
3. ``releasability``  the recipient's country is not among the countries it is releasable to (AP9);
4. ``clearance``      its TLP level is above the recipient's clearance;
5. ``named-only``     TLP:AMBER+STRICT or TLP:RED, and the recipient is not a named recipient;
6. ``orcon``          originator-controlled, and some originator neither is the recipient nor
                      consented to it (consents are registry entries, changed by audited events);
7. ``released``       none of the above: allowed.

TLP:CLEAR, GREEN and AMBER reach every subscribed, cleared recipient of a releasable country: the
registry is the community, and each agency is one organisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from alliance.contracts.markings import Markings
from alliance.contracts.registry import Agency, Registry


class ReleaseRule(StrEnum):
    UNREGISTERED = "unregistered"
    NOT_ROUTED = "not-routed"
    RELEASABILITY = "releasability"
    CLEARANCE = "clearance"
    NAMED_ONLY = "named-only"
    ORCON = "orcon"
    RELEASED = "released"


WITHDRAWAL = "withdrawal"  # the rule of a content-free withdrawal notice


@dataclass(frozen=True)
class ReleaseDecision:
    recipient: str
    allowed: bool
    rule: ReleaseRule


def decide(markings: Markings, event_type: str | None, recipient: str, registry: Registry) -> ReleaseDecision:
    """Whether ``recipient`` may receive a fact of ``event_type`` under ``markings``, and why.

    ``event_type`` None leaves routing out: whether the recipient may hold the information at all.
    """
    agency = registry.get(recipient)
    if agency is None:
        return ReleaseDecision(recipient, False, ReleaseRule.UNREGISTERED)
    if event_type is not None and not agency.subscribed_to(event_type):
        return ReleaseDecision(recipient, False, ReleaseRule.NOT_ROUTED)
    denied = _denied_by_markings(markings, agency, registry)
    if denied is not None:
        return ReleaseDecision(recipient, False, denied)
    return ReleaseDecision(recipient, True, ReleaseRule.RELEASED)


def _denied_by_markings(markings: Markings, agency: Agency, registry: Registry) -> ReleaseRule | None:
    """Rules 3 to 6: the first that denies ``agency`` information under ``markings``, or None."""
    if agency.country not in markings.releasable_to:
        return ReleaseRule.RELEASABILITY
    if markings.tlp.rank > agency.clearance.rank:
        return ReleaseRule.CLEARANCE
    if markings.named_only and agency.id not in markings.recipients:
        return ReleaseRule.NAMED_ONLY
    if markings.originator_control:
        for originator in markings.originators:
            entry = registry.get(originator)
            if originator != agency.id and (entry is None or agency.id not in entry.orcon_consents):
                return ReleaseRule.ORCON
    return None


def audience(markings: Markings, registry: Registry) -> frozenset[str]:
    """Every agency that may know information under ``markings``: its originators, and each registered
    agency the markings let receive it (whether or not it subscribes: subscriptions change)."""
    allowed = {a.id for a in registry.agencies if _denied_by_markings(markings, a, registry) is None}
    return frozenset(allowed | set(markings.originators))


def may_see(markings: Markings, agency: str, registry: Registry | None) -> bool:
    """Whether an agency may know of a record under ``markings``: the release rules without routing.

    Decides what an agency's request about a stored record may reveal, or change: a record it may not
    see is, to it, a record that does not exist. Information only it originated it always sees (it may
    have sent it above its own clearance). Without a registry nothing else is visible (deny by default).
    """
    if markings.originators == (agency,):
        return True
    return registry is not None and decide(markings, None, agency, registry).allowed


def decide_all(markings: Markings, event_type: str, registry: Registry) -> list[ReleaseDecision]:
    """The decision for every registered agency (allowed and denied: all of them are audited)."""
    return [decide(markings, event_type, agency.id, registry) for agency in registry.agencies]


def reconfirmed(
    decisions: Sequence[tuple[str, bool, str]], markings: Markings, event_type: str, registry: Registry
) -> list[tuple[str, bool, str]]:
    """The decisions taken at commit (recipient, allowed, rule), decided again at publication.

    The stored decisions come from the store; what is published must not rest on the store alone. A
    recipient stays allowed only if the current registry and the fact's markings allow it too, so a
    write to the store (or a registry change since the commit) can narrow a disclosure, never widen
    it. Withdrawals (rule ``withdrawal``) are content-free and go to any agency still registered.
    """
    out = []
    for recipient, allowed, rule in decisions:
        if allowed and rule == WITHDRAWAL:
            allowed = registry.get(recipient) is not None
            rule = WITHDRAWAL if allowed else ReleaseRule.UNREGISTERED
        elif allowed:
            now = decide(markings, event_type, recipient, registry)
            allowed, rule = now.allowed, now.rule
        out.append((recipient, allowed, str(rule)))
    return out


def lost_access(released: Mapping[str, Sequence[str]], markings: Markings, registry: Registry) -> list[str]:
    """Of the agencies a record's facts were released to (agency → fact types), those that may no longer
    receive one of them under ``markings`` and ``registry``: each gets one content-free withdrawal.

    Only agencies that did receive something are considered: an agency that never saw the record is
    never told its id (a tightening, a lower clearance or a revoked consent alike).
    """
    return sorted(
        agency
        for agency, types in released.items()
        if any(not decide(markings, kind, agency, registry).allowed for kind in types)
    )
