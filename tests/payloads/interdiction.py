"""Seizures: as an agency reports them (``seizure.reported.v1``) and as interdiction records them."""

from __future__ import annotations

from typing import Any

from alliance.contracts.interdiction import SeizureCorrected, SeizureRecorded

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
AMENDED = "org.alliance.interdiction.seizure.amended.v1"
CBP = "urn:agency:us-cbp"
SEIZED_AT = "2026-11-20T14:30:00-06:00"
LAREDO = {"description": "Laredo", "country": "US"}
LAREDO_SOUTHBOUND = {"description": "Laredo, southbound", "country": "US", "port_of_entry": "Laredo"}
COCAINE = {"drug": "cocaine", "quantity": 1, "unit": "kg"}
METH = {"drug": "methamphetamine", "quantity": 20, "unit": "kg"}
# A tractor-trailer southbound at the World Trade Bridge, its load under a false floor (with seizure_contents).
TRACTOR_TRAILER = {
    "place": {
        "description": "World Trade Bridge, lane 4",
        "country": "US",
        "subdivision": "TX",
        "port_of_entry": "Laredo",
    },
    "conveyance": {"kind": "tractor-trailer", "identifier": "TX 4KD-221"},
    "concealment": "false floor",
    "route": {"origin": "US", "destination": "MX"},
}


def seizure_contents(**fields: Any) -> dict[str, Any]:
    """What was seized and where: a land seizure at Laredo unless ``fields`` say otherwise; they add the items
    (``drugs``, ``firearms``, ``currency``, ``chemicals``, ``detained_persons``) or replace any field."""
    return {"mode": "land", "seized_at": SEIZED_AT, "place": LAREDO, **fields}


def seizure_reported(reference: str, **fields: Any) -> dict[str, Any]:
    """The data of ``seizure.reported.v1`` (add ``reason`` for ``seizure.amended.v1``): the agency's own case
    number and the seizure's contents (:func:`seizure_contents`)."""
    return {"report_reference": reference, "seizure": seizure_contents(**fields)}


def seizure_recorded(seizure_id: str = "SZ-1", *, corrected: bool = False, **fields: Any) -> SeizureRecorded:
    """Interdiction's fact about a seizure, as the other services receive it; ``corrected``: the seizure as
    amended (revision 2). ``fields`` replace the report's (``report_reference``, ``reporting_agency``,
    ``recorded_at``) or the contents' (:func:`seizure_contents`)."""
    body: dict[str, Any] = {
        "seizure_id": seizure_id,
        "report_reference": "CBP-1",
        "reporting_agency": CBP,
        "recorded_at": "2026-11-20T21:00:00Z",
        **seizure_contents(**fields),
    }
    if corrected:
        return SeizureCorrected.model_validate({"revision": 2, "amendment_reason": "count corrected", **body})
    return SeizureRecorded.model_validate(body)
