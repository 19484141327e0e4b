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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from itertools import combinations
from typing import Protocol

from person_matching.dates import BirthDate, Precision
from person_matching.names import (
    CONNECTORS,
    PARTICLES,
    SUFFIXES,
    WIDOW,
    given_words,
    name_as_read,
    words_of,
)
from person_matching.names_data import given_frequency, given_name_forms, known_given_names, surname_frequency


class Named(Protocol):
    """What blocking reads of a person: the names (see ``matching.Person`` for the whole record)."""

    @property
    def given_names(self) -> str: ...
    @property
    def surnames(self) -> list[str]: ...
    @property
    def aliases(self) -> list[str]: ...


# -- how many keys one person has ------------------------------------------------------------------
#
# Keys pair surname forms with given-name forms and surnames with each other, so their number grows
# with the product of a name's words. Within the contract (500 characters a field, 50 aliases) that was
# 220 MB for one person (issue 17). What is read of a name is bounded first (``names.MAX_GIVEN_WORDS``
# and the others), and then the keys of one person: when a person's keys would be more than the budget,
# the person is read narrower until they fit, always the same way: the later aliases dropped first
# (half of them at a time), then each field cut to its first 3, 2, 1 words. The budgets are far above
# real names (labelled sets: at most 908 filing, 125 lookup and 136 surname keys; a fugitive with 16
# aliases 726 and 459), so no labelled pair is lost (tested); a name cut to fit is still found by its
# first words: its given name and paternal surname.
MAX_FILING_KEYS = 4000  # a stored person's ``index_keys`` (some 100 KB at most, on 4 cards)
MAX_LOOKUP_KEYS = 500  # a lookup's keys: one indexed query each
MAX_SURNAME_KEYS = 500  # ``blocking_keys``: stored with a record and looked up, one query each


@dataclass(frozen=True)
class _Name:
    """A name as read (see ``names.name_as_read``)."""

    given_names: str
    surnames: list[str]
    aliases: list[str]


def _narrowed(person: Named) -> Iterator[_Name]:
    """The person as read, then ever narrower: fewer aliases (the later ones first), then fewer words."""
    given, surnames, aliases = name_as_read(person.given_names, person.surnames, person.aliases)
    kept = len(aliases)
    yield _Name(given, surnames, aliases)
    while kept:
        kept //= 2
        yield _Name(given, surnames, aliases[:kept])
    for words in (3, 2, 1):
        yield _Name(*name_as_read(given, surnames, [], given_limit=words, surname_limit=words))


def _fitting(budget: int, person: Named, keys_of: Callable[[_Name], Iterable[str]]) -> list[str]:
    """The keys of the widest reading of ``person`` that has at most ``budget`` of them, sorted. A reading
    is given up as soon as it passes the budget, so finding the one that fits costs a few budgets."""
    last = None
    for name in _narrowed(person):
        keys: set[str] = set()
        for key in keys_of(name):
            keys.add(key)
            if len(keys) > budget:
                break
        else:
            return sorted(keys)
        last = name
    assert last is not None
    return sorted(set(keys_of(last)))[:budget]  # not reached: one given word and one surname fit (tested)


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


@lru_cache(maxsize=1 << 16)  # surnames repeat, and a name read narrower is coded again
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
    """A person's blocking keys, at most ``MAX_SURNAME_KEYS`` (see ``_fitting``)."""
    return _fitting(MAX_SURNAME_KEYS, person, lambda name: _blocking_keys(name, birth_year, slips))


def _surname_codes(person: Named) -> set[str]:
    """The phonetic codes of every surname form of the person's name (see the module's docstring)."""
    surname_words = [w for s in person.surnames for w in words_of(s)]
    given, _ = given_words(person.given_names)
    forms = _surname_forms(surname_words)
    # Given names that could be surnames: swapped fields, the maternal surname or the maiden name as a
    # middle name, the whole name in one field.
    extra = [w for w in given if _surname_like(w)] + (given if not surname_words else [])
    forms |= set(extra)
    for alias in person.aliases:
        forms |= _surname_forms(words_of(alias)[1:])
    if given and surname_words:  # the surname field may hold the given names (fields swapped)
        forms |= {w for w in surname_words if w not in PARTICLES and not _surname_like(w)}
    return {phonetic(form) for form in forms if form not in PARTICLES and len(form) >= 2}


