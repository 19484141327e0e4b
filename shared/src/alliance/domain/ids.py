"""Deterministic identifiers: a derived record's id comes from what caused it, so redelivery is harmless."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4f55-9d8e-2b1f7c5a0e11")


def derived_id(prefix: str, *parts: object) -> str:
    """An id like ``TR-<uuid5>`` that is the same every time for the same parts."""
    return f"{prefix}-{uuid.uuid5(_NAMESPACE, '|'.join([prefix, *(str(p) for p in parts)]))}"


def event_id(record_id: str, kind: str, sequence: object) -> str:
    """The id of an event of ``kind`` emitted by one record at position ``sequence`` (version:index)."""
    return str(uuid.uuid5(_NAMESPACE, f"{record_id}|{kind}|{sequence}"))
