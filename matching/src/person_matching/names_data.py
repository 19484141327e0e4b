"""What is known about names from data, not from code: nicknames, cross-language equivalents, how common a
name is and which sex usually carries a given name.

- English nicknames: the ``nicknames`` package (carltonnorthern/nicknames, hand-curated, Apache-2.0).
- Spanish hypocoristics (also of compound names) and Spanish↔English equivalents:
  ``data/spanish_given_names.json``, which names its sources.
- Frequencies and the share of women per given name: the US Census Bureau's 2020 surname and first-name
  tables (whole population, and its Hispanic population as the stand-in for Mexico), built into
  ``data/name_frequencies.tsv`` by ``matching/scripts/build_name_frequencies.py``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from nicknames import name_triplets

from person_matching.text import fold

# A name absent from the census tables (fewer than ~1000 carriers in the US) is treated as this rare.
RARE_PER_MILLION = 2.0


@dataclass(frozen=True)
class Frequency:
    per_million: float  # the higher of the US and the US-Hispanic rate: common on either side is common
    female_share: float | None = None


def _data(name: str) -> str:
    return resources.files("person_matching").joinpath(f"data/{name}").read_text(encoding="utf-8")


@cache
def _frequencies() -> dict[tuple[str, str], Frequency]:
    table: dict[tuple[str, str], Frequency] = {}
    for row in csv.DictReader(_data("name_frequencies.tsv").splitlines(), delimiter="\t"):
        female = float(row["female_share"]) if row["female_share"] else None
        rate = max(float(row["per_million_us"]), float(row["per_million_hispanic"]))
        table[(row["kind"], row["name"])] = Frequency(rate, female)
    return table


def surname_frequency(word: str) -> float:
    """Carriers per million of a folded surname written as one word (``delacruz`` for de la Cruz)."""
    found = _frequencies().get(("surname", word.replace(" ", "")))
    return found.per_million if found else RARE_PER_MILLION


def given_frequency(word: str) -> float:
    found = _frequencies().get(("given", word))
    return found.per_million if found else RARE_PER_MILLION


def female_share(word: str) -> float | None:
    """Share of women among the carriers of a given name, or None when the census has too few of them."""
    found = _frequencies().get(("given", word))
    if found is None or found.per_million < 5:
        return None
    return found.female_share


@dataclass(frozen=True)
class _Equivalents:
    canon: dict[str, frozenset[str]]  # name → the formal names it is, or is a nickname of (any language)
    compounds: dict[str, frozenset[tuple[str, ...]]]  # one-word nickname → the compound names it stands for


@cache
def _equivalents() -> _Equivalents:
    canon: dict[str, set[str]] = {}

    def link(name: str, formal: str) -> None:
        canon.setdefault(name, set()).add(formal)

    for triplet in name_triplets():  # formal name, "has_nickname", nickname
        link(triplet.name1, triplet.name1)
        link(triplet.name2, triplet.name1)
    data = json.loads(_data("spanish_given_names.json"))
    for entry in data["names"]:
        formal = fold(entry["name"])
        link(formal, formal)
        for nickname in entry["nicknames"]:
            link(fold(nickname), formal)
        for english in entry["equivalents"]:
            link(fold(english), formal)
            link(formal, fold(english))
    # One hop through the formal names, which is how languages meet: Pepe → José → Joseph ← Joe.
    closed = {name: set(forms).union(*(canon.get(f, set()) for f in forms)) for name, forms in canon.items()}
    compounds: dict[str, set[tuple[str, ...]]] = {}
    for entry in data["compound"]:
        words = tuple(w for w in fold(entry["name"]).split() if w not in {"de", "del", "la", "los", "las"})
        for nickname in entry["nicknames"]:
            compounds.setdefault(fold(nickname), set()).add(words)
    return _Equivalents({k: frozenset(v) for k, v in closed.items()}, {k: frozenset(v) for k, v in compounds.items()})


def equivalent_given(a: str, b: str) -> bool:
    """José ~ Pepe ~ Joe ~ Joseph; Guillermo ~ William ~ Bill: the same formal name in either language."""
    if a == b:
        return True
    canon = _equivalents().canon
    return bool(canon.get(a, frozenset()) & canon.get(b, frozenset()))


def compound_forms(word: str) -> frozenset[tuple[str, ...]]:
    """Chema → {(jose, maria), (jose, manuel)}: the compound given names a one-word nickname stands for."""
    return _equivalents().compounds.get(word, frozenset())


def known_given_names() -> frozenset[str]:
    """Every given name the equivalence tables know (names, nicknames, compound nicknames)."""
    return frozenset(_equivalents().canon) | frozenset(_equivalents().compounds)


def given_name_forms(word: str) -> frozenset[str]:
    """The formal names a given name is or stands for, in either language (itself included); for a
    nickname of compound names, each of their words: what two records of one person share."""
    forms = {word, *_equivalents().canon.get(word, frozenset())}
    for words in _equivalents().compounds.get(word, frozenset()):
        forms |= set(words)
    return frozenset(forms)
