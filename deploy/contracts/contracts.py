"""The published contracts of every service, and the compatibility gate that protects their consumers.

    python deploy/contracts/contracts.py export DIR   each service's AsyncAPI document, and the JSON
                                                      Schema of every event type it sends or receives
    python deploy/contracts/contracts.py check        compare what each service publishes with the last
                                                      release (deploy/contracts/released/); exit 1 on a
                                                      change that would break a consumer
    python deploy/contracts/contracts.py release      record the current schemas as the release

A breaking change is a removed event type, a removed or retyped field, or a new required field —
unless the event type's version is bumped (``….v2`` published beside or instead of ``….v1``).
Adding event types, optional fields or documentation is not breaking. ``make lint`` runs ``check``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RELEASED = Path(__file__).resolve().parent / "released"
SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]

Schema = dict[str, Any]


def spec_of(service: str) -> Any:
    return importlib.import_module(f"{service}.app").SPEC


def published(service: str) -> dict[str, Schema]:
    """Event type → standalone JSON Schema (with its ``$defs``) of every fact the service publishes."""
    return {m.EVENT_TYPE: m.model_json_schema() for models in spec_of(service).publishes.values() for m in models}


def received(service: str) -> dict[str, Schema]:
    return {r.event.EVENT_TYPE: r.event.model_json_schema() for r in spec_of(service).routes}


def export(target: Path) -> None:
    from alliance.runtime.service import asyncapi_document
    from alliance.runtime.settings import Settings

    for service in SERVICES:
        folder = target / service
        (folder / "schemas").mkdir(parents=True, exist_ok=True)
        document = asyncapi_document(spec_of(service), Settings())
        (folder / "asyncapi.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        for event_type, schema in {**received(service), **published(service)}.items():
            (folder / "schemas" / f"{event_type}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


# -- the gate ----------------------------------------------------------------------------------------


def _resolve(schema: Schema, root: Schema) -> Schema:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = root.get("$defs", {}).get(name, {})
    return schema


def _kind(schema: Schema, root: Schema) -> Any:
    """What a value of this schema is, for telling a retyped field from an unchanged one."""
    schema = _resolve(schema, root)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return (combinator, tuple(sorted(repr(_kind(s, root)) for s in schema[combinator])))
    if "const" in schema:
        return ("const", schema["const"])
    return schema.get("type", "any")


def breaking_changes(old: Schema, new: Schema, path: str = "") -> list[str]:
    """Why a consumer written against ``old`` would break on ``new`` (empty when it would not)."""
    problems: list[str] = []

    def compare(o: Schema, n: Schema, where: str) -> None:
        o_kind, n_kind = _kind(o, old), _kind(n, new)
        if o_kind != n_kind:
            problems.append(f"{where or '(payload)'}: type changed from {o_kind} to {n_kind}")
            return
        o, n = _resolve(o, old), _resolve(n, new)
        if o.get("type") == "object" or "properties" in o:
            o_props, n_props = o.get("properties", {}), n.get("properties", {})
            for name, sub in o_props.items():
                if name not in n_props:
                    problems.append(f"{where}{name}: removed")
                else:
                    compare(sub, n_props[name], f"{where}{name}.")
            for name in sorted(set(n.get("required", [])) - set(o.get("required", []))):
                problems.append(f"{where}{name}: newly required")
        if o.get("type") == "array" and "items" in o and "items" in n:
            compare(o["items"], n["items"], f"{where}[].")
        for combinator in ("anyOf", "oneOf"):
            for a, b in zip(o.get(combinator, []), n.get(combinator, []), strict=False):
                compare(a, b, where)

    compare(old, new, path)
    return problems


def _version(event_type: str) -> tuple[str, int]:
    match = re.fullmatch(r"(.*)\.v(\d+)", event_type)
    return (match.group(1), int(match.group(2))) if match else (event_type, 0)


def gate(released: dict[str, Schema], current: dict[str, Schema]) -> list[str]:
    """Breaking changes between a service's released and current publications."""
    problems: list[str] = []
    newest: dict[str, int] = {}
    for event_type in current:
        base, version = _version(event_type)
        newest[base] = max(version, newest.get(base, 0))
    for event_type, old in sorted(released.items()):
        base, version = _version(event_type)
        if event_type not in current:
            if newest.get(base, 0) <= version:
                problems.append(f"{event_type}: no longer published (publish a new version instead)")
            continue
        problems += [f"{event_type}: {p}" for p in breaking_changes(old, current[event_type])]
    return problems


def check() -> int:
    failures = 0
    for service in SERVICES:
        folder = RELEASED / service
        released = {p.name.removesuffix(".json"): json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
        if not released:
            print(f"{service}: no released contracts to compare with (run `release`)")
            failures += 1
            continue
        for problem in gate(released, published(service)):
            print(f"{service}: {problem}")
            failures += 1
    if failures:
        print("breaking contract changes: bump the event type's version, or release the change on purpose")
        return 1
    print(f"contracts: compatible with the released ones ({len(SERVICES)} services)")
    return 0


def release() -> None:
    for service in SERVICES:
        folder = RELEASED / service
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for event_type, schema in published(service).items():
            (folder / f"{event_type}.json").write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["export", "check", "release"])
    parser.add_argument("target", nargs="?", type=Path, default=ROOT / ".local" / "contracts")
    args = parser.parse_args()
    if args.command == "export":
        export(args.target)
        print(f"written to {args.target}")
        return 0
    if args.command == "release":
        release()
        return 0
    return check()


if __name__ == "__main__":
    sys.exit(main())
