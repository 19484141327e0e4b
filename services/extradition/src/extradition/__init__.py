"""Extradition service: fugitives, extradition and mutual legal assistance (Alliance Points 5 and 16)."""

__version__ = "0.1.0"
