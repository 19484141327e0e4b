"""Command line for binational person matching on your own data.

    alliance-match match pairs.csv [-o out.csv]     add match, decision, score and reasons columns
    alliance-match evaluate labelled.csv             precision and recall against expected_match, per class

Input columns: left_given_names, left_surnames, left_dob, left_nationality, right_given_names,
right_surnames, right_dob, right_nationality (dates ISO YYYY-MM-DD or empty; nationality ISO alpha-2
or empty; a partial date such as 1985 or 1985-07 is compared at its precision). ``decision`` is match,
possible (an analyst should review) or no_match; ``match`` is true only for match.

``evaluate`` also needs ``expected_match``: true, false, or review (the pair should go to an analyst:
counted right when possible, a false match when match). A ``class`` column, if present, is reported
per class: recall for classes of true pairs, the rate of false matches for the others (a possible
counts as not matched). Targets: --min-precision, --min-recall, --min-class-recall and
--max-class-false-match; the exit code is 1 when any is missed.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    fields = [*(reader.fieldnames or []), "match", "decision", "score", "reasons"]
    writer = csv.DictWriter(target, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in reader:
        result = decide(row, threshold)
        writer.writerow(
            {
                **row,
                "match": str(result.match).lower(),
                "decision": result.decision.value,
                "score": f"{result.score:.3f}",
                "reasons": "; ".join(result.reasons),
            }
        )
        count += 1
    return count


@dataclass
class Tally:
    """Counts for one class (or the whole set)."""

    expected_true: bool = True
    rows: int = 0
    matched: int = 0
    possible: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def false_match_rate(self) -> float:
        return self.fp / self.rows if self.rows else 0.0


@dataclass
class Report:
    overall: Tally = field(default_factory=Tally)
    classes: dict[str, Tally] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)


def evaluate_report(source: TextIO, threshold: float = MATCH_THRESHOLD) -> Report:
    report = Report()
    for line, row in enumerate(read_rows(source, ("expected_match",)), start=2):
        label = row["expected_match"].strip().lower()
        expected = label in {"true", "1", "yes"}
        review = label == "review"
        result = decide(row, threshold)
        name = row.get("class") or ""
        tally = report.classes.setdefault(name, Tally(expected_true=expected)) if name else None
        for t in (report.overall, tally):
            if t is None:
                continue
            t.rows += 1
            t.matched += result.match
            t.possible += result.possible
            t.tp += result.match and expected
            t.fp += result.match and not expected
            t.fn += expected and not result.match
        right = result.possible if review else result.match == expected
        if not right:
            report.wrong.append(
                f"line {line}: expected {label}, got {result.decision.value} ({result.score:.3f}): "
                f"{row['left_given_names']} {row['left_surnames']} | {row['right_given_names']} "
                f"{row['right_surnames']} — {'; '.join(result.reasons)}"
            )
    return report


def evaluate(source: TextIO, threshold: float = MATCH_THRESHOLD) -> tuple[float, float, list[str]]:
    """Precision, recall and the rows it got wrong."""
    report = evaluate_report(source, threshold)
    return report.overall.precision, report.overall.recall, report.wrong


def print_report(report: Report) -> None:
    o = report.overall
    print(f"precision={o.precision:.4f} recall={o.recall:.4f} (rows={o.rows}, possible={o.possible})")
    for name, t in sorted(report.classes.items(), key=lambda kv: (not kv[1].expected_true, kv[0])):
        figure = f"recall={t.recall:.3f}" if t.expected_true else f"false_match={t.false_match_rate:.3f}"
        print(f"  {name:<36} {figure}  (rows={t.rows}, match={t.matched}, possible={t.possible})")


def misses(report: Report, args: argparse.Namespace) -> list[str]:
    o = report.overall
    found = []
    if o.precision < args.min_precision:
        found.append(f"precision {o.precision:.4f} < {args.min_precision}")
    if o.recall < args.min_recall:
        found.append(f"recall {o.recall:.4f} < {args.min_recall}")
    for name, t in report.classes.items():
        if t.expected_true and t.recall < args.min_class_recall:
            found.append(f"class {name}: recall {t.recall:.3f} < {args.min_class_recall}")
        if not t.expected_true and t.false_match_rate > args.max_class_false_match:
            found.append(f"class {name}: false matches {t.false_match_rate:.3f} > {args.max_class_false_match}")
    return found


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
    e.add_argument("--min-class-recall", type=float, default=0.0)
    e.add_argument("--max-class-false-match", type=float, default=1.0)
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
            report = evaluate_report(source, args.threshold)
    except (OSError, InputError) as exc:
        print(f"alliance-match: {exc}", file=sys.stderr)
        return 2
    print_report(report)
    if args.show_errors:
        print("\n".join(report.wrong), file=sys.stderr)
    failed = misses(report, args)
    for miss in failed:
        print(f"BELOW TARGET: {miss}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
