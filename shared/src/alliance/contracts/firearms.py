"""Firearms tracing events (ATF eTrace request fields, form 3312.1)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from alliance.contracts.base import Fact
from alliance.contracts.common import Place
from alliance.contracts.interdiction import FirearmType


class TraceRequestSubmitted(Fact):
    """A trace request was opened for a recovered firearm with a legible serial number."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.trace_request.submitted.v1"

    trace_request_id: str
    seizure_id: str
    item_number: int
    serial_number: str
    maker: str
    model: str | None = None
    caliber: str | None = None
    firearm_type: FirearmType
    importer: str | None = None
    country_of_manufacture: str | None = None
    recovery_place: Place
    recovery_date: date
    requesting_agency: str
    status: str


class RestorationRequested(Fact):
    """The serial number of a recovered firearm is obliterated: a laboratory must restore it first."""

    EVENT_TYPE: ClassVar[str] = "org.alliance.firearms.restoration.requested.v1"

    restoration_request_id: str
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
