"""Binational person matching: the same person as written by agencies in either country.

Handles Spanish and English naming conventions: two surnames (paternal, maternal) or one; names in
either order; the whole name in one field; the maternal surname carried as a middle name; compound and
joined surnames (de la Cruz, San Martín, Ponce de León, de la O); a woman's married names; particles,
accents and case; nicknames and equivalents across the two languages (Pepe, Joe, José); aliases; dates
of birth known to the day, the month or the year only.

Every comparison ends in one of three decisions with a score and its reasons:
``match`` (the same person), ``possible`` (an analyst should look: a common name without a date that
tells people apart, a partial date, twins-like records, an inferred married name) or ``no_match``.

Pure functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from math import prod
from typing import Protocol

from person_matching.blocking import Named
from person_matching.dates import NARROWING, BirthDate, DateAgreement, Precision, compare_dates
from person_matching.names import PARTICLES, Reading, Surname, name_as_read, readings, words_of
from person_matching.names_data import (
    compound_forms,
    equivalent_given,
    female_share,
    given_frequency,
    surname_frequency,
)
from person_matching.similarity import both_real_surnames, given_similarity, jaro_winkler, surname_similarity

__all__ = [
    "MATCH_THRESHOLD",
    "Decision",
    "MatchResult",
    "Person",
    "PersonRecord",
    "equivalent_given",
    "jaro_winkler",
    "match_people",
    "match_persons",
    "person_key",
    "surname_keys",
    "tokens",
]


class Person(Named, Protocol):
    """A person as any agency's record names them (Alliance's ``Person`` contract satisfies this)."""

    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def nationality(self) -> str | None: ...


MATCH_THRESHOLD = 0.80  # name agreement needed for a match; below it (down to NAME_FLOOR) a possible match
NAME_FLOOR = 0.70
SURNAME_AGREES = 0.88
GIVEN_AGREES = 0.85
# People in both countries (US 2020 census, Mexico 2020 census) among whom a name's frequency is spread.
POPULATION = 331_000_000 + 126_000_000
# A name, with whatever the dates of birth agree on, expected to be carried by more people than this in the
# two countries does not identify anyone by itself: the pair goes to an analyst. Juan Pérez with a full date
# of birth (about 3) matches; with the year only (about 1,200) or no date, it does not. matching/README.md shows how
# precision and recall move with this figure.
MAX_NAMESAKES = 5.0


class Decision(StrEnum):
    MATCH = "match"
    POSSIBLE = "possible"  # analyst review
    NO_MATCH = "no_match"


@dataclass(frozen=True)
class MatchResult:
    decision: Decision
    score: float  # in [0, 1]: at least 0.8 for a match, 0.5 to 0.8 for a possible match, below 0.5 otherwise
    reasons: list[str]

    @property
    def match(self) -> bool:
        return self.decision is Decision.MATCH

    @property
    def possible(self) -> bool:
        return self.decision is Decision.POSSIBLE


@dataclass(frozen=True)
class PersonRecord:
    given_names: str
    surnames: list[str]
    date_of_birth: date | None = None  # the full date when it is known to the day
    birth: BirthDate | None = None
    nationality: str | None = None
    aliases: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, person: Person) -> PersonRecord:
        return cls.parse(person.given_names, person.surnames, person.date_of_birth, person.nationality, person.aliases)

    @classmethod
    def parse(
        cls,
        given_names: str,
        surnames: str | list[str],
        dob: str | date | None = None,
        nationality: str | None = None,
        aliases: list[str] | None = None,
    ) -> PersonRecord:
        """Accepts surnames as a list or a string, 'SURNAMES, GIVEN' in one field, and partial dates."""
        surname_list = [surnames] if isinstance(surnames, str) else list(surnames)
        surname_list = [s for s in surname_list if s.strip()]
        if not surname_list and "," in given_names:
            left, right = given_names.split(",", 1)
            surname_list, given_names = [left], right
        # What is read of the name (see ``names.MAX_GIVEN_WORDS``): the matcher's work stays bounded.
        given_names, surname_list, alias_list = name_as_read(given_names, surname_list, list(aliases or []))
        birth = BirthDate.of(dob if dob else None)
        full = (
            date(birth.year, birth.month or 1, birth.day or 1)
            if birth and birth.precision is Precision.DAY and not birth.placeholder
            else None
        )
        return cls(
            given_names=given_names,
            surnames=surname_list,
            date_of_birth=full,
            birth=birth,
            nationality=(nationality or "").strip().upper() or None,
            aliases=alias_list,
        )


def tokens(text: str) -> list[str]:
    """Folded words without particles: 'De la Garza-Ruíz' → ['garza', 'ruiz']."""
    return [t for t in words_of(text) if t not in PARTICLES and t not in {"y", "e"}]


def person_key(person: Person) -> str:
    """The same person written the same way: folded names without particles, and date of birth."""
    return "|".join(
        [
            *tokens(person.given_names),
            *[t for s in person.surnames for t in tokens(s)],
            person.date_of_birth.isoformat() if person.date_of_birth else "",
        ]
    )


def surname_keys(person: Person) -> list[str]:
    """Blocking keys for finding candidates before comparing them (see :mod:`person_matching.blocking`)."""
    from person_matching.blocking import blocking_keys

    return blocking_keys(person)


def filing_keys(person: Person) -> list[str]:
    """The keys a stored person is filed under in an index of people (see :func:`blocking.index_keys`)."""
    from person_matching.blocking import index_keys

    record = PersonRecord.of(person)
    return index_keys(record, record.birth)


def finding_keys(person: Person) -> list[str]:
    """The keys that find, in such an index, everyone the matcher may call match or possible."""
    from person_matching.blocking import lookup_keys

    record = PersonRecord.of(person)
    return lookup_keys(record, record.birth)


def match_persons(left: Person, right: Person, threshold: float = MATCH_THRESHOLD) -> MatchResult:
    return match_people(PersonRecord.of(left), PersonRecord.of(right), threshold)


def may_be_the_same(left: Person, right: Person) -> bool:
    """Whether the matcher calls the two ``match`` or ``possible`` (in that order, as they are compared):
    an index of people loads only these candidates."""
    return match_persons(left, right).decision is not Decision.NO_MATCH


# -- comparing names ------------------------------------------------------------------------------


class Given(StrEnum):
    FULL = "full"  # every given name agrees
    PARTIAL = "partial"  # one record has given names the other lacks
    TWINS = "twins"  # the first agrees, a later one differs: Juan Carlos / Juan Pablo
    SEXES = "sexes"  # names of a man and of a woman
    NONE = "none"


@dataclass(frozen=True)
class NameAgreement:
    score: float
    reasons: list[str]
    given: Given = Given.NONE
    frequencies: tuple[float, ...] = ()  # per million, of each part of the name that agrees
    married: str | None = None  # "explicit" (de, vda. de) or "inferred"
    caution: str | None = None  # a reason the names alone should not decide


def _given_variants(given: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Chema → José María: a one-word nickname of a compound name stands for both its words."""
    return [given, *((*compound, *given[1:]) for compound in compound_forms(given[0]))] if given else [given]


