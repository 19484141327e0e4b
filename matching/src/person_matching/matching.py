"""Binational person matching: the same person as written by agencies in either country.

Handles Spanish and English naming conventions: two surnames (paternal, maternal) or one; names in
either order ("HERNANDEZ GARZA, JOSE LUIS"); the maternal surname carried as a middle name;
hyphenated or joined surnames; particles (de, del, de la, y); accents and case; nicknames and the
usual equivalents across the two languages (Pepe, Joe, José); aliases; dates of birth with day and month
transposed, or only partly known. Every decision comes with a score and its reasons.

Pure functions, no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Protocol

from person_matching.text import fold


class Person(Protocol):
    """A person as any agency's record names them (Alliance's ``Person`` contract satisfies this)."""

    @property
    def given_names(self) -> str: ...
    @property
    def surnames(self) -> list[str]: ...
    @property
    def aliases(self) -> list[str]: ...
    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def nationality(self) -> str | None: ...


PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "do", "dos", "van", "von", "di", "mc"})
MATCH_THRESHOLD = 0.80
SWAPPED = "name written in the other order"


@cache
def _name_groups() -> dict[str, frozenset[str]]:
    data = json.loads(resources.files("person_matching").joinpath("data/given_names.json").read_text(encoding="utf-8"))
    groups: dict[str, set[str]] = {}
    for group in data["groups"]:
        for name in group:
            groups.setdefault(fold(name), set()).update(fold(n) for n in group)
    return {k: frozenset(v) for k, v in groups.items()}


def equivalent_given(a: str, b: str) -> bool:
    """José ~ Pepe ~ Joe: same group of formal name, nicknames and cross-language equivalent."""
    return b in _name_groups().get(a, frozenset()) or a in _name_groups().get(b, frozenset())


def tokens(text: str) -> list[str]:
    """Folded words without particles: 'De la Garza-Ruíz' → ['garza', 'ruiz']."""
    text = text.replace("'", "").replace("\u2019", "")  # O'Connor → OConnor
    return [t for t in fold(text.replace("-", " ")).split() if t not in PARTICLES]


def jaro_winkler(a: str, b: str) -> float:
    """Similarity of two words in [0, 1], tolerant of typos and transposed letters."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    a_hit, b_hit = [False] * len(a), [False] * len(b)
    matches = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not b_hit[j] and b[j] == ch:
                a_hit[i] = b_hit[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    a_seq = [c for c, hit in zip(a, a_hit, strict=True) if hit]
    b_seq = [c for c, hit in zip(b, b_hit, strict=True) if hit]
    transpositions = sum(x != y for x, y in zip(a_seq, b_seq, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def _word_similarity(a: str, b: str) -> float:
    if equivalent_given(a, b):
        return 1.0
    gendered = (len(a) > 2 and a[:-1] == b[:-1] and {a[-1], b[-1]} == {"a", "o"}) or a + "a" == b or b + "a" == a
    if gendered:
        return 0.5  # Francisco/Francisca, Juan/Juana, Daniel/Daniela: different people
    return jaro_winkler(a, b)


@dataclass(frozen=True)
class PersonRecord:
    given_names: str
    surnames: list[str]
    date_of_birth: date | None = None
    dob_text: str = ""  # partial dates such as "1985" or "1985-07" when the full date is unknown
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
        """Accepts surnames as a list or a string, and 'SURNAMES, GIVEN' written into one field."""
        if isinstance(surnames, str):
            surname_list = [s for s in surnames.replace(",", " ").split(" ") if s.strip()]
        else:
            surname_list = list(surnames)
        if not surname_list and "," in given_names:
            left, right = given_names.split(",", 1)
            surname_list, given_names = left.split(), right
        parsed: date | None = None
        text = ""
        if isinstance(dob, date):
            parsed = dob
        elif dob:
            text = dob.strip()
            try:
                parsed = date.fromisoformat(text)
            except ValueError:
                parsed = _day_month_swapped(text)
        return cls(
            given_names=given_names,
            surnames=surname_list,
            date_of_birth=parsed,
            dob_text=text,
            nationality=(nationality or "").strip().upper() or None,
            aliases=list(aliases or []),
        )


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
    """Folded surname words (aliases included), for finding candidates before comparing them."""
    words = {t for s in person.surnames for t in tokens(s)} | {t for a in person.aliases for t in tokens(a)[1:]}
    return sorted(words)


def match_persons(left: Person, right: Person, threshold: float = MATCH_THRESHOLD) -> MatchResult:
    return match_people(PersonRecord.of(left), PersonRecord.of(right), threshold)


def _day_month_swapped(text: str) -> date | None:
    """'1988-14-03' is 14 March 1988 written as YYYY-DD-MM."""
    try:
        year, first, second = (int(p) for p in text.split("-"))
        return date(year, second, first)
    except ValueError:
        return None


@dataclass(frozen=True)
class MatchResult:
    match: bool
    score: float
    reasons: list[str]


def _name_variants(person: PersonRecord) -> list[tuple[list[str], list[str], str]]:
    """(given tokens, surname tokens, label) for the name and for each alias."""
    surname_words = [t for s in person.surnames for t in tokens(s)]
    variants = [(tokens(person.given_names), surname_words, "name")]
    words = fold(" ".join(person.surnames).replace("-", " ")).split()
    joined = "".join(words)
    if any(w in PARTICLES for w in words) and [joined] != surname_words:
        variants.append((tokens(person.given_names), [joined], "name"))  # DELACRUZ for de la Cruz
    if surname_words and variants[0][0]:
        # Given names and surnames entered in each other's fields ("GARZA LOPEZ" / "JOSE").
        variants.append((surname_words, tokens(person.given_names), SWAPPED))
    for alias in person.aliases:
        words = tokens(alias)
        if len(words) >= 2:
            variants.append((words[:1], words[1:], f"alias '{alias}'"))
    return variants


def _best(word: str, candidates: list[str]) -> float:
    return max((_word_similarity(word, c) for c in candidates), default=0.0)


def _compare_names(lg: list[str], ls: list[str], rg: list[str], rs: list[str]) -> tuple[float, list[str]]:
    """Score two names in [0, 1] with reasons, tolerating either country's conventions."""
    if not ls or not rs or not lg or not rg:
        return 0.0, ["a name is missing"]
    reasons: list[str] = []
    # Surnames: the paternal surname (first) of each side must appear among the other's words; a
    # maternal surname may have been written as a middle name or dropped.
    right_words, left_words = rs + rg[1:], ls + lg[1:]
    paternal = min(_best(ls[0], right_words), _best(rs[0], left_words))
    if paternal < 0.88:
        return paternal * 0.5, [f"paternal surname differs ({ls[0]} / {rs[0]})"]
    reasons.append("paternal surname matches" if paternal > 0.99 else f"paternal surname similar ({paternal:.2f})")
    score = 0.45 * paternal
    if len(ls) > 1 and len(rs) > 1:
        maternal = _best(ls[1], rs[1:])
        if maternal >= 0.88:
            score += 0.15
            reasons.append("maternal surname matches")
        else:
            score -= 0.25
            reasons.append(f"maternal surname differs ({ls[1]} / {rs[1]})")
    elif len(ls) > 1 or len(rs) > 1:
        longer, other = (ls, rg) if len(ls) > 1 else (rs, lg)
        if _best(longer[1], other[1:]) >= 0.92:
            score += 0.12
            reasons.append("maternal surname written as a middle name")
        else:
            score += 0.05
            reasons.append("one record has a single surname")
    # Given names: the first given name, or any of them, allowing nicknames and equivalents.
    first = _word_similarity(lg[0], rg[0])
    any_given = max(_best(g, rg) for g in lg)
    given = max(first, any_given * 0.95)
    if given < 0.85:
        return score * 0.5, [*reasons, f"given names differ ({' '.join(lg)} / {' '.join(rg)})"]
    if equivalent_given(lg[0], rg[0]) and lg[0] != rg[0]:
        reasons.append(f"given name {lg[0]} ~ {rg[0]} (nickname or equivalent)")
    else:
        reasons.append("given name matches" if given > 0.99 else f"given name similar ({given:.2f})")
    score += 0.40 * given
    return min(score, 1.0), reasons


def _compare_dob(left: PersonRecord, right: PersonRecord) -> tuple[float, str | None]:
    a, b = left.date_of_birth, right.date_of_birth
    if a and b:
        if a == b:
            return 0.15, "same date of birth"
        if (a.year, a.month, a.day) == (b.year, b.day, b.month):
            return 0.10, "date of birth with day and month transposed"
        if a.year == b.year and a.month == b.month and abs(a.day - b.day) <= 1:
            return 0.0, "date of birth off by one day"
        return -0.6, f"different dates of birth ({a} / {b})"
    partial_a = a.isoformat() if a else left.dob_text
    partial_b = b.isoformat() if b else right.dob_text
    if partial_a and partial_b:
        shorter, longer = sorted((partial_a, partial_b), key=len)
        if longer.startswith(shorter):
            return 0.05, f"partial date of birth agrees ({shorter})"
        return -0.6, f"dates of birth disagree ({partial_a} / {partial_b})"
    return 0.0, None


def match_people(left: PersonRecord, right: PersonRecord, threshold: float = MATCH_THRESHOLD) -> MatchResult:
    """Decide whether two records are the same person; the score is in [0, 1]."""
    best_score, best_reasons = 0.0, ["no name to compare"]
    for lg, ls, l_label in _name_variants(left):
        for rg, rs, r_label in _name_variants(right):
            if l_label == r_label == SWAPPED:
                continue  # swapping both sides compares surnames as given names, which tolerate extras
            score, reasons = _compare_names(lg, ls, rg, rs)
            if l_label != "name" or r_label != "name":
                reasons = [
                    f"{'matched on ' if 'alias' in l_label + r_label else ''}"
                    f"{l_label if l_label != 'name' else r_label}",
                    *reasons,
                ]
                score -= 0.03
            if score > best_score:
                best_score, best_reasons = score, reasons
    dob_points, dob_reason = _compare_dob(left, right)
    score = best_score + dob_points
    reasons = list(best_reasons)
    if dob_reason:
        reasons.append(dob_reason)
    if left.nationality and right.nationality:
        if left.nationality == right.nationality:
            score += 0.03
            reasons.append("same nationality")
        else:
            score -= 0.05
            reasons.append(f"different nationality ({left.nationality} / {right.nationality})")
    score = round(max(0.0, min(score, 1.0)), 3)
    return MatchResult(match=score >= threshold, score=score, reasons=reasons)
