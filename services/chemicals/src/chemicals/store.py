"""Chemicals' own database."""

from __future__ import annotations

NOTIFICATIONS = "pre_export_notifications"
LEGITIMATE_NEEDS = "legitimate_needs"
INCIDENTS = "incidents"
ALERTS = "diversion_alerts"
COLLECTIONS = [NOTIFICATIONS, LEGITIMATE_NEEDS, INCIDENTS, ALERTS]
