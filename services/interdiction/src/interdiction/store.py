"""Interdiction's own database."""

from __future__ import annotations

SEIZURES = "seizures"
ROUTE_REPORTS = "route_reports"
STATISTICS = "seizure_statistics"
COLLECTIONS = [SEIZURES, ROUTE_REPORTS, STATISTICS]
