"""Build the labelled person-pair set used by `make eval-matching` (deterministic: fixed seed).

    python matching/evaluation/build_person_pairs.py > matching/evaluation/person_pairs.csv

Synthetic people, not real records. True pairs are the same person written the way the other
country's agencies write names; false pairs are different people who look alike (relatives,
namesakes, same surnames).
"""

from __future__ import annotations

import csv
import random
import sys
import unicodedata
from datetime import date, timedelta

SEED = 1998  # the year of the Bi-National Drug Strategy
GIVEN_M = [
    "José Luis",
    "Juan Carlos",
    "Francisco",
    "Jesús",
    "Miguel Ángel",
    "Roberto",
    "Alejandro",
    "Eduardo",
    "Ignacio",
    "Guillermo",
    "Ricardo",
    "Antonio",
    "Jorge",
    "Luis",
    "Rafael",
    "Fernando",
    "Salvador",
    "Rodolfo",
    "Arturo",
    "Sergio",
    "Ramón",
    "Gustavo",
    "Manuel",
    "Enrique",
    "Daniel",
    "Pedro",
    "Octavio",
]
GIVEN_F = [
    "María Guadalupe",
    "Dolores",
    "Rosario",
    "Margarita",
    "Isabel",
    "Teresa",
    "Patricia",
    "Catalina",
    "Elena",
    "Josefina",
    "Mercedes",
    "Graciela",
    "Socorro",
    "Concepción",
    "Ana María",
    "Verónica",
]
PATERNAL = [
    "Hernández",
    "García",
    "Martínez",
    "López",
    "González",
    "Rodríguez",
    "Pérez",
    "Sánchez",
    "Ramírez",
    "Flores",
    "de la Cruz",
    "Gómez",
    "Morales",
    "Vázquez",
    "Jiménez",
    "Reyes",
    "Díaz",
    "Torres",
    "Gutiérrez",
    "Ruiz",
    "Mendoza",
    "Aguilar",
    "del Valle",
    "Ortiz",
    "Castillo",
    "Chávez",
    "Villarreal",
    "de León",
    "Treviño",
    "Zúñiga",
]
MATERNAL = [
    "Garza",
    "Salinas",
    "Cárdenas",
    "Montemayor",
    "Ochoa",
    "Quintero",
    "Beltrán",
    "Guzmán",
    "Zambada",
    "Fuentes",
    "Carrillo",
    "Arellano",
    "Félix",
    "Caro",
    "Esparragoza",
    "Palma",
    "Meza",
    "Coronel",
    "Ibarra",
    "Valenzuela",
    "de la Rosa",
    "Salazar",
    "Navarro",
    "Rosales",
]
US_GIVEN = [
    ("Robert", "James"),
    ("William", "Henry"),
    ("Michael", "Anthony"),
    ("John", "Edward"),
    ("Richard", "Allen"),
    ("Thomas", "Lee"),
    ("Charles", "Ray"),
    ("Elizabeth", "Ann"),
    ("Margaret", "Rose"),
]
US_SURNAME = ["Miller", "Johnson", "Smith", "Williams", "Brown", "Davis", "Wilson", "Anderson", "Taylor", "Moore"]
NICK = {
    "José Luis": "Pepe",
    "Francisco": "Paco",
    "Jesús": "Chuy",
    "Roberto": "Beto",
    "Alejandro": "Alex",
    "Eduardo": "Lalo",
    "Ignacio": "Nacho",
    "Guillermo": "Memo",
    "Salvador": "Chava",
    "Rodolfo": "Fito",
    "María Guadalupe": "Lupe",
    "Dolores": "Lola",
    "Rosario": "Chayo",
    "Concepción": "Concha",
    "Robert": "Bob",
    "William": "Bill",
    "Michael": "Mike",
    "Richard": "Rick",
    "Margaret": "Peggy",
    "Elizabeth": "Liz",
    "Enrique": "Quique",
    "Sergio": "Checo",
    "Gustavo": "Tavo",
}
EQUIVALENT = {
    "Juan Carlos": "John Charles",
    "Miguel Ángel": "Michael",
    "Guillermo": "William",
    "Ricardo": "Richard",
    "Antonio": "Anthony",
    "Jorge": "George",
    "Pedro": "Peter",
    "Roberto": "Robert",
    "Isabel": "Elizabeth",
    "Margarita": "Margaret",
    "Teresa": "Theresa",
    "Eduardo": "Edward",
    "Francisco": "Frank",
}
GENDERED = {
    "Francisco": "Francisca",
    "Daniel": "Daniela",
    "Manuel": "Manuela",
    "Antonio": "Antonia",
    "Roberto": "Roberta",
    "Fernando": "Fernanda",
}


def plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class Person:
    def __init__(self, given: str, surnames: list[str], dob: date, nationality: str) -> None:
        self.given, self.surnames, self.dob, self.nationality = given, surnames, dob, nationality

    def row(self, dob: str | None = None, **overrides: str) -> dict[str, str]:
        values = {
            "given_names": self.given,
            "surnames": " ".join(self.surnames),
            "dob": self.dob.isoformat() if dob is None else dob,
            "nationality": self.nationality,
        }
        values.update(overrides)
        return values


def people(rng: random.Random) -> list[Person]:
    out = []
    for _ in range(70):
        given = rng.choice(GIVEN_M if rng.random() < 0.7 else GIVEN_F)
        out.append(
            Person(
                given,
                [rng.choice(PATERNAL), rng.choice(MATERNAL)],
                date(1955, 1, 1) + timedelta(days=rng.randrange(0, 45 * 365)),
                rng.choice(["MX", "MX", "US"]),
            )
        )
    for _ in range(20):
        first, middle = rng.choice(US_GIVEN)
        out.append(
            Person(
                f"{first} {middle}",
                [rng.choice(US_SURNAME)],
                date(1955, 1, 1) + timedelta(days=rng.randrange(0, 45 * 365)),
                "US",
            )
        )
    return out


def true_variants(p: Person, rng: random.Random) -> list[dict[str, str]]:
    first = p.given.split()[0]
    two = len(p.surnames) == 2
    variants = [
        p.row(given_names=plain(p.given).upper(), surnames=plain(" ".join(p.surnames)).upper()),
        p.row(nationality=""),
        p.row(dob=""),
        p.row(dob=str(p.dob.year)),
        p.row(given_names=first),
    ]
    if two:
        variants += [
            p.row(surnames=p.surnames[0]),  # US record keeps only the paternal surname
            p.row(given_names=f"{p.given} {p.surnames[1]}", surnames=p.surnames[0]),  # maternal as middle name
            p.row(surnames="-".join(p.surnames)),
            p.row(given_names=" ".join(p.surnames), surnames=p.given),  # written in the other order
        ]
    if " " in p.surnames[0]:  # de la Cruz → DELACRUZ
        variants.append(p.row(surnames=plain(p.surnames[0]).replace(" ", "").upper()))
    if p.given in NICK:
        variants.append(p.row(given_names=NICK[p.given]))
    elif first in NICK:
        variants.append(p.row(given_names=NICK[first]))
    if p.given in EQUIVALENT:
        variants.append(p.row(given_names=EQUIVALENT[p.given]))
    if p.dob.day <= 12 and p.dob.day != p.dob.month:
        variants.append(p.row(dob=date(p.dob.year, p.dob.day, p.dob.month).isoformat()))
    word = plain(p.surnames[-1 if not two else 0]).replace(" ", "")
    if len(word) > 5:  # one typing error in the paternal surname
        i = rng.randrange(1, len(word) - 2)
        variants.append(p.row(surnames=" ".join([word[:i] + word[i + 1] + word[i] + word[i + 2 :], *p.surnames[1:]])))
    return variants


def false_variants(p: Person, crowd: list[Person], rng: random.Random) -> list[dict[str, str]]:
    other = rng.choice([q for q in crowd if q is not p])
    relative_given = rng.choice([g for g in GIVEN_M + GIVEN_F if g.split()[0] != p.given.split()[0]])
    variants = [
        p.row(given_names=relative_given),  # a sibling: same surnames, other given name (and DOB below)
        other.row(),
        p.row(dob=date(p.dob.year + rng.choice([-7, -3, 4, 9]), p.dob.month, min(p.dob.day, 28)).isoformat()),
    ]
    variants[0]["dob"] = (p.dob + timedelta(days=rng.choice([-900, 700, 1500]))).isoformat()
    if len(p.surnames) == 2:
        variants.append(
            p.row(
                surnames=f"{p.surnames[0]} {rng.choice([m for m in MATERNAL if m != p.surnames[1]])}",
                dob=(p.dob + timedelta(days=rng.randrange(400, 4000))).isoformat(),
            )
        )
    first = p.given.split()[0]
    if first in GENDERED:
        variants.append(p.row(given_names=GENDERED[first]))
    same_surname = [q for q in crowd if q is not p and q.surnames[0] == p.surnames[0]]
    if same_surname:
        variants.append(rng.choice(same_surname).row())
    return variants


def main() -> None:
    rng = random.Random(SEED)
    crowd = people(rng)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(
        [f"{s}_{f}" for s in ("left", "right") for f in ("given_names", "surnames", "dob", "nationality")]
        + ["expected_match"]
    )
    for p in crowd:
        left = p.row()
        for right, expected in [
            *((v, "true") for v in true_variants(p, rng)),
            *((v, "false") for v in false_variants(p, crowd, rng)),
        ]:
            writer.writerow(
                [left[k] for k in ("given_names", "surnames", "dob", "nationality")]
                + [right[k] for k in ("given_names", "surnames", "dob", "nationality")]
                + [expected]
            )


if __name__ == "__main__":
    main()
