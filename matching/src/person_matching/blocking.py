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
from datetime import date, timedelta
from functools import cache
from typing import Protocol

from person_matching.dates import BirthDate, Precision
from person_matching.names import CONNECTORS, PARTICLES, SUFFIXES, WIDOW, given_words, words_of
from person_matching.names_data import given_frequency, given_name_forms, known_given_names, surname_frequency


class Named(Protocol):
    """What blocking reads of a person: the names (see ``matching.Person`` for the whole record)."""

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


def _name_keys(person: Named, codes: set[str], lookup: bool = False) -> set[str]:
    """Surname codes (letters in order: two codes alike, or two letters swapped, share them) each with a
    given-name key (see ``_given_keys``): a common surname's block split by given name."""
    given = _given_keys(person, lookup)
    return {f"{k}+{g}" for k in codes for g in given} if given else codes


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


def _pair_keys(exact: list[str]) -> set[str]:
    """Two surname codes' letters in order, together: a block of a handful of the undated even for the
    commonest surnames, that finds them whatever their given names (one a typing slip of the other,
    the given names in the surname field)."""
    codes = sorted(_anagrams(exact))
    return {f"{a}&{b}" for i, a in enumerate(codes) for b in codes[i + 1 :]}


def _given_words(person: Named) -> list[str]:
    """The words that may be given names: the given-names field and the surname field's words more
    often given names (the fields swapped); or (the whole name in the surname field) all its words."""
    given, _ = given_words(person.given_names)
    surnames = [w for s in person.surnames for w in words_of(s) if w not in PARTICLES and w not in CONNECTORS]
    if given:
        return given + [w for w in surnames if not _surname_like(w)]
    return surnames


def _sorted_slips(exact: list[str]) -> set[str]:
    """Each surname code and each code with one letter left out, its letters in order; other keys as
    they are."""
    slips = {v for k in exact if k.startswith("s:") for v in _one_slip(k[2:])}
    return {"a:" + "".join(sorted(v)) for v in slips} | {k for k in exact if not k.startswith("s:")}


def index_keys(person: Named, birth: BirthDate | None) -> list[str]:
    """The keys a stored person (a fugitive, a detained person) is filed under.

    Its name keys (surname codes with given-name keys, ``_given_keys``) bare; and with ``?`` when it has
    no date, with its surname pairs. With a date: its surname codes and each with one letter left out,
    letters in order, on each date the matcher accepts for its full date of birth (itself, a day either
    side, day and month swapped) or with its year when only the year is known; and with a full date,
    its name keys with its year (``~``).
    """
    exact = blocking_keys(person, slips=False)
    names = _name_keys(person, _codes(exact))
    if birth is None:
        return sorted(names | {f"{n}@{UNDATED}" for n in names | _pair_keys(exact)})
    surnames = _sorted_slips(exact)
    full = _full(birth)
    tags = _near(full) if full else {str(birth.year)}
    keys = {f"{k}@{t}" for k in surnames for t in tags} | names
    if full is not None:
        keys |= {f"{n}@{birth.year}~" for n in names}
    return sorted(keys)


def lookup_keys(person: Named, birth: BirthDate | None) -> list[str]:
    """The keys that find every stored person the matcher may take for this one.

    With a full date: its surname codes' letters in order (the stored code, a letter of it left out,
    or two letters swapped) on its date (the stored dates near it) and in its years (the stored
    year-only). With the year only: the name keys in that year (the stored full dates) and the surname
    codes with the year. Without a date: the name keys, in any year. With a date, also the name keys
    and surname pairs with ``?`` (the stored undated).
    Surnames a letter *substituted* apart (Serrano, Serrato) are not looked at: the labelled sets hold
    them only as different families; every pair labelled one person is found, either way round (tested).
    """
    exact = blocking_keys(person, slips=False)
    surnames = _codes(exact)
    names = _name_keys(person, _codes(exact), lookup=True)
    if birth is None:
        return sorted(names)
    undated = {f"{n}@{UNDATED}" for n in names | _pair_keys(exact)}
    full = _full(birth)
    if full is None:
        return sorted({f"{n}@{birth.year}~" for n in names} | {f"{k}@{birth.year}" for k in surnames} | undated)
    tags = {full.isoformat()} | {str(int(d[:4])) for d in _near(full)}
    return sorted({f"{k}@{t}" for k in surnames for t in tags} | undated)
