"""Operators' tooling: the ``alliance`` command line, dead-letter replay and registry changes, the flow
view read from the trace backend, and the consumer-lag exporter.

It runs as the operators' principal, beside the services and never inside them: it may use the
runtime (settings, the admin connection, the registry fold), but neither the runtime nor a service
imports it (an import-linter contract in ``pyproject.toml`` says so).
"""
