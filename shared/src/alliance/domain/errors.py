"""Errors a handler may raise to refuse an event (dead-lettered and answered with a rejection)."""

from __future__ import annotations


class DomainRuleViolation(ValueError):
    """A well-formed event asks for something the domain's rules do not allow."""
