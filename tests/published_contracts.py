"""Every record Alliance wrote holds to the contracts Alliance publishes (issue 17 item 4).

Each topic of a namespace is either one that the services' AsyncAPI documents say they send on (facts,
deliveries, audit, rejections), and then each of its records must be a message declared on that channel:
its value valid against the message's JSON Schema, its headers against the message's headers schema, its
markings readable, its ``ce_time`` a time; or a topic Alliance does not write as a contract (agencies'
intake topics, dead letters that copy what an agency sent, the operators' registry and replay streams).
A topic that is neither is an offence too: Alliance would be writing something no contract declares.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from jsonschema import Draft202012Validator

from alliance.contracts.markings import MarkingError, Markings
from harness import BOOTSTRAP, Record, operator, read_all

ROOT = Path(__file__).resolve().parents[1]
# Topics Alliance writes without a published contract: what agencies sent (intake), verbatim copies of it
# (dead letters), and the operators' own streams.
# Written by agencies and operators (intake, registry, replay requests) or kept whole (dead letters).
NOT_CONTRACTS = re.compile(
    r"alliance\.([a-z_]+\.intake\..+|[a-z_]+\.deadletter|registry|operations\.replays|operations\.replay_requests)"
)


@cache
def _contracts() -> Any:
    spec = importlib.util.spec_from_file_location("contracts", ROOT / "deploy" / "contracts" / "contracts.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def channels() -> list[tuple[re.Pattern[str], dict[str, tuple[Draft202012Validator, Draft202012Validator]]]]:
    """Each channel a service sends on (its address as a pattern) → event type → (payload, headers) validators."""
    contracts = _contracts()
    table: dict[str, dict[str, tuple[Draft202012Validator, Draft202012Validator]]] = {}
    for service in contracts.SERVICES:
        document = contracts.document_of(service)
        payloads = contracts.message_schemas(document)
        for operation in document["operations"].values():
            if operation["action"] != "send":
                continue
            address = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
            for ref in operation["messages"]:
                message = document["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]
                table.setdefault(address, {})[message["name"]] = (
                    Draft202012Validator(payloads[message["name"]]),
                    Draft202012Validator(message["headers"]),
                )
    return [
        (re.compile(re.escape(address).replace(re.escape("{agency}"), "[^.]+")), messages)
        for address, messages in table.items()
    ]


def offences(record: Record, topic: str) -> list[str]:
    """Why one record breaks the published contract of ``topic``, a channel (its name without the namespace)."""
    declared = [messages for pattern, messages in channels() if pattern.fullmatch(topic)]
    messages = {name: validators for table in declared for name, validators in table.items()}
    if record.type not in messages:
        return [f"ce_type {record.type!r} is not a message of this channel"]
    payload, headers = messages[record.type]
    try:
        value = json.loads(record.value)
    except ValueError:
        return ["the value is not JSON"]
    found = [f"data{''.join(f'.{p}' for p in e.absolute_path)}: {e.message}" for e in payload.iter_errors(value)]
    found += [f"headers: {e.message}" for e in headers.iter_errors(record.headers)]
    try:
        Markings.from_attributes({k[3:]: v for k, v in record.headers.items() if k.startswith("ce_")})
    except MarkingError as exc:
        found.append(f"markings: {exc}")
    try:
        datetime.fromisoformat(record.headers.get("ce_time", ""))
    except ValueError:
        found.append(f"ce_time {record.headers.get('ce_time')!r} is not a time")
    return found


async def contract_offences(namespaces: list[str], shown: int = 40) -> tuple[int, list[str]]:
    """How many records of ``namespaces`` were read, and each kind of offence with a count and an example."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **operator())
    await admin.start()
    try:
        existing = await admin.list_topics()
    finally:
        await admin.close()
    read, seen, example = 0, Counter[tuple[str, str, str]](), {}
    for namespace in namespaces:
        topics = []
        for topic in sorted(t for t in existing if t.startswith(f"{namespace}.")):
            name = topic.removeprefix(f"{namespace}.")
            if any(pattern.fullmatch(name) for pattern, _ in channels()):
                topics.append(topic)
            elif not NOT_CONTRACTS.fullmatch(name):
                kind = (name, "-", "a topic no published contract declares")
                seen[kind] += 1
                example.setdefault(kind, topic)
        if not topics:
            continue
        for record in await read_all(topics):
            read += 1
            topic = record.topic.removeprefix(f"{namespace}.")
            for offence in offences(record, topic):
                kind = (topic, str(record.type), offence)
                seen[kind] += 1
                example.setdefault(kind, f"{record.topic} key={record.key} ce_id={record.headers.get('ce_id')}")
    lines = [f"{n} x {t} {ty}: {o} (e.g. {example[(t, ty, o)]})" for (t, ty, o), n in seen.most_common(shown)]
    if len(seen) > shown:
        lines.append(f"… and {len(seen) - shown} more kinds")
    return read, lines
