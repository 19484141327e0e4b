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

from dataclasses import dataclass
from enum import StrEnum

from alliance.contracts.markings import Markings
from alliance.contracts.registry import Registry


class ReleaseRule(StrEnum):
    UNREGISTERED = "unregistered"
    NOT_ROUTED = "not-routed"
    RELEASABILITY = "releasability"
    CLEARANCE = "clearance"
    NAMED_ONLY = "named-only"
    ORCON = "orcon"
    RELEASED = "released"


@dataclass(frozen=True)
class ReleaseDecision:
    recipient: str
    allowed: bool
    rule: ReleaseRule


def decide(markings: Markings, event_type: str | None, recipient: str, registry: Registry) -> ReleaseDecision:
    """Whether ``recipient`` may receive a fact of ``event_type`` under ``markings``, and why.

    ``event_type`` None leaves routing out: whether the recipient may hold the information at all.
    """

    def deny(rule: ReleaseRule) -> ReleaseDecision:
        return ReleaseDecision(recipient, False, rule)

    agency = registry.get(recipient)
    if agency is None:
        return deny(ReleaseRule.UNREGISTERED)
    if event_type is not None and not agency.subscribed_to(event_type):
        return deny(ReleaseRule.NOT_ROUTED)
    if agency.country not in markings.releasable_to:
        return deny(ReleaseRule.RELEASABILITY)
    if markings.tlp.rank > agency.clearance.rank:
        return deny(ReleaseRule.CLEARANCE)
    if markings.named_only and recipient not in markings.recipients:
        return deny(ReleaseRule.NAMED_ONLY)
    if markings.originator_control:
        for originator in markings.originators:
            entry = registry.get(originator)
            if originator != recipient and (entry is None or recipient not in entry.orcon_consents):
                return deny(ReleaseRule.ORCON)
    return ReleaseDecision(recipient, True, ReleaseRule.RELEASED)


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


def withdrawn(before: Markings, after: Markings, event_type: str, registry: Registry) -> list[str]:
    """Agencies allowed under ``before`` and denied under ``after``: they get a content-free withdrawal."""
    return [
        agency.id
        for agency in registry.agencies
        if decide(before, event_type, agency.id, registry).allowed
        and not decide(after, event_type, agency.id, registry).allowed
    ]


# -- aggregates released without identities (statistics) -----------------------------------------------

# A sanitised aggregate publishes no figure that fewer records than this contribute to, so no single
# record can be read back from it; it may then be released under the request's markings (AP9).
SMALL_COUNT = 3


def suppress_small_counts(counts: dict[str, int]) -> dict[str, int]:
    """The counts that at least SMALL_COUNT records contribute to."""
    return {key: n for key, n in counts.items() if n >= SMALL_COUNT}
