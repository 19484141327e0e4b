"""Value objects and events shared by every domain."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from alliance.contracts.base import Fact
from alliance.contracts.limits import MAX_SMALL_LIST

CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")]
Text = Annotated[str, Field(min_length=1, max_length=500)]
QUARTER_PATTERN = r"^(19|20)\d\d-Q[1-4]$"
QuarterId = Annotated[
    str, Field(pattern=QUARTER_PATTERN, description="a calendar quarter, e.g. 2026-Q3", examples=["2026-Q3"])
]


class MassUnit(StrEnum):
    KILOGRAM = "kg"
    GRAM = "g"
    MILLIGRAM = "mg"
    POUND = "lb"
    OUNCE = "oz"
    TONNE = "t"


class ValueObject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


class Place(ValueObject):
    description: Text
    country: CountryCode
    subdivision: str | None = Field(default=None, max_length=100, description="state / estado")
    municipality: str | None = Field(default=None, max_length=200)
    port_of_entry: str | None = Field(default=None, max_length=200, description="when at the border")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class IdentityDocument(ValueObject):
    kind: Annotated[str, Field(min_length=1, max_length=50, description="passport, CURP, INE, license…")]
    number: Text
    issuing_country: CountryCode | None = None


class Person(ValueObject):
    """A person as named in either country's convention (one or two surnames)."""

    given_names: Text
    surnames: list[Text] = Field(min_length=1, max_length=3, description="paternal then maternal")
    aliases: list[Text] = Field(default_factory=list, max_length=MAX_SMALL_LIST)
    date_of_birth: date | None = None
    nationality: CountryCode | None = None
    documents: list[IdentityDocument] = Field(default_factory=list, max_length=MAX_SMALL_LIST)


class FieldError(BaseModel):
    location: str
    message: str


class RecordPosition(BaseModel):
    """Where a Kafka record is: what a producer's delivery report gives back for each record it sent."""

    topic: str
    partition: int
    offset: int


class EventRejected(Fact):
    """Sent back to the sender's reply stream when one of its events could not be accepted."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.event.rejected.v1"

    # A record may be refused before (or because) its headers could be read: each of these is absent when
    # the record had no readable value for it; ``rejected_record`` locates the record in every rejection.
    rejected_event_id: str | None = Field(default=None, description="the refused record's ce_id, when readable")
    rejected_event_type: str | None = Field(default=None, description="its ce_type, when readable")
    rejected_event_source: str | None = Field(default=None, description="its ce_source, when readable")
    rejected_record: RecordPosition | None = Field(
        default=None, description="the refused record's topic, partition and offset (set on every rejection)"
    )
    rejected_by: str = Field(description="the service that refused the event")
    reason: str
    errors: list[FieldError] = Field(default_factory=list)
    dead_letter_topic: str
