"""Legal deadlines carried by records, and the escalation events the clock raises for them.

A record (aggregate) carries its deadlines. The clock (:class:`alliance.runtime.service.DeadlineClock`) finds
records whose next escalation time has passed and asks the aggregate to escalate: "deadline
approaching" once at the warning time and "deadline breached" once at the due time. Flags and events
are stored in the same update, guarded by the record's version, so each is raised exactly once even
with several instances running, and nothing is forgotten across restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, BaseModel

from alliance.contracts.base import Fact


def kind_name(kind: str) -> str:
    """A deadline kind is ``name`` or ``name:qualifier``: the name is one of a closed set its domain
    declares; the qualifier tells deadlines of one record apart (it may hold dates or amounts)."""
    return kind.partition(":")[0]


class DeadlineState(StrEnum):
    OPEN = "open"
    MET = "met"
    CANCELLED = "cancelled"


class Deadline(BaseModel):
    kind: str
    description: str
    due_at: AwareDatetime
    warn_at: AwareDatetime
    state: DeadlineState = DeadlineState.OPEN
    approaching_raised: bool = False
    breached_raised: bool = False
    traceparent: str | None = None  # the flow that set it: its escalations continue that trace

    @classmethod
    def starting(
        cls, kind: str, description: str, start: datetime, period: timedelta, warn_fraction: float = 0.25
    ) -> Deadline:
        """A deadline ``period`` after ``start`` that warns when ``warn_fraction`` of it remains."""
        due = start + period
        return cls(kind=kind, description=description, due_at=due, warn_at=due - period * warn_fraction)

    def next_escalation_at(self) -> datetime | None:
        if self.state is not DeadlineState.OPEN:
            return None
        if not self.approaching_raised:
            return self.warn_at
        if not self.breached_raised:
            return self.due_at
        return None


class DeadlineEscalation(Fact):
    record_id: str
    record_type: str
    service: str
    kind: str
    description: str
    due_at: datetime


class DeadlineApproaching(DeadlineEscalation):
    """A legal deadline will pass soon and the record has not met it."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.deadline.approaching.v1"


class DeadlineBreached(DeadlineEscalation):
    """A legal deadline passed and the record did not meet it."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.deadline.breached.v1"
