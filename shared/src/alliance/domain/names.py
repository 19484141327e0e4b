"""Normalising names written on either side of the border: accents, case, punctuation, legal forms."""

from __future__ import annotations

from person_matching.text import fold

__all__ = ["company_key", "fold"]

# Legal forms in US and Mexican company names (S.A. de C.V., S. de R.L. de C.V., Inc., LLC, …).
_LEGAL_FORMS = frozenset(
    [
        *("sa", "de", "cv", "s", "a", "c", "v", "r", "l", "rl", "sapi", "sab", "sc", "ac", "spr", "ri"),
        *("inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co", "company", "lp", "llp", "plc"),
    ]
)


def company_key(name: str) -> str:
    """A company name without its legal form: 'Química Del Norte, S.A. de C.V.' → 'quimica del norte'."""
    words = fold(name).split()
    while words and words[-1] in _LEGAL_FORMS:
        words.pop()
    return " ".join(words) or fold(name)
