"""A registry change reaches what was released before it: withdrawals after a lower clearance or a revoked consent.

Release is decided when a fact is committed; a record remembers which agencies received which types
(``Aggregate.released``, looked up by ``released_to``). When the registry changes, the records released
to the agencies the change concerns are decided again, and each agency that may no longer hold one is
sent a content-free withdrawal (``Repository.reconsider_release``), never the content.

Restart-safe: the registry as last rechecked is kept in the service's own store (``_disclosure``), so a
change that arrives while the service is down, or a pass a crash interrupted, is rechecked at the next
start. The pass reads only the records released to the concerned agencies (an indexed lookup), and
a recheck that changes nothing writes nothing, so running it twice (two instances) is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from alliance.application.records import Document
from alliance.application.repository import Repository
from alliance.contracts.registry import Agency, Registry
from alliance.runtime.retry import waiting
from alliance.runtime.settings import Settings

log = structlog.get_logger(__name__)

DISCLOSURE = "_disclosure"
SNAPSHOT_ID = "registry"


def concerned_agencies(before: Sequence[dict[str, Any]], after: Registry) -> list[str]:
    """Agencies whose access may have narrowed: their entry changed or vanished, or an originator no
    longer consents to them (their originator-controlled records are theirs no more)."""
    old = {entry["id"]: entry for entry in before}
    new = {agency.id: agency.model_dump(mode="json") for agency in after.agencies}
    concerned = {agency for agency, entry in old.items() if new.get(agency) != entry}
    for originator, entry in old.items():
        still = set(new.get(originator, {}).get("orcon_consents", ()))
        concerned |= set(entry.get("orcon_consents", ())) - still
    return sorted(concerned)


class RegistryRecheck:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        repositories: Callable[[], list[Repository[Any]]],
        registry: Callable[[], Registry],
        settings: Settings,
    ) -> None:
        self._snapshots = db[DISCLOSURE]
        self._repositories = repositories
        self._registry = registry
        self._settings = settings
        self._changed = asyncio.Event()
        self.passes = 0
        self.withdrawn_checks = 0  # records decided again

    def registry_changed(self, agency: Agency) -> None:
        self._changed.set()

    async def recheck(self) -> list[str]:
        """Decide again the records released to every agency the registry changed for; the agencies."""
        registry = self._registry()
        entries = [agency.model_dump(mode="json") for agency in registry.agencies]
        stored = await waiting(self._settings, "disclosure snapshot", lambda: self._snapshots.find_one(SNAPSHOT_ID))
        concerned = concerned_agencies(stored["agencies"], registry) if stored is not None else []
        if stored is not None and stored.get("version", 0) > registry.version:
            log.warning("registry older than the one last rechecked; not rechecking", version=registry.version)
            return []
        for repository in self._repositories():
            for agency in concerned:
                for record_id in await repository.released_to(agency):
                    await repository.reconsider_release(record_id)
                    self.withdrawn_checks += 1
        snapshot = {"version": registry.version, "agencies": entries}
        await waiting(
            self._settings,
            "disclosure snapshot",
            lambda: self._snapshots.replace_one({"_id": SNAPSHOT_ID}, snapshot, upsert=True),
        )
        self.passes += 1
        if concerned:
            log.info("registry change rechecked", version=registry.version, agencies=concerned)
        return concerned

    async def run_forever(self) -> None:
        """One pass at start (a change missed while down), then one after each registry change."""
        while True:
            try:
                await self.recheck()
            except asyncio.CancelledError:
                raise
            except Exception:  # retried at the next change, or after a pause
                log.exception("registry recheck failed; retrying")
                await asyncio.sleep(self._settings.retry_max_seconds)
                continue
            await self._changed.wait()
            self._changed.clear()
