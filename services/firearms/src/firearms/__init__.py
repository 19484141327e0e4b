"""Firearms service: crime-gun tracing and serial-number restoration (Alliance Points 6 and 7)."""

__version__ = "0.1.0"
