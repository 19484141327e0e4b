"""Trace requests and serial-number restorations (eTrace fields). Pure rules, no I/O."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from alliance.aggregate import Aggregate
from alliance.contracts.common import Place
from alliance.contracts.firearms import RestorationRequested, TraceRequestSubmitted
from alliance.contracts.interdiction import FirearmItem, FirearmType, SeizureRecorded
from alliance.ids import derived_id
from alliance.markings import Markings, strictest


class TraceStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


class RestorationStatus(StrEnum):
    REQUESTED = "requested"
    RESTORED = "restored"
    FAILED = "failed"


class RecoveredFirearm(Aggregate):
    """What every request about one recovered gun knows: the gun and where it was recovered."""

    seizure_id: str
    item_number: int
    maker: str
    model: str | None = None
    caliber: str | None = None
    firearm_type: FirearmType
    recovery_place: Place
    recovery_date: date
    requesting_agency: str


class TraceRequest(RecoveredFirearm):
    serial_number: str
    importer: str | None = None
    country_of_manufacture: str | None = None
    status: TraceStatus = TraceStatus.SUBMITTED

    @classmethod
    def submit(cls, seizure: SeizureRecorded, item_number: int, gun: FirearmItem, markings: Markings) -> TraceRequest:
        """Open a trace for a gun with a legible serial; produces ``trace request submitted``."""
        if not gun.serial_number or gun.serial_obliterated:
            raise ValueError("a trace needs a legible serial number: request a restoration instead")
        request = cls(
            id=derived_id("TR", seizure.seizure_id, item_number),
            markings=markings,
            serial_number=gun.serial_number,
            importer=gun.importer,
            country_of_manufacture=gun.country_of_manufacture,
            **_recovery(seizure, item_number, gun),
        )
        request._raise(
            TraceRequestSubmitted(
                trace_request_id=request.id,
                status=request.status,
                **request.model_dump(exclude={"id", "version", "markings", "status"}),
            )
        )
        return request


class RestorationRequest(RecoveredFirearm):
    status: RestorationStatus = RestorationStatus.REQUESTED

    @classmethod
    def request(
        cls, seizure: SeizureRecorded, item_number: int, gun: FirearmItem, markings: Markings
    ) -> RestorationRequest:
        """Ask a laboratory to restore an obliterated serial; produces ``restoration requested``."""
        request = cls(
            id=derived_id("SR", seizure.seizure_id, item_number),
            markings=markings,
            **_recovery(seizure, item_number, gun),
        )
        request._raise(
            RestorationRequested(
                restoration_request_id=request.id,
                status=request.status,
                **request.model_dump(exclude={"id", "version", "markings", "status"}),
            )
        )
        return request


def _recovery(seizure: SeizureRecorded, item_number: int, gun: FirearmItem) -> dict[str, object]:
    return {
        "seizure_id": seizure.seizure_id,
        "item_number": item_number,
        "maker": gun.maker,
        "model": gun.model,
        "caliber": gun.caliber,
        "firearm_type": gun.firearm_type,
        "recovery_place": seizure.place,
        "recovery_date": seizure.seized_at.date(),
        "requesting_agency": seizure.reporting_agency,
    }


def requests_for_seizure(
    seizure: SeizureRecorded, seizure_markings: Markings
) -> list[TraceRequest | RestorationRequest]:
    """Every recovered crime gun is traced (AP6); an obliterated serial is restored first (AP6, 7).

    Each request carries the seizure's markings or stricter: they never weaken along the flow.
    """
    markings = strictest([seizure_markings])
    requests: list[TraceRequest | RestorationRequest] = []
    for item_number, gun in enumerate(seizure.firearms, start=1):
        if gun.serial_obliterated or not gun.serial_number:
            requests.append(RestorationRequest.request(seizure, item_number, gun, markings))
        else:
            requests.append(TraceRequest.submit(seizure, item_number, gun, markings))
    return requests
