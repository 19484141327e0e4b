"""What agencies and operators see of disclosure: release decisions (the audit) and withdrawals."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from alliance.contracts.base import Fact
from alliance.contracts.markings import Markings


class RecipientDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    recipient: str
    allowed: bool
    rule: str


class Release(BaseModel):
    """The decisions taken for one fact when it was committed, kept in its outbox entry."""

    model_config = ConfigDict(frozen=True)

    registry_version: int
    markings_digest: str
    decided_at: datetime
    decisions: tuple[RecipientDecision, ...]

    def recipients(self) -> list[str]:
        return [d.recipient for d in self.decisions if d.allowed]


class ReleaseDecided(Fact):
    """One audit record: who was allowed or denied one fact, under which rule and registry version."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.audit.release_decided.v1"

    fact_id: str
    fact_type: str
    record_id: str
    service: str
    registry_version: int
    markings_digest: str
    decided_at: datetime
    decisions: list[RecipientDecision] = Field(max_length=10_000)


class DeliveryWithdrawn(Fact):
    """Sent to an agency that may no longer hold a record's information: content-free, ids only."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.delivery.withdrawn.v1"

    record_id: str
    reason: str = "your agency may no longer hold this record; delete what you received about it"


def markings_digest(markings: Markings) -> str:
    """A short, stable fingerprint of markings for the audit (the markings themselves are on the fact)."""
    canonical = json.dumps(markings.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
