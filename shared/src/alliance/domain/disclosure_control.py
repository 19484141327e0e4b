"""Statistical disclosure control of sanitised statistics: which figures a release may publish, rounded how.

A sanitised release publishes figures over records that some recipients may not see (one RED seizure
among GREEN ones) under markings weaker than theirs. Each agency knows the records it originated and
those their markings let it receive, and agencies may pool what they know. The rules, with their
values and sources, are data (``alliance/data/disclosure_control.json``):

- a figure is a *cell*: a sum over records of a value (1 for a count; the kilograms, the amount, the
  guns of a seizure). The records of one seizure are one *unit* (one contributor, in the terms of the
  statistics offices): a seizure of three guns is one contributor, not three.
- for every *coalition* of up to ``coalition_size`` agencies, and for an outsider, set aside every
  record any of them may know: what remains is nothing, or at least ``minimum_units`` units of which
  the ``dominance.n`` largest make up at most ``dominance.k_percent`` percent (the threshold rule and
  the (n,k) dominance rule, applied to what the coalition cannot see). A cell that fails is withheld.
- the parts of a figure (traces by status, kilograms by drug) are published whole or not at all: a
  part withheld alone would show which part holds the records that made it fail, and a total minus
  its published parts would give it back (secondary suppression). A part never published (long
  times-to-crime beside the published short ones) must pass too, or its published sibling is withheld.
  A figure that counts some of a withheld figure's records (a country's guns, when its seizures are
  withheld) is withheld too, or whether it is zero would tell what those few records hold.
- published counts are multiples of ``rounding.count_base``; a published total and its parts, all
  published, are rounded together so that the parts still add up (controlled rounding, without
  randomness); amounts keep ``rounding.amount_significant_figures``.

What it does not hide: that a figure is withheld, i.e. that it counts something some few agencies
together cannot see (in a country's row: that the country has such a seizure). What that is, and
its value, cannot be read back.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations

from alliance.contracts.disclosure_control import DisclosureRules
from alliance.contracts.markings import Markings
from alliance.contracts.registry import Registry
from alliance.domain.errors import DomainRuleViolation
from alliance.domain.periods import Quarter
from alliance.domain.release import audience


def release_opens(quarter: Quarter, rules: DisclosureRules) -> datetime:
    """When a quarter may be released sanitised: after it ended and stayed open for late reports."""
    _, end = quarter.bounds()
    return end + timedelta(days=rules.period.closing_lag_days)


def require_closed(quarter: Quarter, now: datetime, rules: DisclosureRules) -> None:
    """Only closed quarters are released sanitised, and the first release of a quarter is its only one."""
    opens = release_opens(quarter, rules)
    if now.astimezone(UTC) < opens:
        raise DomainRuleViolation(
            f"{quarter} can be released sanitised from {opens.date().isoformat()}: a quarter is released once, "
            f"{rules.period.closing_lag_days} days after it ends so that late reports are in it; "
            "ask again then, or ask without sanitised"
        )


# -- cells and who can see what is in them ------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """What one record adds to a cell: its unit (the seizure), who may know it, and its value."""

    unit: str
    knowers: frozenset[str]
    value: float


class Audiences:
    """Who may know a record, by its markings (computed once per distinct markings)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._known: dict[Markings, frozenset[str]] = {}

    def of(self, markings: Markings) -> frozenset[str]:
        if markings not in self._known:
            self._known[markings] = audience(markings, self.registry)
        return self._known[markings]


class Cells:
    """The cells of one table: key → the contributions of the records counted in it."""

    def __init__(self) -> None:
        self.contributions: dict[str, list[Contribution]] = defaultdict(list)

    def add(self, key: str, unit: str, knowers: frozenset[str], value: float = 1) -> None:
        if value > 0:  # a record that adds nothing to a figure is not one of its contributors
            self.contributions[key].append(Contribution(unit, knowers, value))

    def value(self, key: str) -> float:
        return sum(c.value for c in self.contributions.get(key, ()))

    def count(self, key: str) -> int:
        return round(self.value(key))


@dataclass(frozen=True)
class Breakdown:
    """A figure's parts (each record of ``total`` in exactly one part), published whole or not at all.

    A part withheld alone would show which part holds the records that made it fail, and a total minus its
    published parts would give it back. ``name`` is the breakdown as a whole (``by_status``), withheld
    with its parts; ``total`` is None for parts without a published total (the kilograms of each drug).
    A part listed as hidden in :func:`withheld` is never published (the complement of a published subset),
    but a total minus the other parts gives it, so it must pass the rules too.
    """

    name: str
    parts: tuple[str, ...]
    total: str | None = None


@dataclass(frozen=True)
class Subsets:
    """Figures that count some of the records of another (the guns of a country's seizures): withheld with
    it, or whether each is withheld, zero or published would tell what the few records behind it hold."""

    of: str
    figures: tuple[str, ...]


