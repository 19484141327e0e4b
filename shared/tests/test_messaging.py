from datetime import UTC, datetime
from typing import ClassVar

import pytest
from pymongo.errors import OperationFailure

from alliance.contracts.base import Fact
from alliance.envelope import CloudEvent
from alliance.markings import TLP, Markings
from alliance.messaging import Received, with_store_retries
from alliance.settings import Settings

EVENT = CloudEvent(
    id="e1",
    source="urn:agency:x",
    type="org.alliance.x.happened.v1",
    time=datetime.now(UTC),
    markings=Markings(tlp=TLP.GREEN, releasable_to=("US",), originators=("us-x",)),
    data={},
)


class Happened(Fact):
    EVENT_TYPE: ClassVar[str] = "org.alliance.x.happened.v1"


RECEIVED = Received(event=EVENT, data=Happened(), topic="t")
FAST = Settings(retry_initial_seconds=0.001, retry_max_seconds=0.002)


async def test_a_failing_store_is_retried_until_it_recovers() -> None:
    calls = 0

    async def handler(_: Received[object]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OperationFailure("unable to open database file", code=1)

    await with_store_retries(handler, RECEIVED, FAST)
    assert calls == 3


async def test_a_store_that_keeps_failing_is_given_up_after_the_bounded_attempts() -> None:
    calls = 0

    async def handler(_: Received[object]) -> None:
        nonlocal calls
        calls += 1
        raise OperationFailure("still broken", code=1)

    with pytest.raises(OperationFailure, match="still broken"):
        await with_store_retries(handler, RECEIVED, FAST, attempts=4)
    assert calls == 4


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def handler(_: Received[object]) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await with_store_retries(handler, RECEIVED, FAST)
    assert calls == 1
