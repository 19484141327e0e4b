"""Reading a person's name the ways agencies on either side of the border write it.

A record can be read several ways and the matcher tries each: surnames as written; a compound surname
("Ponce de León", "Montes de Oca") kept whole or split; a woman's married forms ("García de Pérez",
"García Vda. de Pérez", the husband's surname in place of the maternal one, the maiden surname moved
among the given names); given names and surnames in each other's fields; the whole name in one field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from person_matching.text import fold

# Words that belong to the surname after them: de la Cruz, San Martín, de los Santos, Van Dyke.
PARTICLES = frozenset(
    {"de", "del", "la", "las", "los", "da", "do", "dos", "das", "van", "von", "di", "du", "le", "mc", "mac"}
    | {"san", "santa", "santo"}
)
CONNECTORS = frozenset({"y", "e", "i"})  # Ortega y Gasset: joins two surnames, carries nothing
WIDOW = frozenset({"vda", "viuda", "vd"})
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "junior", "senior"})
GIVEN_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y"})  # María de los Ángeles
ABBREVIATIONS = {"ma": "maria", "ma.": "maria", "j": "j", "fco": "francisco", "jse": "jose", "gpe": "guadalupe"}


@dataclass(frozen=True)
class Surname:
    """One surname: its main word and the particles before it (de la Cruz → core 'cruz', full 'delacruz');
    a compound surname keeps all its words (Ponce de León → full 'poncedeleon')."""

    words: tuple[str, ...]  # folded, particles included

    @property
    def full(self) -> str:
        return "".join(self.words)

    @property
    def core(self) -> tuple[str, ...]:
        return tuple(w for w in self.words if w not in PARTICLES) or self.words[-1:]

    def __str__(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True)
class Reading:
    given: tuple[str, ...]
    surnames: tuple[Surname, ...]  # birth surnames: paternal first, then maternal
    husband: Surname | None = None  # a married woman's husband's surname
    how: str = ""  # how the record was read, for the reasons; empty when read as written
    suffix: str | None = None  # Jr., Sr., III


def words_of(text: str) -> list[str]:
    text = text.replace("'", "").replace("\u2019", "")  # O'Connor → OConnor
    return fold(text.replace("-", " ").replace(".", " . ")).replace(" . ", " ").split()


# -- how much of a name is read --------------------------------------------------------------------
#
# The contract lets a name field hold 500 characters (some 166 two-letter words) and a person 50 aliases.
# Keys built from every run of such a name's words, and comparisons of every reading of it, grow with
# the square of its words or worse: one detained person made 220 MB of filing keys (issue 17). So a name
# is read to its first words, which hold the given name and the paternal surname; the rest is kept on
# the record but neither filed nor compared. Real names need far fewer: the labelled sets have at most
# 5 words in a field and 15 letters in a word, so nothing in them is cut (a test checks it).
MAX_GIVEN_WORDS = 6  # María de los Ángeles del Carmen
MAX_SURNAME_WORDS = 6  # in each surname field: Fernández de Córdoba y Mendoza, Ponce de León y Cruz
MAX_ALIASES = 20  # the first ones
MAX_ALIAS_WORDS = 6
MAX_WORD_LETTERS = 30  # a longer word is cut to its first letters


@lru_cache(maxsize=4096)  # the same names are read again with each comparison: fold them once
def first_words(text: str, limit: int) -> str:
    """The text as read: its first ``limit`` words, each of at most ``MAX_WORD_LETTERS`` letters (the
    text itself when it is within both)."""
    words = words_of(text)
    if len(words) <= limit and all(len(w) <= MAX_WORD_LETTERS for w in words):
        return text
    return " ".join(w[:MAX_WORD_LETTERS] for w in words[:limit])


def name_as_read(
    given_names: str,
    surnames: list[str],
    aliases: list[str],
    given_limit: int = MAX_GIVEN_WORDS,
    surname_limit: int = MAX_SURNAME_WORDS,
) -> tuple[str, list[str], list[str]]:
    """A person's name fields cut to what is read of them: the first words of each field (see
    ``MAX_GIVEN_WORDS`` and the others)."""
    return (
        first_words(given_names, given_limit),
        [first_words(surname, surname_limit) for surname in surnames],
        [first_words(alias, MAX_ALIAS_WORDS) for alias in aliases[:MAX_ALIASES]],
    )


def given_words(text: str) -> tuple[list[str], str | None]:
    """Folded given names without particles, abbreviations spelled out, and any Jr./Sr. suffix."""
    words, suffix = [], None
    for w in words_of(text):
        if w in SUFFIXES:
            suffix = "jr" if w in {"jr", "junior"} else "sr" if w in {"sr", "senior"} else w
        elif w not in GIVEN_PARTICLES:
            words.append(ABBREVIATIONS.get(w, w))
    return words, suffix


def surname_units(words: list[str]) -> list[Surname]:
    """Particles join the word after them; connectors and widow markers are left to the caller."""
    units: list[Surname] = []
    pending: list[str] = []
    for w in words:
        if w in PARTICLES:
            pending.append(w)
        else:
            units.append(Surname((*pending, w)))
            pending = []
    if pending:  # a trailing particle ("de la O" typed as "de la"): keep it as a word
        units.append(Surname(tuple(pending)))
    return units


def _join(a: Surname, b: Surname) -> Surname:
    return Surname((*a.words, *b.words))


def _surname_readings(words: list[str], married: bool = True) -> list[tuple[tuple[Surname, ...], Surname | None, str]]:
    """(birth surnames, husband's surname, how) for the surname words of a record."""
    words = [w for w in words if w not in CONNECTORS]
    widow_at = next((i for i, w in enumerate(words) if w in WIDOW), None)
    if widow_at is not None:  # García Vda. de Pérez: the husband's surname follows the marker
        before, after = surname_units(words[:widow_at]), surname_units(words[widow_at + 1 :])
        husband = Surname(tuple(w for u in after for w in u.words)) if after else None
        return [(tuple(before[:2]), husband, "widow's name (vda. de)")]
    units = surname_units(words)
    readings: list[tuple[tuple[Surname, ...], Surname | None, str]] = [(tuple(units), None, "")]
    for i in range(len(units) - 1):
        nxt = units[i + 1]
        if nxt.words[0] in {"de", "del"} and units[i].words[0] not in PARTICLES:
            # "X de Y": a compound surname (Montes de Oca) or a married name (García de Pérez).
            compound = (*units[:i], _join(units[i], nxt), *units[i + 2 :])
            readings.append((compound, None, f"compound surname '{_join(units[i], nxt)}'"))
            if married:
                husband = Surname(tuple(w for w in nxt.words if w not in {"de", "del"}) or nxt.words)
                readings.append(((*units[: i + 1], *units[i + 2 :]), husband, f"married name (de {husband})"))
    if married and len(units) == 2 and units[1].words[0] not in {"de", "del"}:
        # The husband's surname in place of the maternal one.
        readings.append(((units[0],), units[1], f"married name: {units[1]} read as the husband's surname"))
    return readings


def readings(given_names: str, surnames: list[str]) -> list[Reading]:
    """Every way the record can be read; the first is the record as written."""
    given, suffix = given_words(given_names)
    surname_words = [w for s in surnames for w in words_of(s)]
    suffix_in_surname = [w for w in surname_words if w in SUFFIXES]
    if suffix_in_surname:
        suffix = suffix or ("jr" if suffix_in_surname[0] in {"jr", "junior"} else suffix_in_surname[0])
        surname_words = [w for w in surname_words if w not in SUFFIXES]
    out: list[Reading] = []
    if not surname_words or not given:  # the whole name in one field
        alone = given or [w for w in surname_words if w not in CONNECTORS]
        if not surname_words:
            alone = [w for w in words_of(given_names) if w not in SUFFIXES]
        for k in range(1, len(alone)):
            out += _with_surnames(_strip(alone[:k]), alone[k:], suffix, "whole name in one field, given names first")
            out += _with_surnames(_strip(alone[k:]), alone[:k], suffix, "whole name in one field, surnames first")
        return out
    out += _with_surnames(tuple(given), surname_words, suffix, "")
    if len(given) >= 2:  # the maiden surname moved among the given names (US practice for married women)
        for s, _, _ in _surname_readings(surname_words)[:1]:
            if len(s) == 1:
                out.append(
                    Reading(
                        tuple(given[:-1]),
                        (Surname((given[-1],)),),
                        s[0],
                        f"married name: {given[-1]} read as the maiden surname, {s[0]} as the husband's",
                        suffix,
                    )
                )
    # Given names and surnames entered in each other's fields ("GARZA LOPEZ" / "JOSE").
    swapped_given = [w for w in surname_words if w not in PARTICLES and w not in CONNECTORS]
    out += _with_surnames(tuple(swapped_given), given, suffix, "name written in the other order", married=False)
    return out


def _strip(words: list[str]) -> tuple[str, ...]:
    return tuple(w for w in words if w not in GIVEN_PARTICLES)


def _with_surnames(
    given: tuple[str, ...], surname_words: list[str], suffix: str | None, how: str, married: bool = True
) -> list[Reading]:
    if not given or not surname_words:
        return []
    result = []
    for surnames, husband, surname_how in _surname_readings(surname_words, married):
        if not surnames:
            continue
        label = "; ".join(h for h in (how, surname_how) if h)
        result.append(Reading(given, surnames, husband, label, suffix))
    return result