def failure(contributions: Sequence[Contribution], rules: DisclosureRules) -> str | None:
    """Why a cell may not be published (None when it may): the first coalition it would disclose to."""
    groups: dict[frozenset[str], dict[str, float]] = {}
    for c in contributions:
        units = groups.setdefault(c.knowers, defaultdict(float))
        units[c.unit] += c.value
    audiences = list(groups)
    agencies = sorted(set().union(*audiences)) if audiences else []
    checked: set[frozenset[int]] = set()
    for size in range(min(rules.coalition_size.value, len(agencies)) + 1):
        for coalition in combinations(agencies, size):
            members = set(coalition)
            unseen = frozenset(i for i, knowers in enumerate(audiences) if not knowers & members)
            if unseen in checked:
                continue
            checked.add(unseen)
            remaining: dict[str, float] = defaultdict(float)
            for i in unseen:
                for unit, value in groups[audiences[i]].items():
                    remaining[unit] += value
            why = _fails(list(remaining.values()), rules)
            if why:
                return f"{why}, unseen by {', '.join(coalition) if coalition else 'an outsider'}"
    return None


def _fails(values: list[float], rules: DisclosureRules) -> str | None:
    if not values:
        return None  # the coalition may see every record of the cell: nothing to disclose to it
    if len(values) < rules.minimum_units.value:
        return f"{len(values)} seizure(s), fewer than {rules.minimum_units.value}"
    n, k = rules.dominance.n, rules.dominance.k_percent
    largest = sum(sorted(values, reverse=True)[:n])
    if largest * 100 > k * sum(values):
        return f"the {n} largest seizure(s) make up more than {k:g}%"
    return None


def withheld(
    cells: Cells,
    rules: DisclosureRules,
    breakdowns: Sequence[Breakdown] = (),
    subsets: Sequence[Subsets] = (),
    hidden: Iterable[str] = (),
) -> set[str]:
    """The figures a release must withhold: each cell that fails (primary suppression); every part of a
    breakdown whose total, name or any part is withheld, or whose hidden part fails; and every subset of a
    withheld figure (secondary suppression). Figures may be withheld that have no records at all."""
    contributions = cells.contributions
    never = set(hidden)
    failing_hidden = {key for key in never if failure(contributions.get(key, ()), rules)}
    held = {key for key, c in contributions.items() if key not in never and failure(c, rules)}
    changed = True
    while changed:
        changed = False
        for b in breakdowns:
            whole = {b.name, *(p for p in b.parts if p not in never)}
            if whole <= held:
                continue
            if (b.total is not None and b.total in held) or whole & held or set(b.parts) & failing_hidden:
                held |= whole
                changed = True
        for s in subsets:
            if s.of in held and not set(s.figures) <= held:
                held |= set(s.figures)
                changed = True
    return held


# -- rounding --------------------------------------------------------------------------------------------


def rounded(count: int, base: int) -> int:
    """To the nearest multiple of ``base``, halves up: the same count always gives the same figure."""
    return (count + base // 2) // base * base


def controlled(parts: Mapping[str, int], base: int, total: int | None = None) -> dict[str, int]:
    """Parts each rounded down or up to an adjacent multiple of ``base`` so that they add up to ``total``
    (the nearest multiple to their sum unless given; it must be adjacent to their sum): the parts with the
    largest remainders go up, ties by key, so the result is the same every time."""
    exact = sum(parts.values())
    target = rounded(exact, base) if total is None else total
    if target % base or abs(target - exact) >= base:
        raise ValueError(f"{target} is not a multiple of {base} adjacent to {exact}")
    down = {key: n // base * base for key, n in parts.items()}
    ups = (target - sum(down.values())) // base
    order = sorted((key for key, n in parts.items() if n % base), key=lambda key: (-(parts[key] % base), key))
    up = set(order[:ups])
    return {key: n + (base if key in up else 0) for key, n in down.items()}


def significant(amount: float, figures: int) -> float:
    """An amount with this many significant figures (1234.5 with 3 → 1230.0)."""
    if amount == 0:
        return 0.0
    digits = figures - 1 - math.floor(math.log10(abs(amount)))
    return float(round(amount, digits))


def published_counts(
    counts: Mapping[str, int],
    held: set[str],
    base: int,
    breakdowns: Sequence[Breakdown] = (),
) -> dict[str, int]:
    """Every count not withheld, rounded: a published total whose parts are all published keeps being
    their sum (controlled rounding); other counts go to the nearest multiple of ``base``."""
    result: dict[str, int] = {}
    for b in breakdowns:
        if b.total is None or b.total in held or b.total not in counts:
            continue
        total = result.setdefault(b.total, rounded(counts[b.total], base))
        if b.parts and all(p in counts and p not in held and p not in result for p in b.parts):
            result.update(controlled({p: counts[p] for p in b.parts}, base, total))
    for key, n in counts.items():
        if key not in held and key not in result:
            result[key] = rounded(n, base)
    return result
