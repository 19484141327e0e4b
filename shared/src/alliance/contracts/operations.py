"""Operators' own records: what an operator asked of the flow of events, and what came of it (kept beside the audit)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from alliance.contracts.base import Fact


class DeadLetterReplayRequested(Fact):
    """An operator asks the service that refused an event to process it again, from its own dead letter.

    Only operators may write the replay requests (ACL); the service re-reads the dead letter itself and
    processes the original bytes as the original sender, so a request carries no content at all.
    """

    EVENT_TYPE: ClassVar[str] = "org.alliance.operations.dead_letter_replay_requested.v1"

    dead_letter: str = Field(max_length=500, description="topic:partition:offset of the dead letter")
    event_id: str = Field(max_length=200, description="the refused event's ce_id, as the operator found it")
    requested_at: datetime


class ReplayOutcome(StrEnum):
    PROCESSED = "processed"  # handled: its effect is stored (or it had been already)
    REFUSED_AGAIN = "refused_again"  # refused again: a new dead letter and rejection say why
    NOT_REPLAYED = "not_replayed"  # not a dead letter this service may replay, or replayed already


class DeadLetterReplayed(Fact):
    """What came of a replay request, written by the service that replayed (or declined) it."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.operations.dead_letter_replayed.v1"

    dead_letter: str = Field(description="topic:partition:offset of the dead letter")
    event_id: str
    event_type: str
    intake_topic: str
    replayed_to: str | None = Field(
        default=None, description="(records before replay through the service) where it was re-sent"
    )
    replayed_by: str = Field(description="the service that replayed it, or (older records) the operator")
    replayed_at: datetime
    reason: str = Field(max_length=2000, description="why the event had been refused")
    request_id: str | None = Field(default=None, description="the replay request this answers")
    requested_by: str | None = Field(default=None, description="the authenticated principal that asked")
    outcome: ReplayOutcome = ReplayOutcome.PROCESSED
    detail: str = Field(default="", max_length=2000, description="the new refusal, or why it was not replayed")
