"""Wait-and-retry for dependencies that are down: never drop the work, never crash-loop."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import structlog
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError, RequestTimedOutError
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

if TYPE_CHECKING:
    from alliance.runtime.settings import Settings

T = TypeVar("T")
log = structlog.get_logger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    AutoReconnect,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)


async def until_available(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    initial: float = 0.2,
    maximum: float = 15.0,
) -> T:
    """Run ``operation`` until it succeeds, backing off exponentially while a dependency is down.

    Only transient errors (connection, timeout) are retried; anything else is raised at once.
    """
    delay = initial
    attempt = 0
    while True:
        try:
            return await operation()
        except TRANSIENT_ERRORS as exc:
            attempt += 1
            log.warning(
                "dependency unavailable, retrying",
                what=what,
                attempt=attempt,
                retry_in_s=round(delay, 2),
                error=f"{type(exc).__name__}: {exc}",
            )
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, maximum)


async def waiting(settings: Settings, what: str, operation: Callable[[], Awaitable[T]]) -> T:
    """:func:`until_available` with the service's configured backoff (one place for every caller)."""
    return await until_available(
        operation, what=what, initial=settings.retry_initial_seconds, maximum=settings.retry_max_seconds
    )
