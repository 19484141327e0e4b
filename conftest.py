"""Fixtures for every test directory: the real local stack, started by the project's own script."""

from __future__ import annotations

import pytest

from harness import stack as run_stack


@pytest.fixture(scope="session")
def stack() -> None:
    """Kafka + FerretDB, installed and started by deploy/local/stack.py (a no-op when already running)."""
    run_stack("up")
