"""Blocking keys: which stored persons are worth comparing with a new one.

Any two persons the matcher calls ``match`` or ``possible`` share at least one key (tested over every
labelled set), so an index on these keys loses no candidate. A key is the Spanish-sounding phonetic
code of a surname form (as written, joined, each main word; married and widow's forms included), or that
code with one letter left out; optionally the same with the birth year (for an index that wants smaller
blocks, at the cost of records without a date); and, for a record without a usable surname, its first
given name's phonetic code.
"""

from __future__ import annotations

import re
from typing import Protocol

from person_matching.dates import BirthDate, Precision
from person_matching.names import CONNECTORS, PARTICLES, SUFFIXES, WIDOW, given_words, words_of
from person_matching.names_data import given_frequency, given_name_forms, surname_frequency


class Named(Protocol):
    @property
    def given_names(self) -> str: ...
    @property
    def surnames(self) -> list[str]: ...
    @property
    def aliases(self) -> list[str]: ...


_RULES = [
    (r"ll", "y"),
    (r"qu", "k"),
    (r"c([eiy])", r"s\1"),
    (r"gu([ei])", r"g\1"),
    (r"g([ei])", r"j\1"),
    (r"ph", "f"),
    (r"c", "k"),
    (r"z", "s"),
    (r"x", "j"),
    (r"v", "b"),
    (r"w", "u"),
    (r"y\b", "i"),
    (r"(?<!s)h", ""),
    (r"sh", "s"),
    (r"(.)\1+", r"\1"),
]


def phonetic(word: str) -> str:
    """Hernández, Fernandes → ernandes, fernandes; Vázquez, Basquez → baskes: spelling that sounds alike."""
    code = word
    for pattern, repl in _RULES:
        code = re.sub(pattern, repl, code)
    return code


def _one_slip(code: str) -> set[str]:
    """The code and each code with one letter left out: two spellings one typing slip apart (a letter
    changed, added, dropped or two swapped) always share one of them."""
    return {code, *(code[:i] + code[i + 1 :] for i in range(len(code)))} if len(code) > 3 else {code}


def _surname_forms(words: list[str]) -> set[str]:
    words = [w for w in words if w not in CONNECTORS and w not in WIDOW and w not in SUFFIXES]
    forms = {"".join(words)}
    core = [w for w in words if w not in PARTICLES]
    forms |= set(core)
    for i in range(len(words)):  # every run of words joined: de la Cruz → delacruz, Montes de Oca → montesdeoca
        for j in range(i + 1, len(words) + 1):
            if words[j - 1] not in PARTICLES:
                forms.add("".join(words[i:j]))
    return {f for f in forms if f}


def _surname_like(word: str) -> bool:
    """A word in the given-names field that may be a surname (maternal as middle name, fields swapped)."""
    return surname_frequency(word) >= given_frequency(word)


def blocking_keys(person: Named, birth_year: int | None = None, slips: bool = True) -> list[str]:
    surname_words = [w for s in person.surnames for w in words_of(s)]
    given, _ = given_words(person.given_names)
    keys: set[str] = set()
    forms = _surname_forms(surname_words)
    # Given names that could be surnames: swapped fields, the maternal surname or the maiden name as a
    # middle name, the whole name in one field.
    extra = [w for w in given if _surname_like(w)] + (given if not surname_words else [])
    forms |= set(extra)
    for alias in person.aliases:
        forms |= _surname_forms(words_of(alias)[1:])
    if given and surname_words:  # the surname field may hold the given names (fields swapped)
        forms |= {w for w in surname_words if w not in PARTICLES and not _surname_like(w)}
    for form in forms:
        if form in PARTICLES or len(form) < 2:
            continue
        code = phonetic(form)
        keys |= {f"s:{variant}" for variant in (_one_slip(code) if slips else {code})}
    if not keys and given:  # no usable surname: the first given name stands in
        keys.add(f"g:{phonetic(given[0])}")
    if birth_year is not None:
        keys |= {f"{k}@{birth_year}" for k in list(keys)}
    return sorted(keys)


# -- the fugitive index: keys filed with a stored person, keys a new person is looked up by ------------

UNDATED = "?"
TURN_OF_YEAR_DAYS = 3  # a date this close to 1 January or 31 December may be a slip into the next year


def _year_tags(birth: BirthDate | None) -> list[str]:
    if birth is None:
        return []
    tags = [str(birth.year)]
    if birth.precision is Precision.DAY and not birth.placeholder and birth.month is not None and birth.day:
        if birth.month == 1 and birth.day <= TURN_OF_YEAR_DAYS:
            tags.append(str(birth.year - 1))
        if birth.month == 12 and birth.day > 31 - TURN_OF_YEAR_DAYS:
            tags.append(str(birth.year + 1))
    return tags


def _anagrams(exact: list[str]) -> set[str]:
    """A surname code's letters in order: two letters swapped (Anderson, Andreson) give the same key."""
    return {"a:" + "".join(sorted(k[2:])) for k in exact if k.startswith("s:")}


def index_keys(person: Named, birth: BirthDate | None) -> list[str]:
    """The keys a stored person (a fugitive, a detained person) is filed under.

    Its blocking keys (each surname code and the codes with one letter left out) and the letters of each
    code in order, each with the birth year (``key@1988``, or ``key@?`` without one): the matcher calls
    people born in different years ``no_match``, so a year splits a common surname's block some seventy
    ways. Name keys split by given name (see :func:`_undated_keys`) are also filed without a year, for a
    new person whose year is unknown.
    """
    exact = blocking_keys(person, slips=False)
    base = set(blocking_keys(person)) | _anagrams(exact)
    year = str(birth.year) if birth is not None else UNDATED
    return sorted({f"{k}@{year}" for k in base} | _undated_keys(person, exact))


def lookup_keys(person: Named, birth: BirthDate | None) -> list[str]:
    """The keys that find the stored people the matcher may take for this one: its exact surname codes
    (a stored code with a letter left out meets a letter dropped or added here) and their letters in
    order (two letters swapped), in the same year, the neighbouring one at the turn of a year, and
    undated (some twelve indexed lookups); without a year, by surname and given name in any year.

    Not found: surnames a letter *substituted* apart (Serrano, Serrato), which the labelled sets hold
    only as different families; every pair labelled the same person is found (tested either way round).
    """
    exact = blocking_keys(person, slips=False)
    base = set(exact) | _anagrams(exact)
    tags = _year_tags(birth)
    if not tags:
        return sorted(_undated_keys(person, exact))
    return sorted({f"{k}@{tag}" for k in base for tag in [*tags, UNDATED]})


def _undated_keys(person: Named, exact: list[str]) -> set[str]:
    """For a lookup without a year: the exact surname codes and their letters in order, each with a form
    of a given name (José, Pepe and Joseph share ``jose``), so a common surname's block is split by
    given name rather than read whole."""
    given = {f for w in _given_words(person) for f in given_name_forms(w)}
    surnames = set(exact) | _anagrams(exact)
    return {f"{k}+{g}" for k in surnames for g in given} if given else surnames


def _given_words(person: Named) -> list[str]:
    """The words that may be given names: the given-names field, or (the whole name in the surname
    field) that field's words."""
    given, _ = given_words(person.given_names)
    if given:
        return given
    return [w for s in person.surnames for w in words_of(s) if w not in PARTICLES and w not in CONNECTORS]
