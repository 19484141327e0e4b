"""Build the per-class labelled set (deterministic: fixed seed), one class per failure reported in issue 11
and one per hard negative.

    .venv/bin/python matching/evaluation/build_person_pairs_classes.py > matching/evaluation/person_pairs_classes.csv

Synthetic people, not real records. Names are drawn from data, not typed here: given names and surnames
from the census frequency table the matcher ships (Hispanic and non-Hispanic pools, and the most common
names for the common-name classes), nicknames from the ``nicknames`` package and the Spanish data file,
gender pairs from the census share of women per name. Each class applies its own transformation to a
drawn person; ``expected_match`` is true when both records are the same person.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from importlib import resources

from nicknames import name_triplets

SEED = 20261125
PER_CLASS = 60


@dataclass(frozen=True)
class Name:
    name: str
    us: float  # per million
    hispanic: float
    female: float | None


def _table() -> tuple[list[Name], list[Name]]:
    text = resources.files("person_matching").joinpath("data/name_frequencies.tsv").read_text(encoding="utf-8")
    given, surnames = [], []
    for row in csv.DictReader(text.splitlines(), delimiter="\t"):
        n = Name(
            row["name"],
            float(row["per_million_us"]),
            float(row["per_million_hispanic"]),
            float(row["female_share"]) if row["female_share"] else None,
        )
        (given if row["kind"] == "given" else surnames).append(n)
    return given, surnames


GIVEN, SURNAMES = _table()
BY_GIVEN = {n.name: n for n in GIVEN}
BY_SURNAME = {n.name: n for n in SURNAMES}
# Pools: names at least this common in their population, and clearly of one sex (given names).
MX_SURNAMES = [n.name for n in SURNAMES if n.hispanic >= 150 and n.hispanic >= 3 * n.us and len(n.name) > 3]
US_SURNAMES = [n.name for n in SURNAMES if n.us >= 300 and n.hispanic <= 0.5 * n.us]
MX_MEN = [n.name for n in GIVEN if n.hispanic >= 200 and n.hispanic >= 2 * n.us and (n.female or 0) <= 0.05]
MX_WOMEN = [n.name for n in GIVEN if n.hispanic >= 200 and n.hispanic >= 2 * n.us and (n.female or 0) >= 0.95]
US_MEN = [n.name for n in GIVEN if n.us >= 800 and n.hispanic <= n.us and (n.female or 0) <= 0.05]
US_WOMEN = [n.name for n in GIVEN if n.us >= 800 and n.hispanic <= n.us and (n.female or 0) >= 0.95]
COMMON_MX_GIVEN = sorted(MX_MEN + MX_WOMEN, key=lambda g: -BY_GIVEN[g].hispanic)[:8]
COMMON_US_GIVEN = sorted(US_MEN + US_WOMEN, key=lambda g: -BY_GIVEN[g].us)[:8]
COMMON_MX_SURNAMES = sorted(MX_SURNAMES, key=lambda s: -BY_SURNAME[s].hispanic)[:8]
COMMON_US_SURNAMES = sorted(US_SURNAMES, key=lambda s: -BY_SURNAME[s].us)[:8]
# Compound surnames are not in the census table as such (it joins them): these are the forms the issue
# names, each class member a real Mexican or Spanish surname.
COMPOUND_SURNAMES = [
    "San Martín",
    "San Román",
    "Santa Anna",
    "Santa María",
    "Ponce de León",
    "Montes de Oca",
    "Ruiz de Velasco",
    "Fernández de Lara",
    "de los Santos",
    "de los Ríos",
    "de la O",
    "de la Garza",
    "de la Torre",
    "del Ángel",
]


def _spanish() -> dict[str, object]:
    text = resources.files("person_matching").joinpath("data/spanish_given_names.json").read_text(encoding="utf-8")
    data: dict[str, object] = json.loads(text)
    return data


SPANISH = _spanish()
ES_NICK = {e["name"]: e["nicknames"] for e in SPANISH["names"] if e["nicknames"]}  # type: ignore[attr-defined, index]
ES_EQUIV = {e["name"]: e["equivalents"] for e in SPANISH["names"] if e["equivalents"]}  # type: ignore[attr-defined, index]
ES_COMPOUND = {c["name"]: c["nicknames"] for c in SPANISH["compound"]}  # type: ignore[attr-defined, index]
EN_NICK: dict[str, list[str]] = {}
for t in name_triplets():
    EN_NICK.setdefault(t.name1, []).append(t.name2)


@dataclass(frozen=True)
class Person:
    given: list[str]
    surnames: list[str]
    dob: date
    nationality: str
    woman: bool

    def row(self, **o: str) -> dict[str, str]:
        values = {
            "given_names": " ".join(w.title() for w in self.given),
            "surnames": " ".join(s if " " in s or s[:1].isupper() else s.title() for s in self.surnames),
            "dob": self.dob.isoformat(),
            "nationality": self.nationality,
        }
        values.update(o)
        return values


def _dob(rng: random.Random) -> date:
    return date(1950, 1, 2) + timedelta(days=rng.randrange(0, 50 * 365))


def mexican(
    rng: random.Random, woman: bool | None = None, given: list[str] | None = None, surnames: list[str] | None = None
) -> Person:
    woman = rng.random() < 0.5 if woman is None else woman
    pool = MX_WOMEN if woman else MX_MEN
    if given is None:
        given = [rng.choice(pool)] + ([rng.choice(pool)] if rng.random() < 0.4 else [])
    surnames = surnames or rng.sample(MX_SURNAMES, 2)
    dob = _dob(rng)
    if (dob.month, dob.day) == (1, 1):
        dob += timedelta(days=3)
    return Person(given, surnames, dob, rng.choice(["MX", "MX", "US"]), woman)


def american(rng: random.Random, woman: bool | None = None) -> Person:
    woman = rng.random() < 0.5 if woman is None else woman
    pool = US_WOMEN if woman else US_MEN
    return Person([rng.choice(pool), rng.choice(pool)], [rng.choice(US_SURNAMES)], _dob(rng), "US", woman)


Pair = tuple[dict[str, str], dict[str, str]]


def year_only(rng: random.Random) -> Pair:
    p = mexican(rng) if rng.random() < 0.6 else american(rng)
    right = p.row(dob=str(p.dob.year)) if rng.random() < 0.5 else p.row(dob=f"{p.dob.year}-01-01")
    return (p.row(), right) if rng.random() < 0.5 else (right, p.row())


def married(kind: str) -> Callable[[random.Random], Pair]:
    def build(rng: random.Random) -> Pair:
        p = mexican(rng, woman=True)
        husband = rng.choice([s for s in MX_SURNAMES if s not in p.surnames]).title()
        paternal = p.surnames[0].title()
        given = " ".join(w.title() for w in p.given)
        if kind == "married_de":
            right = p.row(surnames=f"{paternal} de {husband}")
        elif kind == "married_widow":
            right = p.row(surnames=f"{paternal} {rng.choice(['Vda. de', 'viuda de', 'VDA DE'])} {husband}")
        elif kind == "married_replaced":
            right = p.row(surnames=f"{paternal} {husband}")
        else:  # the maiden surname moved among the given names, the husband's as the surname (US practice)
            right = p.row(given_names=f"{given} {paternal}", surnames=husband, nationality="US")
        return p.row(), right

    return build


def one_column(rng: random.Random) -> Pair:
    p = mexican(rng)
    given, surnames = p.row()["given_names"], p.row()["surnames"]
    whole = rng.choice([f"{given} {surnames}", f"{surnames} {given}", f"{given} {surnames}".upper()])
    right = p.row(given_names=whole, surnames="") if rng.random() < 0.7 else p.row(given_names="", surnames=whole)
    return p.row(), right


def compound_surname(rng: random.Random) -> Pair:
    compound = rng.choice(COMPOUND_SURNAMES)
    p = mexican(rng, surnames=[compound, rng.choice(MX_SURNAMES).title()])
    plain = compound.replace("á", "a").replace("é", "e").replace("í", "i").replace("ó", "o").replace("Á", "A")
    form = rng.choice(["joined", "upper", "hyphen", "single"])
    if form == "joined":
        right = p.row(surnames=f"{plain.replace(' ', '').upper()} {p.surnames[1].upper()}")
    elif form == "upper":
        right = p.row(surnames=f"{plain.upper()} {p.surnames[1].upper()}")
    elif form == "hyphen":
        right = p.row(surnames=f"{plain.replace(' ', '-')} {p.surnames[1]}")
    else:  # the compound alone, in a US record that keeps one surname
        right = p.row(surnames=plain)
    return p.row(), right


def nickname_es(rng: random.Random) -> Pair:
    if rng.random() < 0.35:
        compound = rng.choice(sorted(ES_COMPOUND))
        words = [w for w in compound.split() if w not in {"de", "del", "la", "los"}]
        woman = words[0] == "maria" or words[0] == "ana"
        p = mexican(rng, woman=woman, given=compound.split())
        return p.row(), p.row(given_names=rng.choice(ES_COMPOUND[compound]).title())
    name = rng.choice(sorted(ES_NICK))
    woman = (BY_GIVEN[name].female or 0) > 0.5 if name in BY_GIVEN else name.endswith("a")
    p = mexican(rng, woman=woman, given=[name])
    return p.row(), p.row(given_names=rng.choice(ES_NICK[name]).title())


def nickname_en(rng: random.Random) -> Pair:
    name = rng.choice(sorted(n for n in EN_NICK if n in US_MEN or n in US_WOMEN))
    p = replace(american(rng, woman=name in US_WOMEN), given=[name])
    return p.row(), p.row(given_names=rng.choice(EN_NICK[name]).title())


def cross_language(rng: random.Random) -> Pair:
    name = rng.choice(sorted(n for n in ES_EQUIV if n != ES_EQUIV[n][0]))
    woman = (BY_GIVEN[name].female or 0) > 0.5 if name in BY_GIVEN else name.endswith("a")
    p = mexican(rng, woman=woman, given=[name])
    english = rng.choice(ES_EQUIV[name])
    right = p.row(given_names=english.title(), surnames=p.surnames[0].title(), nationality="US")
    return (p.row(), right) if rng.random() < 0.5 else (right, p.row())


def transcription(rng: random.Random) -> Pair:
    """The usual differences: accents and case, maternal surname as a middle name, name order, a typo."""
    p = mexican(rng)
    given, surnames = p.row()["given_names"], p.row()["surnames"]
    form = rng.randrange(4)
    if form == 0:
        return p.row(), p.row(given_names=given.upper(), surnames=surnames.upper())
    if form == 1:
        return p.row(), p.row(given_names=f"{given} {p.surnames[1].title()}", surnames=p.surnames[0].title())
    if form == 2:
        return p.row(), p.row(given_names=surnames, surnames=given)
    word = p.surnames[0]
    i = rng.randrange(1, len(word) - 2)
    typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return p.row(), p.row(surnames=f"{typo.title()} {p.surnames[1].title()}")


# -- hard negatives ----------------------------------------------------------------------------------


def twins(rng: random.Random) -> Pair:
    woman = rng.random() < 0.5
    pool = MX_WOMEN if woman else MX_MEN
    first, a, b = rng.sample(pool, 3)
    p = mexican(rng, woman=woman, given=[first, a])
    return p.row(), replace(p, given=[first, b]).row()


def siblings(rng: random.Random) -> Pair:
    p = mexican(rng)
    pool = MX_WOMEN if rng.random() < 0.5 else MX_MEN
    other = replace(
        p,
        given=[rng.choice([g for g in pool if g != p.given[0]])],
        dob=p.dob + timedelta(days=rng.choice([-1, 1]) * rng.randrange(300, 4000)),
    )
    return p.row(), other.row(dob=rng.choice([other.dob.isoformat(), str(other.dob.year)]))


def father_son(with_suffix: bool) -> Callable[[random.Random], Pair]:
    def build(rng: random.Random) -> Pair:
        father = american(rng, woman=False) if rng.random() < 0.5 else mexican(rng, woman=False)
        son = replace(father, dob=father.dob + timedelta(days=rng.randrange(18 * 365, 40 * 365)))
        if with_suffix:  # the son's record says Jr.; his date of birth is often missing on the other side
            right = son.row(given_names=f"{son.row()['given_names']} Jr.", dob=rng.choice(["", son.dob.isoformat()]))
        else:
            right = son.row()
        return father.row(), right

    return build


def _gender_pairs() -> list[tuple[str, str]]:
    men = [n for n in GIVEN if (n.female or 0) <= 0.05 and max(n.us, n.hispanic) >= 50]
    women = {n.name for n in GIVEN if (n.female or 0) >= 0.95 and max(n.us, n.hispanic) >= 50}
    pairs = []
    for m in men:
        stem = m.name[:-1] if m.name.endswith("o") else m.name
        for f in (stem + "a", stem + "ina", m.name + "a", m.name + "e", m.name + "ine", m.name + "ette", stem + "e"):
            if f in women and f != m.name:
                pairs.append((m.name, f))
    return sorted(set(pairs))


GENDER_PAIRS = _gender_pairs()


def gender_pair(rng: random.Random) -> Pair:
    if rng.random() < 0.25:  # an inverted compound name: José María / María José
        man, woman = rng.choice(MX_MEN), rng.choice(MX_WOMEN)
        p = mexican(rng, woman=False, given=[man, woman])
        return p.row(), replace(p, given=[woman, man]).row()
    man, woman = rng.choice(GENDER_PAIRS)
    maker = mexican if BY_GIVEN[man].hispanic > BY_GIVEN[man].us else american
    p = replace(maker(rng, woman=False), given=[man])
    return p.row(), replace(p, given=[woman]).row()


def common_name(with_dates: bool) -> Callable[[random.Random], Pair]:
    """Two people with a very common name; one record has no date, or the dates differ or are partial."""

    def build(rng: random.Random) -> Pair:
        if rng.random() < 0.6:
            given = [rng.choice(COMMON_MX_GIVEN)]
            surnames = [rng.choice(COMMON_MX_SURNAMES)] + (
                [rng.choice(COMMON_MX_SURNAMES)] if rng.random() < 0.3 else []
            )
            a = Person(given, surnames, _dob(rng), "MX", False)
        else:
            a = Person([rng.choice(COMMON_US_GIVEN)], [rng.choice(COMMON_US_SURNAMES)], _dob(rng), "US", False)
        b = replace(a, dob=_dob(rng))
        if not with_dates:
            return a.row(), b.row(dob="")
        if rng.random() < 0.5:  # the same year, only the year known on one side
            b = replace(b, dob=date(a.dob.year, rng.randint(1, 12), rng.randint(1, 28)))
            return a.row(), b.row(dob=str(b.dob.year))
        return a.row(), b.row()

    return build


def _one_letter_pairs() -> list[tuple[str, str]]:
    common = sorted(n.name for n in SURNAMES if max(n.us, n.hispanic) >= 100 and len(n.name) >= 4)
    known = set(common)
    pairs = set()
    for s in common:
        for i in range(1, len(s)):
            for c in "abcdefghijklmnopqrstuvwxyz":
                t = s[:i] + c + s[i + 1 :]
                if t != s and t in known:
                    pairs.add(tuple(sorted((s, t))))
    return sorted(pairs)  # type: ignore[arg-type]


ONE_LETTER = _one_letter_pairs()


def one_letter_surnames(rng: random.Random) -> Pair:
    a_name, b_name = rng.choice(ONE_LETTER)
    woman = rng.random() < 0.5
    given = [rng.choice(MX_WOMEN if woman else MX_MEN)]
    a = Person(given, [a_name], _dob(rng), "MX", woman)
    b = replace(a, surnames=[b_name], dob=_dob(rng))
    return a.row(), b.row(dob=rng.choice(["", str(b.dob.year), b.dob.isoformat()]))


CLASSES: dict[str, tuple[bool, Callable[[random.Random], Pair]]] = {
    "year_only_date": (True, year_only),
    "married_de": (True, married("married_de")),
    "married_widow": (True, married("married_widow")),
    "married_husband_replaces_maternal": (True, married("married_replaced")),
    "married_maiden_in_given_names": (True, married("married_maiden_given")),
    "whole_name_one_column": (True, one_column),
    "compound_surname": (True, compound_surname),
    "nickname_spanish": (True, nickname_es),
    "nickname_english": (True, nickname_en),
    "cross_language_given_name": (True, cross_language),
    "transcription": (True, transcription),
    "neg_twins": (False, twins),
    "neg_siblings": (False, siblings),
    "neg_father_son_jr": (False, father_son(with_suffix=True)),
    "neg_father_son_no_suffix": (False, father_son(with_suffix=False)),
    "neg_gender_pair": (False, gender_pair),
    "neg_common_name_no_date": (False, common_name(with_dates=False)),
    "neg_common_name_with_dates": (False, common_name(with_dates=True)),
    "neg_surnames_one_letter_apart": (False, one_letter_surnames),
}


def main() -> None:
    rng = random.Random(SEED)
    fields = ("given_names", "surnames", "dob", "nationality")
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([f"{s}_{f}" for s in ("left", "right") for f in fields] + ["expected_match", "class"])
    for name, (expected, build) in CLASSES.items():
        for _ in range(PER_CLASS):
            left, right = build(rng)
            writer.writerow([left[f] for f in fields] + [right[f] for f in fields] + [str(expected).lower(), name])


if __name__ == "__main__":
    main()
