"""Errors a handler may raise to refuse an event (dead-lettered and answered with a rejection)."""

from __future__ import annotations


class DomainRuleViolation(ValueError):
    """A well-formed event asks for something the domain's rules do not allow."""


class RecordNotYetKnown(DomainRuleViolation):
    """The event refers to a record not (yet) known here.

    Events of different agencies are not ordered with each other (each writes its own topic), so a
    reply may overtake the notification it answers. The consumer waits for the record a bounded time
    (``parent_wait_seconds``) before refusing the event with this reason.
    """
