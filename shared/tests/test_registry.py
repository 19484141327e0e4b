"""Registry changes are compare-and-set, refused visibly, and the follower is supervised (no broker here;
tests/e2e/test_registry.py runs the same on the real broker and store)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from alliance.contracts.registry import AgencyRegistered, RegistryChangeRefused, baseline_registry
from alliance.runtime.metrics import ServiceMetrics
from alliance.runtime.registry import OPERATOR_SOURCE, RegistryFollower, fold
from alliance.runtime.settings import Settings

BASE = baseline_registry()
CBP = BASE.get("us-cbp")
assert CBP is not None


def change(version: int, replaces: int, clearance: str = "GREEN") -> AgencyRegistered:
    return AgencyRegistered(
        registry_version=version,
        replaces_version=replaces,
        agency=CBP.model_validate({**CBP.model_dump(), "clearance": clearance}) if CBP else CBP,
    )


def record(offset: int, c: AgencyRegistered, source: str = OPERATOR_SOURCE) -> Any:
    headers = [("ce_id", f"change-{offset}".encode()), ("ce_source", source.encode())]
    return SimpleNamespace(offset=offset, value=json.dumps(c.to_data()).encode(), headers=headers)


def test_a_change_applies_only_to_the_version_it_was_made_against() -> None:
    after = BASE.after(change(2, 1))
    assert after.version == 2
    assert after.get("us-cbp").clearance == "GREEN"  # type: ignore[union-attr]
    with pytest.raises(RegistryChangeRefused, match="not newer"):
        after.after(change(2, 1))  # the same version again
    with pytest.raises(RegistryChangeRefused, match="not newer"):
        after.after(change(2, 2))  # an older one (its own version again, made against itself)
    with pytest.raises(RegistryChangeRefused, match="made against version 1"):
        after.after(change(3, 1))  # made against a version another change replaced already


def test_of_two_changes_made_against_one_version_the_first_written_wins_everywhere() -> None:
    records = [record(0, change(2, 1, "GREEN")), record(1, change(2, 1, "RED")), record(2, change(3, 2, "AMBER"))]
    registry, outcomes = fold(records)
    assert registry.version == 3
    assert [o.refused is None for o in outcomes] == [True, False, True]
    assert "not newer" in (outcomes[1].refused or "")
    forged = fold([record(0, change(2, 1), source="urn:agency:us-cbp")])[1]
    assert "not from the operators" in (forged[0].refused or "")


async def test_a_refused_change_is_counted_and_reported_by_the_follower() -> None:
    metrics = ServiceMetrics("interdiction")
    follower = RegistryFollower(Settings(), metrics=metrics)
    assert await follower._take(record(0, change(2, 1)), 0) is not None
    assert await follower._take(record(1, change(2, 1, "RED")), 0) is None  # stale: same version
    assert await follower._take(record(2, change(5, 4)), 0) is None  # out of sequence
    assert follower.registry.version == 2
    status = follower.status()
    assert (status["changes_applied"], status["changes_refused"]) == (1, 2)
    assert metrics.registry_changes.labels("interdiction", "refused")._value.get() == 2


async def test_a_follower_that_fails_is_restarted_with_backoff_and_reported_meanwhile() -> None:
    settings = Settings(retry_initial_seconds=0.01, retry_max_seconds=0.05)
    follower = RegistryFollower(settings)
    failures = 3
    seen: list[dict[str, Any]] = []
    recovered = asyncio.Event()

    async def flaky_follow() -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("fetch failed")
        follower._last_poll = asyncio.get_running_loop().time()  # as a poll would
        follower.failure = None
        recovered.set()
        await asyncio.Event().wait()  # following

    follower._follow = flaky_follow  # type: ignore[method-assign]
    follower._last_poll = None
    follower.follow()
    while follower.restarts == 0:
        await asyncio.sleep(0)
    seen.append(follower.status())
    await asyncio.wait_for(recovered.wait(), 5)
    assert follower.restarts == 3
    assert seen[0]["following"] is False
    assert "follower failed" in seen[0]["problem"]
    await follower.close()
    assert follower.status()["following"] is False  # stopped: not following


async def test_a_follower_whose_task_died_is_not_healthy() -> None:
    follower = RegistryFollower(Settings())
    assert not follower.healthy()  # never started
    assert follower.status()["problem"] == "not following"
