"""Similarity of single names: surnames (with their particles) and given names (with nicknames,
equivalents across languages, and the sex a given name usually belongs to)."""

from __future__ import annotations

from functools import lru_cache

from person_matching.names import Surname
from person_matching.names_data import equivalent_given, female_share, given_frequency, surname_frequency

# Two spellings that are each the surname of many families (Meza/Mesa, Gómez/Gámez) are not taken for a
# typing slip of one another: they stay below a sure match.
REAL_SURNAME_PER_MILLION = 20.0
COMMON_GIVEN_PER_MILLION = 30.0


# Names repeat (an index of people holds every García's and every María's): each pair is worked out once.
_PAIRS = 1 << 16


@lru_cache(maxsize=_PAIRS)
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


@lru_cache(maxsize=_PAIRS)
def surname_similarity(a: Surname, b: Surname) -> float:
    """de la Cruz ~ DELACRUZ ~ Cruz; Ponce de León ~ PONCEDELEON ~ Ponce (truncated); typos tolerated."""
    if a.full == b.full:
        return 1.0
    core_a, core_b = "".join(a.core), "".join(b.core)
    if core_a == core_b or a.full == core_b or b.full == core_a:
        return 0.95  # a particle dropped or joined
    best = jaro_winkler(core_a, core_b)
    if len(a.words) == 1 or len(b.words) == 1:  # a joined spelling against a written-out one
        best = max(best, jaro_winkler(a.full, b.full))
    shorter, longer = sorted((a.core, b.core), key=len)
    if len(longer) > 1 and longer[: len(shorter)] == shorter:
        best = max(best, 0.92)  # a compound surname cut short: Ponce for Ponce de León
    if best < 1.0 and both_real_surnames(core_a, core_b):
        best = min(best, 0.9)
    return best


def both_real_surnames(a: str, b: str) -> bool:
    return (
        a != b and surname_frequency(a) >= REAL_SURNAME_PER_MILLION and surname_frequency(b) >= REAL_SURNAME_PER_MILLION
    )


def opposite_sexes(a: str, b: str) -> bool:
    """Juan/Juana, Francis/Frances, Marcelo/Marcelina, Louis/Louise: names of a man and of a woman.

    Only names spelled alike are asked: Chava for Salvador is a nickname, whatever the census says of Chava."""
    if a == b or jaro_winkler(a, b) < 0.8:
        return False
    fa, fb = female_share(a), female_share(b)
    if fa is not None and fb is not None:
        return abs(fa - fb) >= 0.7
    stem = min(len(a), len(b)) - 1
    if stem >= 3 and a[:stem] == b[:stem]:
        endings = {a[stem:], b[stem:]}
        feminine = {"a", "ina", "ine", "e", "ette", "ita"}
        return (bool(endings & feminine) and bool(endings - feminine)) or endings == {"o", "a"}
    return False


def given_similarity(a: str, b: str) -> float:
    """1 for the same name, a nickname or an equivalent in the other language; 0 for names of opposite sexes."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:  # an initial
        return 0.9 if a[0] == b[0] else 0.0
    if equivalent_given(a, b):
        # A known nickname stands unless both names are common names of opposite sexes (Francis, Frances);
        # a rare short form's census share of women (Isma, Robe) says little.
        common = min(given_frequency(a), given_frequency(b)) >= COMMON_GIVEN_PER_MILLION
        return 0.0 if common and opposite_sexes(a, b) else 1.0
    if opposite_sexes(a, b):
        return 0.0
    return jaro_winkler(a, b)
