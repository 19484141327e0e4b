"""Chemicals service: precursor control, pre-export notifications and diversion (Alliance Point 11)."""

__version__ = "0.1.0"
