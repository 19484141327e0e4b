"""Firearms tracing events (ATF eTrace request fields, form 3312.1)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from alliance.contracts.base import Fact
from alliance.contracts.common import Place
from alliance.contracts.interdiction import FirearmType


class RecoveredFirearmFact(Fact):
    """What every request about one recovered gun states: the gun and where it was recovered."""

    seizure_id: str
    item_number: int
    maker: str
    model: str | None = None
    caliber: str | None = None
    firearm_type: FirearmType
    recovery_place: Place
    recovery_date: date
    requesting_agency: str
    status: str


class TraceRequestSubmitted(RecoveredFirearmFact):
    """A trace request was opened for a recovered firearm with a legible serial number."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_request.submitted.v1"

    trace_request_id: str
    serial_number: str
    importer: str | None = None
    country_of_manufacture: str | None = None


class RestorationRequested(RecoveredFirearmFact):
    """The serial number of a recovered firearm is obliterated: a laboratory must restore it first."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.restoration.requested.v1"

    restoration_request_id: str
