"""Alliance shared kernel: the one copy of every cross-cutting mechanism the domain services use."""

__version__ = "0.1.0"
