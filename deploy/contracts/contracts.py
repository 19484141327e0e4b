"""The published contracts of every service, and the compatibility gate that protects their consumers.

    python deploy/contracts/contracts.py export DIR   each service's AsyncAPI document, and the JSON
                                                      Schema of every event type it sends or receives
    python deploy/contracts/contracts.py check        compare what each service publishes with the last
                                                      release (deploy/contracts/released/); exit 1 on a
                                                      change that would break a consumer
    python deploy/contracts/contracts.py release      record the current schemas as the release
    python deploy/contracts/contracts.py publish      write the contracts for integrators into docs/contracts/
                                                      (git-tracked; ``check`` fails when they are stale)
    python deploy/contracts/contracts.py html [DIR]   the HTML reference, rendered by AsyncAPI's own
                                                      generator and HTML template (``make contracts-html``)

A breaking change is a removed event type, a removed or retyped field, or a new required field —
unless the event type's version is bumped (``….v2`` published beside or instead of ``….v1``).
Adding event types, optional fields or documentation is not breaking. ``make lint`` runs ``check``.

The published contracts (docs/contracts/<service>/) are each service's AsyncAPI document and one
JSON Schema per event type and version it sends or receives (``schemas/<event type>.json``, the
event type ending in ``.v<N>``), written with the default settings (no namespace) so that they do
not depend on the machine that writes them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RELEASED = Path(__file__).resolve().parent / "released"
DOCS = ROOT / "docs" / "contracts"
REFERENCE = Path(__file__).resolve().parent / "reference"  # AsyncAPI's generator and HTML template, pinned
REFERENCE_INSTALL = ROOT / ".local" / "contract-reference"
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


# -- the published contracts, for integrators ---------------------------------------------------------


def document_of(service: str) -> Schema:
    """The service's AsyncAPI document with the default settings (the environment is not read)."""
    from alliance.runtime.service import asyncapi_document
    from alliance.runtime.settings import Settings

    document: Schema = asyncapi_document(spec_of(service), Settings.model_construct())
    return document


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True) + "\n"


def message_schemas(document: Schema) -> dict[str, Schema]:
    """Event type → standalone JSON Schema of each message of an AsyncAPI document.

    The payload with the component schemas it refers to (transitively) as its ``$defs``: the same
    schema as the model's own ``model_json_schema()``, taken from the document so that both agree.
    """
    components: Schema = document["components"]["schemas"]
    result: dict[str, Schema] = {}
    for message in document["components"]["messages"].values():
        text = json.dumps(message["payload"])
        wanted = set(re.findall(r'"#/components/schemas/([^"]+)"', text))
        seen: set[str] = set()
        while wanted - seen:
            name = sorted(wanted - seen)[0]
            seen.add(name)
            wanted |= set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(components[name])))
        schema: Schema = json.loads(text.replace('"#/components/schemas/', '"#/$defs/'))
        if seen:
            defs = {name: components[name] for name in sorted(seen)}
            schema["$defs"] = json.loads(json.dumps(defs).replace('"#/components/schemas/', '"#/$defs/'))
        result[message["name"]] = schema
    return result


def publication() -> dict[str, str]:
    """Path under docs/contracts → content: each service's AsyncAPI document and event schemas."""
    files: dict[str, str] = {}
    for service in SERVICES:
        document = document_of(service)
        files[f"{service}/asyncapi.json"] = _json(document)
        for event_type, schema in sorted(message_schemas(document).items()):
            files[f"{service}/schemas/{event_type}.json"] = _json(schema)
    return files


def _on_disk(target: Path) -> dict[str, str]:
    return {
        str(p.relative_to(target)): p.read_text()
        for service in SERVICES
        for p in sorted((target / service).rglob("*.json"))
    }


def publish(target: Path = DOCS) -> list[str]:
    """Write the published contracts into ``target`` (removing what is no longer published); returns the paths."""
    files = publication()
    for stale in set(_on_disk(target)) - set(files):
        (target / stale).unlink()
    for path, text in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        if not (target / path).exists() or (target / path).read_text() != text:
            (target / path).write_text(text)
    return sorted(files)


def stale(target: Path = DOCS) -> list[str]:
    """What in ``target`` differs from what the services publish now (empty when up to date)."""
    files, disk = publication(), _on_disk(target)
    problems = [f"{p}: missing" for p in sorted(set(files) - set(disk))]
    problems += [f"{p}: no longer published" for p in sorted(set(disk) - set(files))]
    problems += [f"{p}: out of date" for p in sorted(set(files) & set(disk)) if files[p] != disk[p]]
    return problems


