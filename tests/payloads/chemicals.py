"""Pre-export notifications and chemical incidents as the competent authorities send them."""

from __future__ import annotations

from typing import Any

from alliance.contracts.chemicals import ChemicalIncidentReported, PreExportNotificationSubmitted

EXPORTER = {"name": "Gulf Coast Solvents, Inc.", "country": "US"}
IMPORTER = {"name": "Química del Norte, S.A. de C.V.", "country": "MX"}


def pen_submitted(**fields: Any) -> dict[str, Any]:
    """The data of ``pre_export_notification.submitted.v1``: two tonnes of P2P (fenilacetona) from Houston to
    Química del Norte through Manzanillo, shipped 2026-11-20; ``fields`` replace any of it."""
    body: dict[str, Any] = {
        "pen_reference": "US-2026-0815",
        "exporting_country": "US",
        "importing_country": "MX",
        "exporter": EXPORTER,
        "importer": IMPORTER,
        "substance": "fenilacetona",
        "quantity": 2,
        "unit": "t",
        "shipment_date": "2026-11-20",
        "route": {"port_of_exit": "Houston", "port_of_entry": "Manzanillo"},
    }
    return {**body, **fields}


def notification(**fields: Any) -> PreExportNotificationSubmitted:
    """:func:`pen_submitted` as the handlers receive it."""
    return PreExportNotificationSubmitted.model_validate(pen_submitted(**fields))


def incident_reported(**fields: Any) -> ChemicalIncidentReported:
    """FGR stops 500 kg of P2P (CAS 103-79-7) at Manzanillo, naming Química del Norte."""
    body: dict[str, Any] = {
        "incident_reference": "FGR-PICS-77",
        "kind": "stopped_shipment",
        "substance": "103-79-7",
        "quantity": 500,
        "unit": "kg",
        "place": {"description": "Manzanillo port", "country": "MX"},
        "occurred_on": "2026-12-02",
        "companies": ["QUIMICA DEL NORTE"],
    }
    return ChemicalIncidentReported.model_validate({**body, **fields})
