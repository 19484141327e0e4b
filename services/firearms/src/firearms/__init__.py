"""Firearms service: crime-gun tracing and serial-number restoration (AP6 and AP7)."""

__version__ = "0.1.0"