def _blocking_keys(person: Named, birth_year: int | None = None, slips: bool = True) -> Iterator[str]:
    codes = _surname_codes(person)
    given, _ = given_words(person.given_names)
    keys: Iterable[str] = (f"s:{v}" for code in codes for v in (_one_slip(code) if slips else (code,)))
    if not codes and given:  # no usable surname: the first given name stands in
        keys = [f"g:{phonetic(given[0])}"]
    for key in keys:
        yield key
        if birth_year is not None:
            yield f"{key}@{birth_year}"


def _exact(person: Named) -> list[str]:
    """The blocking keys without slips: as many as the surname forms a name as read has (a few hundred)."""
    return sorted(set(_blocking_keys(person, slips=False)))


# -- the fugitive index: keys filed with a stored person, keys a new person is looked up by ------------
#
# The matcher calls two people born on different days ``no_match`` unless the dates are a day apart or
# have day and month swapped, two people born in different years ``no_match`` when one date is known to
# the year only, and two people whose given names do not agree ``no_match`` whatever the dates. So a
# dated person is filed under its surname keys on each date the matcher accepts for its full date of
# birth (a lookup asks its own date only: lookups cost more than keys), or with its year when only the
# year is known; and every person under its name keys (surname and a form of a given name): bare, for
# a lookup without a date; with its year (``~``) when the date is full, for a lookup with the year
# only; with ``?`` when it has no date, for a dated lookup, as are its surname pairs (a given name
# misspelt). The undated are read by name, not by surname: at 100,000 fugitives a common surname's
# undated block held hundreds, split by given name or paired with another surname it holds a handful.

UNDATED = "?"


def _full(birth: BirthDate | None) -> date | None:
    if birth is None or birth.precision is not Precision.DAY or birth.placeholder:
        return None
    return date(birth.year, birth.month or 1, birth.day or 1)


def _near(day: date) -> set[str]:
    """The dates the matcher takes for this one: itself, a day either side, day and month swapped."""
    near = {day, day - timedelta(days=1), day + timedelta(days=1)}
    if day.day <= 12 and day.day != day.month:
        near.add(date(day.year, day.day, day.month))
    return {d.isoformat() for d in near}


def _anagrams(exact: list[str]) -> set[str]:
    """A surname code's letters in order: two letters swapped (Anderson, Andreson) give the same key."""
    return {"a:" + "".join(sorted(k[2:])) for k in exact if k.startswith("s:")}


def _name_keys(codes: Iterable[str], given: set[str]) -> Iterator[str]:
    """Surname codes (letters in order: two codes alike, or two letters swapped, share them) each with a
    given-name key (see ``_given_keys``): a common surname's block split by given name."""
    for code in codes:
        if given:
            yield from (f"{code}+{g}" for g in given)
        else:
            yield code


MANY_FORMS = 3  # more, and a name is asked as ``=name``: Ana (26 forms), María (13), Juan (11)


@cache
def _sharing() -> dict[str, frozenset[str]]:
    """For each form, the given names with more than ``MANY_FORMS`` forms that have it."""
    vocabulary = known_given_names()
    out: dict[str, set[str]] = {}
    for name in vocabulary:
        forms = given_name_forms(name)
        if len(forms) > MANY_FORMS:
            for form in forms:
                out.setdefault(form, set()).add(name)
    return {k: frozenset(v) for k, v in out.items()}


def _given_keys(person: Named, lookup: bool) -> set[str]:
    """Two given names agree when they share a form (José, Pepe and Joseph share ``jose``). A stored
    person is filed under its forms and under ``=name`` for each name of many forms sharing one of them;
    a lookup asks a name of many forms as ``=name``, one key (it was 26 for Ana), any other by its
    forms. Still any two names sharing a form share a key (tested over every name), and a stored
    person is read once, not once a shared form."""
    words = _given_words(person)
    if lookup:
        return {f"={w}" if len(given_name_forms(w)) > MANY_FORMS else f for w in words for f in given_name_forms(w)}
    forms = {f for w in words for f in given_name_forms(w)}
    return forms | {f"={n}" for f in forms for n in _sharing().get(f, ())}


def _codes(exact: list[str]) -> set[str]:
    return _anagrams(exact) | {k for k in exact if not k.startswith("s:")}


