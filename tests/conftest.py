"""Fixtures for flows across services: the real local stack and services as their own processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import MongoClient

from harness import (
    MONGO_URI,
    NAMESPACES,
    Agency,
    OtlpReceiver,
    Producers,
    System,
    forget_namespaces,
    otlp_receiver,
)


@pytest.fixture(scope="session")
def otlp() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def system(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    """The services running as separate processes in a namespace of their own.

    Deadlines are shortened so the clock can be watched: the tracing-center reply takes 20 s here.
    """
    running = System(namespace=f"t{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        for name in ("interdiction", "firearms", "chemicals", "money_laundering", "extradition"):
            running.start(name, {"ALLIANCE_DEADLINE_SCAN_SECONDS": "0.5", "ALLIANCE_TRACE_REPLY_HOURS": str(20 / 3600)})
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def mongo(stack: None) -> Iterator[MongoClient[dict[str, object]]]:
    client: MongoClient[dict[str, object]] = MongoClient(MONGO_URI, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
async def producer(stack: None) -> AsyncIterator[Producers]:
    """Authenticated producers, one per agency principal (an agency writes only its own intake topics)."""
    producers = Producers()
    yield producers
    await producers.stop()


@pytest.fixture
def agency(producer: Producers) -> Agency:
    """A customs post publishing seizures, with a reply stream of its own."""
    return Agency(producer, "us-cbp")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture (the end-of-session contract check included): drop the session's namespaces.

    ALLIANCE_KEEP_NAMESPACES=1 keeps them, to look at what a failed run left."""
    if os.environ.get("ALLIANCE_KEEP_NAMESPACES") != "1":
        forget_namespaces(NAMESPACES)
