"""Bilingual code lists: each code carries English and Spanish labels, kept in data files per service."""

from __future__ import annotations

import json
from importlib import resources
from typing import Literal

from alliance.domain.errors import DomainRuleViolation

Language = Literal["en", "es"]


class CodeList:
    """One list of codes (drug types, statuses, …) with an English and a Spanish label each."""

    def __init__(self, name: str, labels: dict[str, dict[str, str]]) -> None:
        missing = [code for code, label in labels.items() if not label.get("en") or not label.get("es")]
        if missing:
            raise ValueError(f"code list {name}: codes without both labels: {missing}")
        self.name = name
        self._labels = labels

    def __contains__(self, code: object) -> bool:
        return code in self._labels

    @property
    def codes(self) -> list[str]:
        return list(self._labels)

    def label(self, code: str, language: Language = "en") -> str:
        return self._labels.get(code, {}).get(language, code)

    def require(self, code: str) -> str:
        """The code itself if it is on the list; otherwise a rule violation naming the allowed codes."""
        if code not in self._labels:
            raise DomainRuleViolation(f"{code!r} is not a known {self.name} (allowed: {', '.join(self.codes)})")
        return code


def load_code_lists(package: str, path: str = "data/codes.json") -> dict[str, CodeList]:
    """Read ``{list name: {code: {"en": …, "es": …}}}`` from a service package's data file."""
    data = json.loads(resources.files(package).joinpath(path).read_text(encoding="utf-8"))
    return {name: CodeList(name, labels) for name, labels in data.items()}
