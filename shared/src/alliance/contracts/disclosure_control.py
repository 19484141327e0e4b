"""The disclosure-control rules of sanitised statistics, as data (``alliance/data/disclosure_control.json``).

Each value comes with why it has that value, and the file names the statistical-disclosure practice it
follows. The contracts describe sanitised releases with these values, so the published schemas say what
the services enforce; ``alliance.domain.disclosure_control`` applies them.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    why: str = Field(min_length=1)


class PeriodRule(_Rule):
    granularity: str = Field(pattern="^quarter$")
    closing_lag_days: int = Field(ge=0)


class CountRule(_Rule):
    value: int = Field(ge=0)


class DominanceRule(_Rule):
    n: int = Field(ge=1)
    k_percent: float = Field(gt=0, le=100)


class RoundingRule(_Rule):
    count_base: int = Field(ge=1)
    amount_significant_figures: int = Field(ge=1)


class Source(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    used_for: str = Field(min_length=1)


class DisclosureRules(BaseModel):
    """The disclosure-control rules of sanitised releases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    about: str = ""
    sources: tuple[Source, ...] = Field(min_length=1)
    period: PeriodRule
    coalition_size: CountRule
    minimum_units: CountRule
    dominance: DominanceRule
    rounding: RoundingRule

    def summary(self, records: str) -> str:
        """What a sanitised release is, in one paragraph with these values (for the published schemas)."""
        return (
            f"the quarter's one disclosure-controlled release ({self.version}): fixed by the first sanitised "
            f"request made {self.period.closing_lag_days} days or more after the quarter ended (earlier ones are "
            "refused), the same for every request after that; "
            f"a figure is withheld unless, for any {self.coalition_size.value} or fewer agencies together, the "
            f"{records} none of them may see are none, or at least {self.minimum_units.value} of which the "
            f"{self.dominance.n} largest make up at most {self.dominance.k_percent:g}%; a breakdown (by status, "
            f"by drug, ...) is published whole or not at all; counts are rounded to multiples of "
            f"{self.rounding.count_base} (parts still adding up to their total), amounts to "
            f"{self.rounding.amount_significant_figures} significant figures; released under the request's "
            f"markings instead of the strictest markings of the {records} counted"
        )


@cache
def disclosure_rules() -> DisclosureRules:
    text = resources.files("alliance").joinpath("data/disclosure_control.json").read_text(encoding="utf-8")
    return DisclosureRules.model_validate(json.loads(text))
