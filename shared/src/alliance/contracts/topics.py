"""Topics of the published language (before a deployment's namespace prefix)."""

from __future__ import annotations

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
