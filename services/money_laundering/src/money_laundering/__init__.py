"""Money-laundering service: financial intelligence, currency, investigations and assets (AP12, AP13)."""

__version__ = "0.1.0"
