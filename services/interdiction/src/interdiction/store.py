"""Interdiction's own database: the seizures collection."""

from __future__ import annotations

SEIZURES = "seizures"
COLLECTIONS = [SEIZURES]
