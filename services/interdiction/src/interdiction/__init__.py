"""Interdiction service: seizures at air, land and sea (Alliance Points 2, 10 and 14)."""

__version__ = "0.1.0"