def _compare_given(lg: tuple[str, ...], rg: tuple[str, ...]) -> tuple[float, Given, str, tuple[float, ...]]:
    best: tuple[float, Given, str, tuple[float, ...]] = (0.0, Given.NONE, "", ())
    rank = [Given.FULL, Given.PARTIAL, Given.TWINS, Given.SEXES, Given.NONE]
    for lv in _given_variants(lg):
        for rv in _given_variants(rg):
            found = _compare_given_lists(lv, rv)
            if (rank.index(found[1]), -found[0]) < (rank.index(best[1]), -best[0]):
                best = found
    return best


def _frequency_of(a: str, b: str) -> float:
    return max(given_frequency(a), given_frequency(b))  # the formal name's, when one is a nickname


def _compare_given_lists(lg: tuple[str, ...], rg: tuple[str, ...]) -> tuple[float, Given, str, tuple[float, ...]]:
    first = given_similarity(lg[0], rg[0])
    if first < GIVEN_AGREES:
        if given_similarity(lg[0], rg[0]) == 0.0 and _opposite(lg[0], rg[0]):
            return 0.0, Given.SEXES, f"given names of a man and of a woman ({lg[0]} / {rg[0]})", ()
        shorter, longer = sorted((lg, rg), key=len)
        if len(shorter) == 1 and any(given_similarity(shorter[0], w) >= GIVEN_AGREES for w in longer[1:]):
            return 0.9, Given.PARTIAL, f"goes by a later given name ({shorter[0]})", (given_frequency(shorter[0]),)
        return first, Given.NONE, f"given names differ ({' '.join(lg)} / {' '.join(rg)})", ()
    freqs = [_frequency_of(lg[0], rg[0])]
    for a, b in zip(lg[1:], rg[1:], strict=False):
        if given_similarity(a, b) < GIVEN_AGREES:
            why = "of a man and of a woman" if _opposite(a, b) else "differ"
            return first, Given.TWINS, f"later given names {why} ({a} / {b})", tuple(freqs)
        freqs.append(_frequency_of(a, b))
    if lg[0] != rg[0] and equivalent_given(lg[0], rg[0]):
        reason = f"given name {lg[0]} ~ {rg[0]} (nickname or equivalent)"
    else:
        reason = "given names match" if first > 0.99 else f"given name similar ({first:.2f})"
    if len(lg) != len(rg):
        extra = (lg if len(lg) > len(rg) else rg)[min(len(lg), len(rg)) :]
        return first, Given.PARTIAL, f"{reason}; {' '.join(extra)} on one record only", tuple(freqs)
    return first, Given.FULL, reason, tuple(freqs)


