"""Topics of the published language (before a deployment's namespace prefix)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from alliance.contracts.limits import DEAD_LETTER_MAX_BYTES, DEAD_LETTER_RETENTION_DAYS

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
DELIVERIES_PREFIX = "alliance.deliveries."
AUDIT_TOPIC = "alliance.audit"


def dead_letter_topic(service: str) -> str:
    return f"alliance.{service}.deadletter"


def reply_topic_for(agency: str) -> str:
    """The stream on which an agency receives the rejections of its events (readable by it alone)."""
    return REPLIES_PREFIX + agency


def intake_topic(domain_intake: str, agency: str) -> str:
    """An agency's own intake topic for one domain: ``alliance.firearms.intake.us-atf-ntc``.

    Only that agency may write it (ACL), so the topic proves the sender.
    """
    return f"{domain_intake}.{agency}"


def delivery_topic(agency: str) -> str:
    """Where an agency receives the facts released to it (readable by it alone)."""
    return f"{DELIVERIES_PREFIX}{agency}"


# Operators ask a service to replay one of its dead letters (written by operators' principal alone)...
REPLAY_REQUESTS_TOPIC = "alliance.operations.replay_requests"
# ...and the service says what came of it (written by services alone; kept like the audit).
REPLAYS_TOPIC = "alliance.operations.replays"


class TopicClass(StrEnum):
    """What a topic is for; its retention, replication and durability are settings of its class."""

    INTAKE = "intake"  # alliance.<domain>.intake.<agency>: what an agency sent, waiting for the service
    EVENTS = "events"  # alliance.<service>.events: a service's facts, read by the other services
    DELIVERIES = "deliveries"  # alliance.deliveries.<agency>: facts released to one agency
    REPLIES = "replies"  # alliance.replies.<agency>: rejections of what one agency sent
    DEAD_LETTERS = "dead_letters"  # alliance.<service>.deadletter: refused records, whole
    AUDIT = "audit"  # alliance.audit: every release decision
    REGISTRY = "registry"  # alliance.registry: the agency registry (compacted: the latest entry per agency)
    OPERATIONS = "operations"  # alliance.operations.*: who replayed which dead letter


@dataclass(frozen=True)
class TopicClassDefaults:
    """A class's own properties. ``retention_days`` None keeps records until compaction replaces them."""

    retention_days: int | None
    why: str
    compacted: bool = False
    partitions: int | None = None  # None: the deployment's partition count
    max_message_bytes: int | None = None  # None: the broker's default (1 MiB)


DAY_MS: Final = 24 * 3600 * 1000

# Retention is a promise to the readers of each class (stated in docs/operations.md). The longest
# outage Alliance is built to ride out is 14 days of a consuming service (or its store) being down:
# its backlog waits on intake and events topics. An agency may be offline far longer than a service
# (a closed post over a holiday, a month-long accreditation renewal): its deliveries and replies wait
# 30 days.
TOPIC_CLASSES: Final[Mapping[TopicClass, TopicClassDefaults]] = {
    TopicClass.INTAKE: TopicClassDefaults(14, "outlives the longest outage a service waits through (14 days)"),
    TopicClass.EVENTS: TopicClassDefaults(14, "another service may be down as long as the intake's reader"),
    TopicClass.DELIVERIES: TopicClassDefaults(30, "an agency offline for weeks still finds every fact released"),
    TopicClass.REPLIES: TopicClassDefaults(30, "like deliveries: the sender learns of every refusal"),
    TopicClass.DEAD_LETTERS: TopicClassDefaults(
        DEAD_LETTER_RETENTION_DAYS,
        "long enough to fix a cause and replay, short enough not to become a second archive",
        max_message_bytes=DEAD_LETTER_MAX_BYTES,
    ),
    TopicClass.AUDIT: TopicClassDefaults(400, "a year and a month: an annual review of who received what"),
    TopicClass.REGISTRY: TopicClassDefaults(None, "the registry is state, not history", compacted=True, partitions=1),
    TopicClass.OPERATIONS: TopicClassDefaults(400, "kept like the audit", partitions=1),
}


def topic_class(topic: str) -> TopicClass:
    """The class of an Alliance topic, with or without a deployment's namespace prefix."""
    parts = topic.split(".")
    if parts[0] != "alliance" or parts[1:2] == ["alliance"]:
        parts = parts[1:]  # a namespace (never dotted) before the published name
    match parts:
        case ["alliance", "registry"]:
            return TopicClass.REGISTRY
        case ["alliance", "audit"]:
            return TopicClass.AUDIT
        case ["alliance", "operations", *_]:
            return TopicClass.OPERATIONS
        case ["alliance", "deliveries", _]:
            return TopicClass.DELIVERIES
        case ["alliance", "replies", _]:
            return TopicClass.REPLIES
        case ["alliance", _, "events"]:
            return TopicClass.EVENTS
        case ["alliance", _, "deadletter"]:
            return TopicClass.DEAD_LETTERS
        case ["alliance", _, "intake", *_]:
            return TopicClass.INTAKE
    raise ValueError(f"{topic!r} is not an Alliance topic")
