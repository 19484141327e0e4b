from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """The data of one event type; ``EVENT_TYPE`` is its versioned CloudEvents type.

    Numbers must be finite: NaN and Infinity are not JSON and would be published as invalid records.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    EVENT_TYPE: ClassVar[str]

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Intake(EventData):
    """Data sent in by an agency integration: strict, unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class Fact(EventData):
    """Data published by an Alliance service: consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


def event_types(*models: type[EventData]) -> dict[str, type[EventData]]:
    """Map each model's event type to the model, refusing two models for one type."""
    table: dict[str, type[EventData]] = {}
    for model in models:
        if model.EVENT_TYPE in table:
            raise ValueError(f"two models for event type {model.EVENT_TYPE}")
        table[model.EVENT_TYPE] = model
    return table