def _opposite(a: str, b: str) -> bool:
    from person_matching.similarity import opposite_sexes

    return opposite_sexes(a, b)


def _unit_frequency(s: Surname) -> float:
    return max(surname_frequency(s.full), surname_frequency("".join(s.core)))


def _best(unit: Surname, candidates: list[Surname]) -> tuple[float, int]:
    scored = [(surname_similarity(unit, c), i) for i, c in enumerate(candidates)]
    return max(scored, default=(0.0, -1))


def _compare_readings(left: Reading, right: Reading) -> NameAgreement:
    """Score two readings of two names in [0, 1], with reasons."""
    ls, rs = left.surnames, right.surnames
    # A surname may sit among the other record's middle names (the maternal one, in US records).
    l_words = [*ls, *(Surname((g,)) for g in left.given[1:])]
    r_words = [*rs, *(Surname((g,)) for g in right.given[1:])]
    pat_l, at_r = _best(ls[0], r_words)
    pat_r, at_l = _best(rs[0], l_words)
    paternal = min(pat_l, pat_r)
    if paternal < SURNAME_AGREES:
        return NameAgreement(paternal * 0.5, [f"paternal surname differs ({ls[0]} / {rs[0]})"])
    reasons = ["paternal surname matches" if paternal > 0.99 else f"paternal surname similar ({paternal:.2f})"]
    caution = None
    if paternal < 1.0 and both_real_surnames("".join(ls[0].core), "".join(rs[0].core)):
        caution = f"surnames {ls[0]} / {rs[0]} are each a family name of their own"
    used_l, used_r = {at_l}, {at_r}
    score = 0.45 * paternal
    freqs = [_unit_frequency(ls[0])]
    if len(ls) > 1 and len(rs) > 1:
        maternal, at = _best(ls[1], list(rs[1:]))
        if maternal >= SURNAME_AGREES:
            score += 0.15
            reasons.append("maternal surname matches")
            freqs.append(_unit_frequency(ls[1]))
        else:
            score -= 0.25
            reasons.append(f"maternal surname differs ({ls[1]} / {rs[1]})")
    elif len(ls) > 1 or len(rs) > 1:
        longer, other_words, offset = (ls, r_words, len(rs)) if len(ls) > 1 else (rs, l_words, len(ls))
        middle, at = _best(longer[1], other_words[offset:])
        if middle >= 0.92:
            score += 0.12
            reasons.append("maternal surname written as a middle name")
            freqs.append(_unit_frequency(longer[1]))
            (used_r if longer is ls else used_l).add(offset + at)
        else:
            score += 0.05
            reasons.append("one record has a single surname")
    married = None
    if left.husband or right.husband:
        married = "inferred" if any("read as" in r.how for r in (left, right) if r.husband) else "explicit"
        if left.husband and right.husband:
            if surname_similarity(left.husband, right.husband) >= SURNAME_AGREES:
                reasons.append("same husband's surname")
            else:
                score -= 0.1
                reasons.append(f"different husband's surnames ({left.husband} / {right.husband})")
    # Given names, without the middle names that turned out to be the other record's surnames.
    lg = tuple(g for i, g in enumerate(left.given) if i == 0 or len(ls) + i - 1 not in used_l)
    rg = tuple(g for i, g in enumerate(right.given) if i == 0 or len(rs) + i - 1 not in used_r)
    given_score, given, given_reason, given_freqs = _compare_given(lg, rg)
    reasons.append(given_reason)
    if given in {Given.NONE, Given.SEXES}:
        return NameAgreement(score * 0.5, reasons, given)
    score += 0.40 * given_score
    for how in dict.fromkeys(r.how for r in (left, right) if r.how):
        reasons.insert(0, how)
        score -= 0.03
    return NameAgreement(min(score, 1.0), reasons, given, (*given_freqs, *freqs), married, caution)


