"""Topics of the published language (before a deployment's namespace prefix)."""

from __future__ import annotations

import re

INTERDICTION_INTAKE = "alliance.interdiction.intake"
INTERDICTION_EVENTS = "alliance.interdiction.events"
FIREARMS_INTAKE = "alliance.firearms.intake"
FIREARMS_EVENTS = "alliance.firearms.events"
CHEMICALS_INTAKE = "alliance.chemicals.intake"
CHEMICALS_EVENTS = "alliance.chemicals.events"
EXTRADITION_INTAKE = "alliance.extradition.intake"
EXTRADITION_EVENTS = "alliance.extradition.events"
MONEY_LAUNDERING_INTAKE = "alliance.money_laundering.intake"
MONEY_LAUNDERING_EVENTS = "alliance.money_laundering.events"
REPLIES_PREFIX = "alliance.replies."


def dead_letter_topic(service: str) -> str:
    return f"alliance.{service}.deadletter"


_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def reply_topic_for(source: str | None) -> str:
    """The stream on which the sender identified by ``source`` receives replies and rejections.

    An agency that publishes with ``ce_source = urn:agency:us-cbp:laredo`` reads
    ``alliance.replies.urn-agency-us-cbp-laredo``.
    """
    slug = _UNSAFE.sub("-", (source or "unknown").lower()).strip("-.") or "unknown"
    return REPLIES_PREFIX + slug[:200]
