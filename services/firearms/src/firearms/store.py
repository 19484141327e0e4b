"""Firearms' own database."""

from __future__ import annotations

TRACE_REQUESTS = "trace_requests"
RESTORATION_REQUESTS = "restoration_requests"
EXPORT_LICENCES = "export_licences"
PURCHASERS = "purchasers"
STATISTICS = "trace_statistics"
COLLECTIONS = [TRACE_REQUESTS, RESTORATION_REQUESTS, EXPORT_LICENCES, PURCHASERS, STATISTICS]
