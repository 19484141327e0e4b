"""Event contracts: the published language between agencies and services.

Every event type is a pydantic model with its versioned CloudEvents type in ``EVENT_TYPE``. Intake
models (what agencies send) reject unknown fields so typos surface as rejections; fact models (what
services publish) ignore unknown fields so consumers tolerate additive changes.
"""

from alliance.contracts.base import EventData, Fact, Intake, event_types

__all__ = ["EventData", "Fact", "Intake", "event_types"]
