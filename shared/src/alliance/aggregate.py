"""Aggregate base: a record whose methods say which events they produce.

Domain modules subclass :class:`Aggregate`; a method that changes state calls :meth:`_raise` with the
fact it produces. The service layer stores the record and those events in one update (the outbox).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from alliance.contracts.base import EventData
from alliance.markings import Markings


class Aggregate(BaseModel):
    model_config = ConfigDict(validate_assignment=True)

    id: str
    version: int = 0
    markings: Markings
    _events: list[EventData] = PrivateAttr(default_factory=list)

    def _raise(self, event: EventData) -> None:
        self._events.append(event)

    @property
    def pending_events(self) -> list[EventData]:
        return list(self._events)

    def state(self) -> dict[str, Any]:
        """The record's own fields, as stored beside the kernel's bookkeeping."""
        return self.model_dump(mode="json", exclude={"id", "version", "markings"})

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Any:
        fields = {
            k: v for k, v in doc.items() if not k.startswith("outbox") and k not in {"_id", "created_at", "updated_at"}
        }
        return cls.model_validate({**fields, "id": doc["_id"]})
