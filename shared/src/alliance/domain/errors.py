"""Errors a handler may raise to refuse an event (dead-lettered and answered with a rejection).

A refusal has two audiences. The dead letter (operators only) keeps the whole reason, ``str(exc)``;
the rejection sent back to the agency states only ``exc.public``: what it may know, i.e. about its own
input. A reason that quotes a stored record (its amounts, status, countries, or that it exists at all)
gives a ``public`` wording without them (AP9: information is released only as its markings allow).
"""

from __future__ import annotations


class DomainRuleViolation(ValueError):
    """A well-formed event asks for something the domain's rules do not allow.

    ``public`` is what the sender is told; by default the reason itself, for a reason about the
    sender's own input. Give it whenever the reason quotes a stored record.
    """

    def __init__(self, reason: str, *, public: str | None = None) -> None:
        super().__init__(reason)
        self.public = public if public is not None else reason


class RecordNotYetKnown(DomainRuleViolation):
    """The event refers to a record not (yet) known here.

    Events of different agencies are not ordered with each other (each writes its own topic), so a
    reply may overtake the notification it answers. The consumer waits for the record a bounded time
    (``parent_wait_seconds``) before refusing the event with this reason.
    """


class NotYours(DomainRuleViolation):
    """The record exists, but the sender may not see it or may not act on it.

    Refused exactly like a record that does not exist (same public reason, after the same wait), so an
    agency cannot learn of another's records by probing references; the dead letter keeps why.
    """
