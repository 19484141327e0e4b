"""Aggregate base: a record whose methods say which events they produce.

Domain modules subclass :class:`Aggregate`; a method that changes state calls :meth:`_raise` with the
fact it produces. The service layer stores the record and those events in one update (the outbox).
Aggregates also carry their legal deadlines and remember which causing events they already applied,
so that a redelivered event changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from alliance.contracts.base import EventData
from alliance.contracts.markings import Markings, strictest
from alliance.domain.deadlines import Deadline, DeadlineApproaching, DeadlineBreached, DeadlineState

_BOOKKEEPING = {"id", "version", "markings", "deadlines", "applied_events", "released"}
F = TypeVar("F", bound=EventData)
APPLIED_EVENTS_KEPT = 256
RELEASED_TO = "released_to"  # the stored lookup key: agencies a record was released to
_KERNEL_FIELDS = {"_id", "created_at", "updated_at", "next_deadline_at", RELEASED_TO}


class Aggregate(BaseModel):
    model_config = ConfigDict(validate_assignment=True)

    RECORD_TYPE: ClassVar[str] = "record"
    id: str
    version: int = 0
    markings: Markings
    deadlines: list[Deadline] = Field(default_factory=list)
    applied_events: list[str] = Field(default_factory=list, description="causing events already applied")
    released: dict[str, list[str]] = Field(
        default_factory=dict, description="the agencies this record's facts were released to, and which types"
    )
    _events: list[EventData] = PrivateAttr(default_factory=list)

    def _raise(self, event: EventData) -> None:
        self._events.append(event)

    def fact(self, kind: type[F], *parts: BaseModel, **given: Any) -> F:
        """A fact about this record: the fields it shares with the record are copied, the rest given.

        ``parts`` are values the record keeps whole whose fields the fact states at its top level (a
        seizure's contents, a stored report); a field found in several sources is taken from the last
        (a part over the record, a given value over both). Replaces hand-kept field lists: a field
        added to both the record and its fact is carried.
        """
        shared: dict[str, Any] = {}
        for source in (self, *parts):
            declared = type(source).model_fields
            shared |= {
                name: getattr(source, name)
                for name in kind.model_fields
                if name not in given and name in declared and name not in _BOOKKEEPING
            }
        return kind(**shared, **given)

    @property
    def pending_events(self) -> list[EventData]:
        return list(self._events)

    def clear_events(self) -> None:
        """The facts were committed with this version: the next version starts with none."""
        self._events.clear()

    # -- idempotence and markings -------------------------------------------------------------------

    def has_applied(self, cause: str) -> bool:
        return cause in self.applied_events

    def mark_applied(self, cause: str) -> None:
        # Bounded: a redelivery comes from offsets not yet committed, i.e. the last few events of a
        # partition, so the most recent causes are enough and the record does not grow forever.
        self.applied_events = [*self.applied_events, cause][-APPLIED_EVENTS_KEPT:]

    def note_released(self, event_type: str, agencies: list[str]) -> None:
        """Facts of ``event_type`` were released to ``agencies`` (bounded: agencies times fact types)."""
        for agency in agencies:
            types = self.released.get(agency, [])
            if event_type not in types:
                self.released = {**self.released, agency: sorted([*types, event_type])}

    def forget_released(self, agencies: list[str]) -> None:
        """Those agencies were told to delete what they received about this record."""
        self.released = {a: t for a, t in self.released.items() if a not in agencies}

    def absorb_markings(self, markings: Markings) -> None:
        """Information from another event joined this record: never weaken its markings."""
        self.markings = strictest([self.markings, markings])

    def reclassify(self, markings: Markings) -> None:
        """The record was derived again, now under ``markings`` (a correction, a redelivery, the other
        side of a match): absorb them. A kind whose readers learn its markings only from its facts
        overrides this to tell them (a seizure republishes itself, corrected)."""
        self.absorb_markings(markings)

    # -- deadlines --------------------------------------------------------------------------------

    def _set_deadline(self, deadline: Deadline) -> None:
        self.deadlines = [d for d in self.deadlines if d.kind != deadline.kind] + [deadline]

    def _close_deadline(self, kind: str, state: DeadlineState = DeadlineState.MET) -> None:
        self.deadlines = [
            d.model_copy(update={"state": state}) if d.kind == kind and d.state is DeadlineState.OPEN else d
            for d in self.deadlines
        ]

    def deadline(self, kind: str) -> Deadline | None:
        return next((d for d in self.deadlines if d.kind == kind), None)

    def trace_deadlines(self, traceparent: str | None) -> None:
        """Stamp deadlines set by the current work with its trace (escalations later continue it)."""
        if traceparent and any(d.traceparent is None for d in self.deadlines):
            self.deadlines = [
                d if d.traceparent else d.model_copy(update={"traceparent": traceparent}) for d in self.deadlines
            ]

    def next_deadline_trace(self) -> str | None:
        pending = [(t, d.traceparent) for d in self.deadlines if (t := d.next_escalation_at()) is not None]
        return min(pending)[1] if pending else None

    def next_deadline_at(self) -> datetime | None:
        times = [t for d in self.deadlines if (t := d.next_escalation_at()) is not None]
        return min(times) if times else None

    def escalate_deadlines(self, now: datetime, service: str) -> bool:
        """Raise each approaching/breached escalation that is due and not raised yet."""
        changed = False
        updated: list[Deadline] = []
        for d in self.deadlines:
            if d.state is DeadlineState.OPEN:
                fields = {
                    "record_id": self.id,
                    "record_type": self.RECORD_TYPE,
                    "service": service,
                    "kind": d.kind,
                    "description": d.description,
                    "due_at": d.due_at,
                }
                if not d.approaching_raised and now >= d.warn_at:
                    d = d.model_copy(update={"approaching_raised": True})
                    self._raise(DeadlineApproaching(**fields))
                    changed = True
                if not d.breached_raised and now >= d.due_at:
                    d = d.model_copy(update={"breached_raised": True})
                    self._raise(DeadlineBreached(**fields))
                    changed = True
            updated.append(d)
        self.deadlines = updated
        return changed

    # -- persistence shape ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The record's own fields, as stored beside the kernel's bookkeeping."""
        exclude = {"id", "version", "markings"}
        fields: dict[str, Any] = _json_safe(
            self.model_dump(mode="json", exclude=exclude), self.model_dump(mode="python", exclude=exclude)
        )
        fields["next_deadline_at"] = self.next_deadline_at()
        fields[RELEASED_TO] = sorted(self.released)  # a registry change looks up who received what by this
        fields.update(self.lookup_keys())
        return fields

    def lookup_keys(self) -> dict[str, Any]:
        """Top-level fields the store's queries look records up by (equality only, indexed).

        Nested fields are not looked up by the local store's index, so a kind whose queries need one
        copies it here (e.g. a notification's substance code).
        """
        return {}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Self:
        fields = {k: v for k, v in doc.items() if not k.startswith("outbox") and k not in _KERNEL_FIELDS}
        return cls.model_validate({**fields, "id": doc["_id"]})


def _json_safe(as_json: Any, as_python: Any) -> Any:
    """JSON-mode values, but datetimes kept as datetimes so the store can compare them."""
    if isinstance(as_python, datetime):
        return as_python
    if isinstance(as_json, dict) and isinstance(as_python, dict):
        return {k: _json_safe(v, as_python.get(k)) for k, v in as_json.items()}
    if isinstance(as_json, list) and isinstance(as_python, list) and len(as_json) == len(as_python):
        return [_json_safe(a, b) for a, b in zip(as_json, as_python, strict=True)]
    return as_json
