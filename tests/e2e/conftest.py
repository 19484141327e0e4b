"""After the end-to-end tests of a session: every record Alliance wrote in their namespaces holds to the
contracts Alliance publishes (issue 17 item 4). Runs once, after every service of the session stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from harness import NAMESPACES
from published_contracts import contract_offences


@pytest.fixture(scope="session", autouse=True)
def records_hold_to_the_published_contracts() -> Iterator[None]:
    yield  # set up before any other session fixture, so torn down after them: the services have stopped
    if not NAMESPACES:
        return
    read, offences = asyncio.run(contract_offences(NAMESPACES))
    assert not offences, (
        f"of {read} records in {len(NAMESPACES)} namespaces, some break the published contracts:\n"
        + "\n".join(offences)
    )