def _pair_keys(exact: list[str]) -> Iterator[str]:
    """Two surname codes' letters in order, together: a block of a handful of the undated even for the
    commonest surnames, that finds them whatever their given names (one a typing slip of the other,
    the given names in the surname field)."""
    return (f"{a}&{b}" for a, b in combinations(sorted(_anagrams(exact)), 2))


def _given_words(person: Named) -> list[str]:
    """The words that may be given names: the given-names field and the surname field's words more
    often given names (the fields swapped); or (the whole name in the surname field) all its words."""
    given, _ = given_words(person.given_names)
    surnames = [w for s in person.surnames for w in words_of(s) if w not in PARTICLES and w not in CONNECTORS]
    if given:
        return given + [w for w in surnames if not _surname_like(w)]
    return surnames


def _sorted_slips(exact: list[str]) -> Iterator[str]:
    """Each surname code and each code with one letter left out, its letters in order; other keys as
    they are."""
    for key in exact:
        yield from _slips_in_order(key[2:]) if key.startswith("s:") else (key,)


@lru_cache(maxsize=1 << 14)
def _slips_in_order(code: str) -> frozenset[str]:
    return frozenset("a:" + "".join(sorted(v)) for v in _one_slip(code))


def index_keys(person: Named, birth: BirthDate | None) -> list[str]:
    """The keys a stored person (a fugitive, a detained person) is filed under, at most ``MAX_FILING_KEYS``
    (see ``_fitting``).

    Its name keys (surname codes with given-name keys, ``_given_keys``) bare; and with ``?`` when it has
    no date, with its surname pairs. With a date: its surname codes and each with one letter left out,
    letters in order, on each date the matcher accepts for its full date of birth (itself, a day either
    side, day and month swapped) or with its year when only the year is known; and with a full date,
    its name keys with its year (``~``).
    """
    return _fitting(MAX_FILING_KEYS, person, lambda name: _index_keys(name, birth))


def _index_keys(person: Named, birth: BirthDate | None) -> Iterator[str]:
    exact = _exact(person)
    codes, given = _codes(exact), _given_keys(person, lookup=False)
    if birth is None:
        for name in _name_keys(codes, given):
            yield from (name, f"{name}@{UNDATED}")
        yield from (f"{pair}@{UNDATED}" for pair in _pair_keys(exact))
        return
    full = _full(birth)
    tags = _near(full) if full else {str(birth.year)}
    yield from (f"{k}@{t}" for k in _sorted_slips(exact) for t in tags)
    for name in _name_keys(codes, given):
        yield name
        if full is not None:
            yield f"{name}@{birth.year}~"


def lookup_keys(person: Named, birth: BirthDate | None) -> list[str]:
    """The keys that find every stored person the matcher may take for this one, at most
    ``MAX_LOOKUP_KEYS`` (see ``_fitting``).

    With a full date: its surname codes' letters in order (the stored code, a letter of it left out,
    or two letters swapped) on its date (the stored dates near it) and in its years (the stored
    year-only). With the year only: the name keys in that year (the stored full dates) and the surname
    codes with the year. Without a date: the name keys, in any year. With a date, also the name keys
    and surname pairs with ``?`` (the stored undated).
    Surnames a letter *substituted* apart (Serrano, Serrato) are not looked at: the labelled sets hold
    them only as different families; every pair labelled one person is found, either way round (tested).
    """
    return _fitting(MAX_LOOKUP_KEYS, person, lambda name: _lookup_keys(name, birth))


def _lookup_keys(person: Named, birth: BirthDate | None) -> Iterator[str]:
    exact = _exact(person)
    surnames = _codes(exact)
    given = _given_keys(person, lookup=True)
    if birth is None:
        yield from _name_keys(surnames, given)
        return
    full = _full(birth)
    if full is None:
        yield from (f"{k}@{birth.year}" for k in surnames)
        yield from (f"{n}@{birth.year}~" for n in _name_keys(surnames, given))
    else:
        tags = {full.isoformat()} | {str(int(d[:4])) for d in _near(full)}
        yield from (f"{k}@{t}" for k in surnames for t in tags)
    yield from (f"{n}@{UNDATED}" for n in _name_keys(surnames, given))
    yield from (f"{p}@{UNDATED}" for p in _pair_keys(exact))