def _is_woman(reading: Reading) -> bool:
    share = female_share(reading.given[0]) if reading.given else None
    return share >= 0.5 if share is not None else reading.given[0].endswith("a") if reading.given else False


def _readings(record: PersonRecord) -> tuple[Reading, ...]:
    return _readings_of(record.given_names, tuple(record.surnames), tuple(record.aliases))


# Readings of one record compared at most: two records are compared reading by reading, so this bounds a
# comparison's work (at most MAX_READINGS squared pairs of at most a few dozen words). The labelled sets'
# names have at most 8 readings; the record as written comes first, then the other ways of reading it,
# then the aliases in order.
MAX_READINGS = 32


@lru_cache(maxsize=1 << 14)  # a person looked up is compared with every candidate: read once
def _readings_of(given_names: str, surnames: tuple[str, ...], aliases: tuple[str, ...]) -> tuple[Reading, ...]:
    found = [r for r in readings(given_names, list(surnames)) if r.husband is None or _is_woman(r)]
    for alias in aliases:
        words = tokens(alias)
        if len(words) >= 2:
            found.append(Reading((words[0],), tuple(Surname((w,)) for w in words[1:]), how=f"alias '{alias}'"))
    return tuple(found[:MAX_READINGS])


def compare_names(left: PersonRecord, right: PersonRecord) -> tuple[NameAgreement, Reading | None, Reading | None]:
    best = NameAgreement(0.0, ["no name to compare"])
    pair: tuple[Reading | None, Reading | None] = (None, None)
    rights = _readings(right)
    for lr in _readings(left):
        for rr in rights:
            if "other order" in lr.how and "other order" in rr.how:
                continue  # swapping both sides compares surnames as given names
            found = _compare_readings(lr, rr)
            if found.score > best.score:
                best, pair = found, (lr, rr)
    return best, pair[0], pair[1]