def _reference_tools() -> Path:
    """AsyncAPI's generator and HTML template from npm, installed once under .local (again when the lock changes).

    ``--ignore-scripts``: the template's optional PDF output would download a browser; HTML needs none.
    """
    lock = (REFERENCE / "package-lock.json").read_bytes()
    stamp = REFERENCE_INSTALL / ".lock-sha256"
    if not stamp.exists() or stamp.read_text() != hashlib.sha256(lock).hexdigest():
        REFERENCE_INSTALL.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(REFERENCE / name, REFERENCE_INSTALL / name)
        npm = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
        subprocess.run(npm, cwd=REFERENCE_INSTALL, check=True, timeout=900)
        stamp.write_text(hashlib.sha256(lock).hexdigest())
    shutil.copy(REFERENCE / "render.cjs", REFERENCE_INSTALL / "render.cjs")
    return REFERENCE_INSTALL / "render.cjs"


def html(target: Path) -> Path:
    """The HTML reference of every service's contracts in ``target``; returns its index page.

    ``target/<service>/index.html`` is rendered from the service's AsyncAPI document by AsyncAPI's own
    generator and HTML template (self-contained: no network when viewed); ``target/index.html`` lists the
    services with their channels, operations and event types, each linked to its JSON Schema.
    """
    render = _reference_tools()
    publish(target)
    jobs = [
        subprocess.Popen(
            ["node", str(render), str(target / s / "asyncapi.json"), str(target / s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for s in SERVICES
    ]
    failures = []
    for service, job in zip(SERVICES, jobs, strict=True):
        output, _ = job.communicate(timeout=600)
        if job.returncode:
            failures.append(f"{service}: {output}")
    if failures:
        raise RuntimeError("the AsyncAPI generator failed:\n" + "\n".join(failures))
    index = target / "index.html"
    index.write_text(_index_page({s: json.loads((target / s / "asyncapi.json").read_text()) for s in SERVICES}))
    return index


def _index_page(documents: dict[str, Schema]) -> str:
    from html import escape

    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Alliance contracts</title>",
        "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{text-align:left;"
        "padding:.2em .6em;vertical-align:top}code{font-size:.9em}</style></head><body>",
        "<h1>Alliance contracts for integrators</h1><p>CloudEvents 1.0 in Kafka binary mode. Each service: its "
        "AsyncAPI 3.0 document, its reference (AsyncAPI's HTML template), and the JSON Schema of every event "
        "type it sends or receives.</p>",
    ]
    for service, document in documents.items():
        messages = document["components"]["messages"]
        parts.append(
            f"<h2 id={escape(service)}>{escape(document['info']['title'])} {escape(document['info']['version'])}</h2>"
            f"<p><a href='{service}/index.html'>reference</a> · <a href='{service}/asyncapi.json'>asyncapi.json</a>"
            "</p><table><tr><th>operation</th><th>channel</th><th>event types</th></tr>"
        )
        for operation_id, operation in sorted(document["operations"].items()):
            channel = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[-1]]
            cells = []
            for ref in operation["messages"]:
                message = messages[ref["$ref"].rsplit("/", 1)[-1]]
                name = message["name"]
                cells.append(
                    f"<a href='{service}/index.html#message-{escape(message['title'])}'>{escape(message['title'])}</a>"
                    f" <a href='{service}/schemas/{escape(name)}.json'><code>{escape(name)}</code></a>"
                )
            parts.append(
                f"<tr><td>{escape(operation['action'])} <code>{escape(operation_id)}</code></td>"
                f"<td><code>{escape(channel['address'])}</code></td><td>{'<br>'.join(cells)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


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
    outdated = stale()
    for problem in outdated:
        print(f"docs/contracts/{problem}")
    if outdated:
        print("the published contracts are stale: run `python deploy/contracts/contracts.py publish`")
        return 1
    print(f"contracts: compatible with the released ones and published ({len(SERVICES)} services)")
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
    parser.add_argument("command", choices=["export", "check", "release", "publish", "html"])
    parser.add_argument("target", nargs="?", type=Path, help="export: .local/contracts, html: .local/contracts-html")
    args = parser.parse_args()
    if args.command == "publish":
        written = publish()
        print(f"{len(written)} files in {DOCS.relative_to(ROOT)}")
        return 0
    if args.command == "html":
        index = html((args.target or ROOT / ".local" / "contracts-html").resolve())
        print(f"the HTML reference of the contracts: {index}")
        return 0
    args.target = args.target or ROOT / ".local" / "contracts"
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
