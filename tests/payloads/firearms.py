"""Guns as seized, the tracing centre's answers, and firearms' completed traces."""

from __future__ import annotations

from typing import Any

from alliance.contracts.common import Person
from alliance.contracts.firearms import ExportLicenceIssued, TraceCompleted, TraceResultReported

GLOCK = {"serial_number": "BXR123", "maker": "Glock", "model": "19", "caliber": "9mm", "firearm_type": "pistol"}
OBLITERATED = {"serial_obliterated": True, "maker": "Colt", "firearm_type": "rifle"}
GUNS = (
    {"maker": "Glock", "model": "19", "caliber": "9mm", "firearm_type": "pistol"},
    {"maker": "Colt", "model": "AR-15", "caliber": "5.56x45mm", "firearm_type": "rifle"},
    {"maker": "Smith & Wesson", "model": "686", "caliber": ".357 Magnum", "firearm_type": "revolver"},
)
DEALER = {"name": "Lone Star Guns", "licence_number": "5-74-000"}
JUAN = {"given_names": "Juan", "surnames": ["Pérez", "Garza"], "date_of_birth": "1980-02-03"}


def gun(serial: str, n: int = 0, **fields: Any) -> dict[str, Any]:
    """A seized gun with a legible serial: the ``n``-th of three makes and types, in turn."""
    return {"serial_number": serial, **GUNS[n % len(GUNS)], **fields}


def export_licence_issued(
    licence_number: str = "DSP-5-0001", *firearms: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """The data of ``export_licence.issued.v1``: the export of ``firearms`` (by default a Glock, serial BXR-123,
    the serial of :data:`GLOCK` written otherwise) to Mexico, licensed on 1 March 2026 for a year."""
    body: dict[str, Any] = {
        "licence_number": licence_number,
        "exporter": "Lone Star Arms Export LLC",
        "consignee": "Importadora Norteña SA de CV",
        "destination_country": "MX",
        "issued_on": "2026-03-01",
        "firearms": list(firearms) or [{"maker": "Glock", "serial_number": "BXR-123"}],
    }
    return {**body, **fields}


def export_licence(licence_number: str = "DSP-5-0001", *firearms: dict[str, Any], **fields: Any) -> ExportLicenceIssued:
    """:func:`export_licence_issued` as the handlers receive it."""
    return ExportLicenceIssued.model_validate(export_licence_issued(licence_number, *firearms, **fields))


def trace_result(trace_id: str, **fields: Any) -> TraceResultReported:
    """The tracing centre completes a trace: the dealer, Juan Pérez Garza as first purchaser, sold 2026-06-01."""
    body = {"trace_request_id": trace_id, "outcome": "completed", "dealer": DEALER, "purchaser": JUAN}
    return TraceResultReported.model_validate({**body, "sale_date": "2026-06-01", **fields})


def trace_completed(purchaser: Person, trace_id: str = "TR-1", **fields: Any) -> TraceCompleted:
    """Firearms' fact about a completed trace, as the other services receive it: ``purchaser`` bought the gun."""
    body = {
        "trace_request_id": trace_id,
        "seizure_id": "SZ-9",
        "serial_number": "BXR123",
        "maker": "Glock",
        "dealer": DEALER,
        "purchaser": purchaser.model_dump(mode="json"),
        "sale_date": "2026-06-01",
        "recovery_date": "2026-11-20",
        "time_to_crime_days": 172,
        "status": "completed",
    }
    return TraceCompleted.model_validate({**body, **fields})
