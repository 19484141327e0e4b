"""The repository of traced purchasers (flow 5), shared by the services that match people against them."""

from __future__ import annotations

from collections.abc import Iterable

from alliance.application.repository import Repository
from alliance.domain.sightings import TracedPurchaser


class TracedPurchasers(Repository[TracedPurchaser]):
    kind = TracedPurchaser
    collection = "traced_purchasers"
    indexes = ("surname_keys",)

    async def sharing_surname_keys(self, keys: Iterable[str]) -> list[TracedPurchaser]:
        """First retail purchasers of traced guns with a surname word in common (then compared in full)."""
        return await self.where_any("surname_keys", keys)
