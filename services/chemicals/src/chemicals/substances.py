"""The 1988 Convention Table I and II substances, from the service's data file (not code branches)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from alliance.contracts.chemicals import SubstanceRef
from alliance.domain.names import fold


class SubstanceCatalogue:
    def __init__(self, substances: list[dict[str, object]]) -> None:
        self._by_code: dict[str, SubstanceRef] = {}
        self._lookup: dict[str, str] = {}
        for entry in substances:
            ref = SubstanceRef(
                code=str(entry["code"]),
                table=str(entry["table"]),
                cas=str(entry["cas"]),
                name_en=str(entry["name_en"]),
                name_es=str(entry["name_es"]),
            )
            self._by_code[ref.code] = ref
            aliases = entry.get("aliases", [])
            terms = [ref.code, ref.cas, ref.name_en, ref.name_es, *(aliases if isinstance(aliases, list) else [])]
            for term in terms:
                self._lookup[fold(str(term))] = ref.code

    def resolve(self, term: str) -> SubstanceRef | None:
        """By code, CAS number, English or Spanish name or a common alias; accents and case ignored."""
        code = self._lookup.get(fold(term))
        return self._by_code[code] if code else None

    def __len__(self) -> int:
        return len(self._by_code)

    def table(self, name: str) -> list[SubstanceRef]:
        return [s for s in self._by_code.values() if s.table == name]


@cache
def catalogue() -> SubstanceCatalogue:
    data = json.loads(resources.files("chemicals").joinpath("data/substances.json").read_text(encoding="utf-8"))
    return SubstanceCatalogue(data["substances"])
