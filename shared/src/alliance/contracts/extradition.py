"""Extradition and mutual legal assistance events (1978 US-Mexico treaty and 1997 protocol; MLAT)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from alliance.contracts.base import Fact, Intake
from alliance.contracts.common import CountryCode, Person, Place, Text
from alliance.contracts.limits import MAX_SMALL_LIST

Reference = Annotated[str, Field(min_length=1, max_length=80)]


class ExtraditionStep(StrEnum):
    ARRESTED = "arrested"
    FORMAL_REQUEST_FILED = "formal_request_filed"
    JUDICIAL_REVIEW_STARTED = "judicial_review_started"
    GRANTED = "granted"
    DENIED = "denied"
    TEMPORARILY_SURRENDERED = "temporarily_surrendered"
    RETURNED = "returned"
    SURRENDERED = "surrendered"
    WITHDRAWN = "withdrawn"


class MlatStatus(StrEnum):
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    INFORMATION_REQUESTED = "information_requested"
    IN_EXECUTION = "in_execution"
    EXECUTED = "executed"
    PARTIALLY_EXECUTED = "partially_executed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


# -- intake ---------------------------------------------------------------------------------------


class FugitiveRegistered(Intake):
    """A country registers a person it wants for prosecution or to serve a sentence."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.fugitive.registered.v1"

    fugitive_reference: Reference
    wanted_by: CountryCode
    person: Person
    charges: list[Text] = Field(min_length=1, max_length=MAX_SMALL_LIST)
    warrant_number: str | None = Field(default=None, max_length=80)
    warrant_issued_on: date | None = None
    priority: bool = False


class ExtraditionStepReported(Intake):
    """A step of an extradition request: arrest, formal request, review, decision, surrender."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.request_step.reported.v1"

    extradition_request_id: Reference
    step: ExtraditionStep
    on: date
    grounds: str | None = Field(default=None, max_length=2000)


class PersonMatchReviewed(Intake):
    """An analyst confirms or rejects a proposed match; a confirmed link can later be rejected."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.person_match.reviewed.v1"

    match_id: Reference
    decision: Literal["confirmed", "rejected"]
    analyst: Text
    notes: str | None = Field(default=None, max_length=2000)


class MlatRequestReceived(Intake):
    """A mutual legal assistance request received by the requested country's central authority."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.mlat_request.received.v1"

    mlat_reference: Reference
    requesting_country: CountryCode
    requested_country: CountryCode
    subject: Text
    assistance: list[Text] = Field(
        min_length=1, max_length=MAX_SMALL_LIST, description="evidence, records, testimony, service of documents…"
    )
    priority: bool = False


class MlatStatusReported(Intake):
    """The central authority moves an MLAT request along its milestones."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.mlat_request.status_reported.v1"

    mlat_reference: Reference
    requesting_country: CountryCode
    status: MlatStatus
    grounds: str | None = Field(default=None, max_length=2000)


class StatusReportRequested(Intake):
    """Ask for the periodic status report on priority cases (AP5.3, AP16.3)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.status_report.requested.v1"

    language: Literal["en", "es"] = "en"


# -- facts ----------------------------------------------------------------------------------------


class FugitiveRecorded(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.fugitive.recorded.v1"

    fugitive_id: str
    fugitive_reference: str
    wanted_by: str
    person: Person
    charges: list[str]
    priority: bool


class DetainedPersonMatched(Fact):
    """What both outcomes of comparing a detained person with a fugitive say (flow 4)."""

    match_id: str
    fugitive_id: str
    fugitive_reference: str
    wanted_by: str
    located_in: str
    seizure_id: str
    detained_person: Person
    place: Place
    located_on: date
    score: float
    reasons: list[str]


class FugitiveLocated(DetainedPersonMatched):
    """A person detained in one country matches a fugitive wanted by the other (flow 4)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.fugitive.located.v1"


class PersonMatchReviewRequested(DetainedPersonMatched):
    """A person detained in one country may be a fugitive wanted by the other, but the evidence is not enough
    for an automatic match (a common name without a date that tells people apart, a partial date, twins-like
    records, an inferred married name): an analyst confirms or rejects it with ``PersonMatchReviewed``; only
    a confirmation locates the fugitive (flow 4)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.person_match.review_requested.v1"


class PersonMatchDecided(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.person_match.decided.v1"

    match_id: str
    fugitive_id: str
    decision: str
    analyst: str


class ProvisionalArrestRequested(Fact):
    """The requesting country asks for provisional arrest; the formal request is due within the treaty period."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.provisional_arrest.requested.v1"

    extradition_request_id: str
    fugitive_id: str
    requesting_country: str
    requested_country: str
    person: Person
    charges: list[str]
    formal_request_due_at: datetime
    status: str


class ExtraditionStatusChanged(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.request.status_changed.v1"

    extradition_request_id: str
    previous_status: str
    status: str
    on: date
    grounds: str | None = None


class MlatStatusChanged(Fact):
    """Every MLAT status change is an event (AP16)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.mlat_request.status_changed.v1"

    mlat_request_id: str
    mlat_reference: str
    requesting_country: str
    requested_country: str
    previous_status: str | None = Field(default=None, description="absent for a request's first status")
    status: str
    grounds: str | None = None


class StatusReportPublished(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.status_report.published.v1"

    language: str
    generated_at: datetime
    extraditions: list[dict[str, Any]]
    mlat_requests: list[dict[str, Any]]
    totals: dict[str, int]


class FugitiveLinkedToTrace(Fact):
    """A traced gun's first retail purchaser matches a fugitive (flow 5)."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.extradition.fugitive.linked_to_trace.v1"

    fugitive_id: str
    fugitive_reference: str
    trace_request_id: str
    purchaser: Person
    score: float
    reasons: list[str]
