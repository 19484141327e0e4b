"""A test hook that makes a chosen commit fail once, to prove reactions survive a failure between writes.

``ALLIANCE_INJECT_FAULTS="extradition_requests:1,alerts:1,alerts:3"`` makes the 1st commit to
``extradition_requests`` and the 1st and 3rd commits to ``alerts`` in this process raise
:class:`InjectedFault`, before anything is written (attempts are counted, failed ones included).
The consumer then retries the handler as it would after any unexpected failure, exactly like a
redelivery: the test checks that the work completes once. Unset in production; it then costs one
dictionary lookup per commit. Other named points count the same way (:func:`at`): ``registry-follow``
is the registry follower's poll.
"""

from __future__ import annotations

import os
from collections import Counter


class InjectedFault(RuntimeError):
    """A failure injected by ALLIANCE_INJECT_FAULTS (tests only)."""


def _plan(spec: str) -> dict[str, set[int]]:
    plan: dict[str, set[int]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        collection, _, nth = item.rpartition(":")
        plan.setdefault(collection, set()).add(int(nth))
    return plan


_PLAN = _plan(os.environ.get("ALLIANCE_INJECT_FAULTS", ""))
_commits: Counter[str] = Counter()


def before_commit(collection: str) -> None:
    """Raise once at the planned commit of ``collection``."""
    if not _PLAN or collection not in _PLAN:
        return
    _commits[collection] += 1
    if _commits[collection] in _PLAN[collection]:
        raise InjectedFault(f"injected fault at commit {_commits[collection]} to {collection}")


def at(point: str) -> None:
    """Raise once at the planned passes through a named point (``registry-follow:2``: its 2nd pass)."""
    before_commit(point)
