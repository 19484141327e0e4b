"""Firearms' own database: trace requests and restoration requests."""

from __future__ import annotations

TRACE_REQUESTS = "trace_requests"
RESTORATION_REQUESTS = "restoration_requests"
COLLECTIONS = [TRACE_REQUESTS, RESTORATION_REQUESTS]
