"""Extradition's own database."""

from __future__ import annotations

FUGITIVES = "fugitives"
MATCHES = "person_matches"
EXTRADITIONS = "extradition_requests"
MLAT_REQUESTS = "mlat_requests"
REPORTS = "status_reports"
DETAINED_PERSONS = "detained_persons"
TRACED_PURCHASERS = "traced_purchasers"
COLLECTIONS = [FUGITIVES, MATCHES, EXTRADITIONS, MLAT_REQUESTS, REPORTS, DETAINED_PERSONS, TRACED_PURCHASERS]
