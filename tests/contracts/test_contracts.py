"""Contracts integrators can use: AsyncAPI documents the official parser accepts, and a gate that
refuses a change which would break a consumer."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "deploy" / "contracts" / "validator"
INSTALLED = ROOT / ".local" / "contract-validator"

_spec = importlib.util.spec_from_file_location("contracts", ROOT / "deploy" / "contracts" / "contracts.py")
assert _spec is not None
assert _spec.loader is not None
contracts: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contracts)


def validator() -> Path:
    """The official AsyncAPI parser from npm, installed once under .local (again when its lock changes)."""
    lock = (VALIDATOR / "package-lock.json").read_bytes()
    stamp = INSTALLED / ".lock-sha256"
    if not stamp.exists() or stamp.read_text() != hashlib.sha256(lock).hexdigest():
        INSTALLED.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json", "validate.mjs"):
            shutil.copy(VALIDATOR / name, INSTALLED / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=INSTALLED, check=True, timeout=600
        )
        stamp.write_text(hashlib.sha256(lock).hexdigest())
    shutil.copy(VALIDATOR / "validate.mjs", INSTALLED / "validate.mjs")
    return INSTALLED / "validate.mjs"


def test_every_service_s_asyncapi_document_passes_the_official_parser(tmp_path: Path) -> None:
    contracts.export(tmp_path)
    documents = sorted(str(p) for p in tmp_path.glob("*/asyncapi.json"))
    assert len(documents) == 5
    done = subprocess.run(["node", str(validator()), *documents], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": valid") == 5


def test_every_event_type_has_its_json_schema_file(tmp_path: Path) -> None:
    contracts.export(tmp_path)
    for service in contracts.SERVICES:
        files = {p.name.removesuffix(".json") for p in (tmp_path / service / "schemas").glob("*.json")}
        assert files == set(contracts.received(service)) | set(contracts.published(service))


def test_what_is_published_now_is_compatible_with_the_release() -> None:
    assert contracts.check() == 0


RELEASED = json.loads(
    (ROOT / "deploy/contracts/released/firearms/org.alliance.firearms.trace.completed.v1.json").read_text()
)
TYPE = "org.alliance.firearms.trace.completed.v1"


def changed(change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(RELEASED)
    change(schema)
    return {TYPE: schema}


def test_the_gate_refuses_a_removed_retyped_or_newly_required_field_and_a_removed_type() -> None:
    field = next(iter(RELEASED["properties"]))
    assert contracts.gate({TYPE: RELEASED}, changed(lambda s: s["properties"].pop(field)))
    assert contracts.gate({TYPE: RELEASED}, changed(lambda s: s["properties"].update({field: {"type": "boolean"}})))

    def new_required(schema: dict[str, Any]) -> None:
        schema["properties"]["case_number"] = {"type": "string"}
        schema.setdefault("required", []).append("case_number")

    assert contracts.gate({TYPE: RELEASED}, changed(new_required))
    assert contracts.gate({TYPE: RELEASED}, {})  # the event type is gone


def test_the_gate_accepts_an_additive_change_and_a_version_bump() -> None:
    def add_optional(schema: dict[str, Any]) -> None:
        schema["properties"]["remarks"] = {"type": "string"}

    assert contracts.gate({TYPE: RELEASED}, changed(add_optional)) == []
    assert contracts.gate({TYPE: RELEASED}, {TYPE.replace(".v1", ".v2"): {"type": "object"}}) == []


def _nullable(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    return (
        kinds == "null"
        or (isinstance(kinds, list) and "null" in kinds)
        or any(_nullable(s) for s in schema.get("anyOf", []) + schema.get("oneOf", []))
    )


def required_yet_nullable(schema: dict[str, Any]) -> list[str]:
    """Fields a schema requires but lets be null: Alliance leaves a None field out of the records it writes
    (``EventData.to_data``), so such a record would lack a required field and break its own contract."""
    found: list[str] = []
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(defs[name], f"{where}<{name}>", seen | {name})
            return
        for name in node.get("required", []):
            if _nullable(node.get("properties", {}).get(name, {})):
                found.append(f"{where}{name}")
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{where}{name}.", seen)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key], f"{where}[].", seen)
        for sub in node.get("anyOf", []) + node.get("oneOf", []) + node.get("allOf", []):
            walk(sub, where, seen)

    walk(schema, "", frozenset())
    return found


def test_no_type_alliance_sends_requires_a_field_it_leaves_out_when_empty() -> None:
    """Issue 17 item 4: rejections of records without a readable ce_id lacked the required
    ``rejected_event_id``. Every type a service sends (facts, deliveries, audit, rejections) is checked."""
    offenders = []
    for service in contracts.SERVICES:
        document = contracts.document_of(service)
        schemas = contracts.message_schemas(document)
        sent = {
            document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]["name"]
            for operation in document["operations"].values()
            if operation["action"] == "send"
            for ref in operation["messages"]
        }
        offenders += [
            f"{event_type}: {field}"
            for event_type in sorted(sent)
            for field in required_yet_nullable(schemas[event_type])
        ]
    assert sorted(set(offenders)) == []
