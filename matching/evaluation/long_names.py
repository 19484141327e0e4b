"""What the bounds on a name cost: every labelled pair of one person, one side padded to the contract.

    .venv/bin/python matching/evaluation/long_names.py matching/evaluation/person_pairs_classes.csv

A name is read to its first words and a person's keys are held to a budget (``names.MAX_GIVEN_WORDS``,
``blocking.MAX_FILING_KEYS`` and the others). Nothing in the labelled sets reaches them, so their
recall is unchanged. This shows what they cost a name that does: for each pair labelled one person
that the matcher keeps (``match`` or ``possible``), the right-hand record (the detained person) is
padded as in issue 17, each field to 500 characters of two-letter words after its own and 20 aliases
of them, and the script counts the pairs the matcher still keeps (the registered fugitive, the left
record, compared first, as extradition does), and the pairs the fugitive index still finds whichever
was stored first. Also the most keys any padded record had.
"""

from __future__ import annotations

import argparse
import csv
import random
import string
import sys

from person_matching.blocking import index_keys, lookup_keys
from person_matching.cli import _person
from person_matching.matching import Decision, PersonRecord, match_people

FIELD = 500  # characters: the contract's limit on a name field (``alliance.contracts.common.Text``)
ALIASES = 20


def padded(text: str, rng: random.Random) -> str:
    words = text.split()
    while len(" ".join(words)) < FIELD - 3:
        words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(2)))
    return " ".join(words)[:FIELD].strip()


def at_the_limits(row: dict[str, str], rng: random.Random) -> PersonRecord:
    surnames = row["right_surnames"].strip()
    return PersonRecord.parse(
        padded(row["right_given_names"], rng),
        [padded(surnames, rng)] if surnames else [],
        row["right_dob"].strip() or None,
        row["right_nationality"].strip() or None,
        [padded("", rng) for _ in range(ALIASES)],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labelled", nargs="+")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    for path in args.labelled:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if r["expected_match"] in {"true", "review"}]
        kept = still_kept = found = 0
        most_filed = most_asked = 0
        for row in rows:
            fugitive, detained = _person(row, "left"), _person(row, "right")
            if match_people(fugitive, detained).decision is Decision.NO_MATCH:
                continue
            kept += 1
            long = at_the_limits(row, rng)
            still_kept += match_people(fugitive, long).decision is not Decision.NO_MATCH
            filed, asked = index_keys(long, long.birth), lookup_keys(long, long.birth)
            most_filed, most_asked = max(most_filed, len(filed)), max(most_asked, len(asked))
            either = set(index_keys(fugitive, fugitive.birth)) & set(asked) and set(filed) & set(
                lookup_keys(fugitive, fugitive.birth)
            )
            found += bool(either)
        print(
            f"{path}: {kept} pairs of one person kept; one side at the contract's limits: "
            f"matcher keeps {still_kept} ({still_kept / kept:.3f}), index finds either way round {found} "
            f"({found / kept:.3f}); most keys of a padded record: {most_filed} filed, {most_asked} looked up"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
