"""Operators' own records: what an operator did to the flow of events (kept beside the audit)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from alliance.contracts.base import Fact


class DeadLetterReplayed(Fact):
    """A dead letter was put back on the intake topic it came from, byte for byte, after a fix."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.operations.dead_letter_replayed.v1"

    dead_letter: str = Field(description="topic:partition:offset of the dead letter")
    event_id: str
    event_type: str
    intake_topic: str
    replayed_to: str = Field(description="topic:partition:offset of the replayed record")
    replayed_by: str = Field(description="the authenticated principal that replayed it")
    replayed_at: datetime
    reason: str = Field(max_length=2000, description="why the event had been refused")
