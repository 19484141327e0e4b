"""Score a labelled set with a peer: OpenSanctions' nomenklatura, as yente scores a Person query.

    .venv/bin/python matching/evaluation/peer_nomenklatura.py matching/evaluation/person_pairs_classes.csv

Each side becomes a followthemoney Person (name, firstName, lastName, birthDate as written, nationality);
the algorithm's default configuration is used and a pair is a match at yente's default threshold, 0.7.
A development dependency only: the services never import it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict

from followthemoney import model
from followthemoney.proxy import EntityProxy
from nomenklatura.matching import get_algorithm

THRESHOLD = 0.7  # yente's default match threshold


def person(row: dict[str, str], side: str) -> EntityProxy:
    given, surnames = row[f"{side}_given_names"].strip(), row[f"{side}_surnames"].strip()
    entity = model.make_entity("Person")
    entity.id = side
    entity.add("name", " ".join(p for p in (given, surnames) if p))
    if given and surnames:
        entity.add("firstName", given)
        entity.add("lastName", surnames)
    if row[f"{side}_dob"].strip():
        entity.add("birthDate", row[f"{side}_dob"].strip())
    if row[f"{side}_nationality"].strip():
        entity.add("nationality", row[f"{side}_nationality"].strip().lower())
    return entity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("--algorithm", default="logic-v2")
    args = parser.parse_args()
    algorithm = get_algorithm(args.algorithm)
    if algorithm is None:
        print(f"no algorithm {args.algorithm}", file=sys.stderr)
        return 2
    config = algorithm.default_config()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # rows, matched, expected true
    tp = fp = fn = 0
    with open(args.input, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            score = algorithm.compare(person(row, "left"), person(row, "right"), config).score
            matched = score >= THRESHOLD
            expected = row["expected_match"].strip().lower() == "true"
            tp += matched and expected
            fp += matched and not expected
            fn += expected and not matched
            if row.get("class"):
                c = counts[row["class"]]
                c[0] += 1
                c[1] += matched
                c[2] += expected
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"peer nomenklatura {args.algorithm} @ {THRESHOLD}: precision={precision:.4f} recall={recall:.4f}")
    for name, (rows, matched, expected) in sorted(counts.items(), key=lambda kv: (kv[1][2] == 0, kv[0])):
        figure = f"recall={matched / rows:.3f}" if expected else f"false_match={matched / rows:.3f}"
        print(f"  {name:<36} {figure}  (rows={rows}, match={matched})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