# -- deciding -------------------------------------------------------------------------------------


def namesakes(frequencies: tuple[float, ...], agreement: DateAgreement) -> float:
    """How many people in the two countries would be expected to share what agrees: the name's parts and
    whatever the dates of birth agree on."""
    if not frequencies:
        return POPULATION
    return POPULATION * prod(f / 1e6 for f in frequencies) * NARROWING[agreement]


def _suffix_conflict(left: Reading | None, right: Reading | None) -> tuple[bool, bool]:
    """(Jr. against Sr. or III: different people; Jr. on one record only: father or son, unknown)."""
    a, b = (left.suffix if left else None), (right.suffix if right else None)
    return (a is not None and b is not None and a != b), (a is None) != (b is None)


def _band(low: float, high: float, strength: float) -> float:
    return round(low + (high - low) * max(0.0, min(strength, 1.0)), 3)


def match_people(left: PersonRecord, right: PersonRecord, threshold: float = MATCH_THRESHOLD) -> MatchResult:
    """Decide whether two records are the same person: match, possible (analyst review) or no match."""
    names, lr, rr = compare_names(left, right)
    agreement, date_reason = compare_dates(left.birth, right.birth)
    reasons = list(names.reasons)
    if date_reason:
        reasons.append(date_reason)
    score = names.score
    if left.nationality and right.nationality:
        if left.nationality == right.nationality:
            score += 0.02
            reasons.append("same nationality")
        else:
            score -= 0.05
            reasons.append(f"different nationality ({left.nationality} / {right.nationality})")
    different_suffix, one_suffix = _suffix_conflict(lr, rr)

    def no_match(why: str | None = None) -> MatchResult:
        return MatchResult(Decision.NO_MATCH, _band(0.0, 0.49, score), [*reasons, *([why] if why else [])])

    if agreement is DateAgreement.CONFLICT:
        return no_match()
    if names.given in {Given.NONE, Given.SEXES} or score < NAME_FLOOR:
        return no_match()
    if different_suffix:
        return no_match(f"generational suffixes differ ({lr and lr.suffix} / {rr and rr.suffix})")
    day_agrees = agreement in {DateAgreement.DAY, DateAgreement.TRANSPOSED}
    expected = namesakes(names.frequencies, agreement)
    review: list[str] = []
    if names.given is Given.TWINS:
        if not day_agrees:
            return no_match()
        review.append("twins-like: same surnames and date of birth, later given names differ")
    if score < threshold:
        review.append("names agree only in part")
    if expected > MAX_NAMESAKES:
        date_part = {
            DateAgreement.UNKNOWN: "no date of birth on both records",
            DateAgreement.YEAR: "only the year of birth to compare",
            DateAgreement.NEAR_DAY: "only the year of birth to compare",
            DateAgreement.MONTH: "only the month of birth to compare",
        }.get(agreement, "a date of birth")
        review.append(f"common name with {date_part}: about {expected:,.0f} people expected to share it")
    if names.married == "inferred" and not day_agrees:
        review.append("married name inferred without a full date of birth to confirm it")
    if names.caution and not day_agrees:
        review.append(names.caution)
    if one_suffix and not day_agrees:
        review.append("Jr./Sr. on one record only: father or son cannot be told apart without a full date")
    if agreement is DateAgreement.NEAR_DAY:
        review.append("dates of birth a day apart")
    # How sure, within each band: name agreement and how few people share the name and date.
    identifies = 1 / (1 + expected / MAX_NAMESAKES)
    if review:
        return MatchResult(
            Decision.POSSIBLE, _band(0.5, 0.79, (score - NAME_FLOOR) / 0.3 * identifies), reasons + review
        )
    return MatchResult(Decision.MATCH, _band(0.8, 1.0, (score - threshold) / 0.2 * 0.5 + (identifies - 0.5)), reasons)
