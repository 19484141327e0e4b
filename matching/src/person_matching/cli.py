"""Command line for binational person matching on your own data.

    alliance-match match pairs.csv [-o out.csv]     add match, score and reasons columns
    alliance-match evaluate labelled.csv             print precision and recall against expected_match

Input columns: left_given_names, left_surnames, left_dob, left_nationality, right_given_names,
right_surnames, right_dob, right_nationality (dates ISO YYYY-MM-DD or empty; nationality ISO alpha-2
or empty). ``evaluate`` also needs ``expected_match`` (true/false).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from person_matching.matching import MATCH_THRESHOLD, MatchResult, PersonRecord, match_people

COLUMNS = [
    f"{side}_{field}" for side in ("left", "right") for field in ("given_names", "surnames", "dob", "nationality")
]


class InputError(ValueError):
    pass


def _person(row: dict[str, str], side: str) -> PersonRecord:
    return PersonRecord.parse(
        row[f"{side}_given_names"] or "",
        row[f"{side}_surnames"] or "",
        (row[f"{side}_dob"] or "").strip() or None,
        row[f"{side}_nationality"] or None,
    )


def read_rows(handle: TextIO, extra: tuple[str, ...] = ()) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(handle)
    missing = [c for c in (*COLUMNS, *extra) if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}; expected header: {','.join(COLUMNS)}")
    yield from reader


def decide(row: dict[str, str], threshold: float = MATCH_THRESHOLD) -> MatchResult:
    return match_people(_person(row, "left"), _person(row, "right"), threshold)


def match_file(source: TextIO, target: TextIO, threshold: float = MATCH_THRESHOLD) -> int:
    reader = csv.DictReader(source)
    if any(c not in (reader.fieldnames or []) for c in COLUMNS):
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        raise InputError(f"missing column(s): {', '.join(missing)}; expected header: {','.join(COLUMNS)}")
    fields = [*(reader.fieldnames or []), "match", "score", "reasons"]
    writer = csv.DictWriter(target, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in reader:
        result = decide(row, threshold)
        writer.writerow(
            {
                **row,
                "match": str(result.match).lower(),
                "score": f"{result.score:.3f}",
                "reasons": "; ".join(result.reasons),
            }
        )
        count += 1
    return count


def evaluate(source: TextIO, threshold: float = MATCH_THRESHOLD) -> tuple[float, float, list[str]]:
    """Precision, recall and the rows it got wrong."""
    tp = fp = fn = 0
    wrong: list[str] = []
    for line, row in enumerate(read_rows(source, ("expected_match",)), start=2):
        expected = row["expected_match"].strip().lower() in {"true", "1", "yes"}
        result = decide(row, threshold)
        tp += result.match and expected
        fp += result.match and not expected
        fn += expected and not result.match
        if result.match != expected:
            wrong.append(
                f"line {line}: expected {expected}, got {result.match} ({result.score:.3f}): "
                f"{row['left_given_names']} {row['left_surnames']} | {row['right_given_names']} "
                f"{row['right_surnames']} — {'; '.join(result.reasons)}"
            )
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alliance-match", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("match", help="decide every pair in a CSV file")
    m.add_argument("input", type=Path)
    m.add_argument("-o", "--output", type=Path, help="output CSV (default: standard output)")
    e = sub.add_parser("evaluate", help="precision and recall on a labelled CSV file")
    e.add_argument("input", type=Path)
    e.add_argument("--min-precision", type=float, default=0.0)
    e.add_argument("--min-recall", type=float, default=0.0)
    e.add_argument("--show-errors", action="store_true")
    for p in (m, e):
        p.add_argument("--threshold", type=float, default=MATCH_THRESHOLD)
    args = parser.parse_args(argv)
    try:
        with args.input.open(newline="", encoding="utf-8") as source:
            if args.command == "match":
                if args.output:
                    with args.output.open("w", newline="", encoding="utf-8") as target:
                        count = match_file(source, target, args.threshold)
                    print(f"{count} pairs written to {args.output}", file=sys.stderr)
                else:
                    match_file(source, sys.stdout, args.threshold)
                return 0
            precision, recall, wrong = evaluate(source, args.threshold)
    except (OSError, InputError) as exc:
        print(f"alliance-match: {exc}", file=sys.stderr)
        return 2
    print(f"precision={precision:.4f} recall={recall:.4f}")
    if args.show_errors:
        print("\n".join(wrong), file=sys.stderr)
    return 0 if precision >= args.min_precision and recall >= args.min_recall else 1


if __name__ == "__main__":
    sys.exit(main())
