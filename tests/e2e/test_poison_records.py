"""No record wedges a consumer: each poison record ends as exactly one dead letter and one rejection,
and the valid record sent right after it with the same key is recorded. Runs interdiction alone in a
namespace of its own, so the counts below are of this test's records only."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from harness import BOOTSTRAP, ROOT, OtlpReceiver, Record, System, kafka_login, read_all, read_until, wait_drained
from payloads.firearms import gun
from payloads.interdiction import seizure_reported

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
REJECTED = "org.alliance.event.rejected.v1"
RAW_HEADERS = "alliance-unreadable-headers"  # every header of an undecodable record, as sent (base64)


@pytest.fixture(scope="module")
def alone(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    system = System(namespace=f"p{uuid.uuid4().hex[:10]}", otlp=otlp)
    try:
        system.start("interdiction")
        yield system
    finally:
        system.stop_all()


def seizure(reference: str, guns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return seizure_reported(reference, firearms=[gun("S-" + reference)] if guns is None else guns)


NULL = b"<null>"  # a header sent with a null value


def headers(event_id: str, source: str, **overrides: str | bytes | None) -> list[tuple[str, bytes | None]]:
    base: dict[str, str | bytes | None] = {
        "ce_id": event_id,
        "ce_source": source,
        "ce_type": REPORTED,
        "ce_specversion": "1.0",
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
        "ce_tlp": "AMBER",
        "ce_releasableto": "US,MX",
        "ce_originator": "us-cbp",
        "ce_orcon": "false",
    }
    base.update(overrides)
    return [
        (k, None if v == NULL else v if isinstance(v, bytes) else v.encode()) for k, v in base.items() if v is not None
    ]


def bad_guns(n: int) -> list[dict[str, Any]]:
    return [{"serial_number": None, "maker": "", "firearm_type": "cannon"} for _ in range(n)]


# name: (value, header overrides); each gets its own ce_id and key
POISONS: dict[str, tuple[bytes | None, dict[str, str | bytes | None]]] = {
    "nested arrays": (b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}", {}),
    "huge record": (json.dumps({**seizure("huge"), "pad": "a" * 700_000}).encode(), {}),
    "data not UTF-8": (b'{"report_reference": "\xff\xfe"}', {}),
    "NaN": (json.dumps(seizure("nan")).replace('"Glock"', '"Glock", "x": NaN').encode(), {}),
    "Infinity": (b'{"report_reference": "inf", "seizure": Infinity}', {}),
    "tombstone": (None, {}),
    "no content-type": (json.dumps(seizure("noct")).encode(), {"content-type": None}),
    "wrong content-type": (json.dumps(seizure("xml")).encode(), {"content-type": "application/xml"}),
    "header value not UTF-8": (json.dumps(seizure("hv")).encode(), {"ce_subject": b"\xff\xfe"}),
    "null header value": (json.dumps(seizure("hn")).encode(), {"ce_source": NULL}),
    "time in the future": (json.dumps(seizure("future")).encode(), {"ce_time": "2999-01-01T00:00:00Z"}),
    "too many guns": (
        json.dumps(seizure("many", [{"serial_number": "X", "maker": "G", "firearm_type": "pistol"}] * 501)).encode(),
        {},
    ),
    "thousands of errors": (json.dumps(seizure("errors", bad_guns(500))).encode(), {}),
}


async def test_every_poison_record_is_dead_lettered_once_and_the_next_record_with_its_key_is_recorded(
    alone: System,
) -> None:
    intake = alone.topic("alliance.interdiction.intake.us-cbp")  # the customs post's own intake topic
    source = f"urn:agency:us-cbp:poison-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, max_request_size=2 * 1024 * 1024, **kafka_login("us-cbp"))
    await producer.start()
    poison_ids: dict[str, str] = {}
    references: list[str] = []
    try:
        for name, (value, overrides) in POISONS.items():
            key = f"key-{uuid.uuid4().hex[:8]}"
            poison_ids[name] = f"poison-{uuid.uuid4().hex[:8]}"
            await producer.send_and_wait(
                intake, value, key=key.encode(), headers=headers(poison_ids[name], source, **overrides)
            )
            reference = f"after-{name}-{uuid.uuid4().hex[:6]}".replace(" ", "-")
            references.append(reference)
            await producer.send_and_wait(
                intake,
                json.dumps(seizure(reference)).encode(),
                key=key.encode(),
                headers=headers(str(uuid.uuid4()), source),
            )
        # A header name that is not UTF-8 (aiokafka itself cannot decode it), then a valid record.
        key = f"key-{uuid.uuid4().hex[:8]}"
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "tests" / "tools" / "undecodable_record.py"),
            BOOTSTRAP,
            intake,
            key,
            env={**os.environ, "KAFKA_LOGIN": json.dumps(kafka_login("us-cbp"))},
        )
        assert await writer.wait() == 0
        reference = f"after-undecodable-{uuid.uuid4().hex[:6]}"
        references.append(reference)
        await producer.send_and_wait(
            intake,
            json.dumps(seizure(reference)).encode(),
            key=key.encode(),
            headers=headers(str(uuid.uuid4()), source),
        )
    finally:
        await producer.stop()

    def recorded(records: list[Record]) -> set[str]:
        return {r.json()["report_reference"] for r in records if r.type == RECORDED}

    await read_until([alone.topic("alliance.interdiction.events")], lambda rs: set(references) <= recorded(rs))
    await wait_drained(alone.group("interdiction", "intake"), [intake])

    # Read everything now that the consumer has committed every record.
    facts = await read_all([alone.topic("alliance.interdiction.events")])
    letters = await read_all([alone.topic("alliance.interdiction.deadletter")])
    reply_topics = [
        alone.topic("alliance.replies.us-cbp"),
    ]
    rejections = [r for r in await read_all(reply_topics) if r.type == REJECTED]

    assert sorted(r.json()["report_reference"] for r in facts if r.type == RECORDED) == sorted(references)
    assert len(letters) == len(POISONS) + 1
    assert all(r.headers.get("alliance_dlq_reason") for r in letters)
    assert len(rejections) == len(POISONS) + 1
    by_id = [r.json().get("rejected_event_id") for r in rejections]
    for name, event_id in poison_ids.items():
        if name != "header value not UTF-8":  # its headers cannot be read, so neither can its id
            assert by_id.count(event_id) == 1, name
    reasons = " | ".join(r.json()["reason"] for r in rejections)
    for expected in (
        "deeper than 32",
        "at most 524288",
        "not valid JSON",
        "NaN",
        "Infinity",
        "tombstone",
        "missing content-type",
        "content-type must be",
        "not UTF-8",
        "in the future",
        "at most 500 items",
        "cannot be decoded",
    ):
        assert expected in reasons, expected
    [many_errors] = [
        r.json() for r in rejections if r.json().get("rejected_event_id") == poison_ids["thousands of errors"]
    ]
    assert len(many_errors["errors"]) == 20  # the first errors only: the rejection stays small
    assert len(json.dumps(many_errors)) < 20_000
    health = alone.services["interdiction"].health()
    assert health["events_refused"] == len(POISONS) + 1


async def write_one_batch(topic: str, key: str, records: list[dict[str, Any]], codec: str | None = None) -> None:
    """As the customs post: ``records`` in ONE Kafka batch (see tests/tools/undecodable_record.py)."""
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "tests" / "tools" / "undecodable_record.py"),
        BOOTSTRAP,
        topic,
        key,
        json.dumps(records),
        *([codec] if codec else []),
        env={**os.environ, "KAFKA_LOGIN": json.dumps(kafka_login("us-cbp"))},
    )
    assert await writer.wait() == 0


async def test_a_valid_record_batched_with_an_undecodable_one_is_recorded_and_only_the_bad_one_is_dead_lettered(
    alone: System,
) -> None:
    """Issue 17 item 3: a record whose header name is not UTF-8 and a valid seizure in one batch (then
    a compressed batch with a bad record between two valid ones): each bad record is one dead letter
    with its original bytes and one rejection; every valid record is recorded; the next record flows."""
    intake = alone.topic("alliance.interdiction.intake.us-cbp")
    source = f"urn:agency:us-cbp:batch-{uuid.uuid4().hex[:6]}"
    key = f"batch-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:6]
    bad = {f"bad-{i}-{tag}": json.dumps(seizure(f"bad-{i}-{tag}")) for i in (1, 2)}
    good = [f"good-{i}-{tag}" for i in (1, 2, 3)]

    def record(reference: str, event_id: str, undecodable: bool = False) -> dict[str, Any]:
        value = bad.get(event_id) or json.dumps(seizure(reference))
        sent = [[k, (v or b"").decode()] for k, v in headers(event_id, source)]
        return {"value": value, "headers": sent, "undecodable": undecodable}

    [bad1, bad2] = bad
    await write_one_batch(intake, key, [record("", bad1, True), record(good[0], f"id-{good[0]}")])
    await write_one_batch(
        intake,
        key,
        [record(good[1], f"id-{good[1]}"), record("", bad2, True), record(good[2], f"id-{good[2]}")],
        "gzip",
    )
    after = f"after-batch-{tag}"
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **kafka_login("us-cbp"))
    await producer.start()
    try:
        await producer.send_and_wait(
            intake, json.dumps(seizure(after)).encode(), key=key.encode(), headers=headers(f"id-{after}", source)
        )
    finally:
        await producer.stop()

    wanted = {*good, after}

    def recorded(records: list[Record]) -> list[str]:
        return [r.json()["report_reference"] for r in records if r.type == RECORDED]

    await read_until([alone.topic("alliance.interdiction.events")], lambda rs: wanted <= set(recorded(rs)))
    await wait_drained(alone.group("interdiction", "intake"), [intake])
    facts = await read_all([alone.topic("alliance.interdiction.events")])
    letters = [r for r in await read_all([alone.topic("alliance.interdiction.deadletter")]) if r.key == key]
    rejections = [
        r.json()
        for r in await read_all([alone.topic("alliance.replies.us-cbp")])
        if r.type == REJECTED and r.json().get("rejected_event_source") == source
    ]

    assert sorted(ref for ref in recorded(facts) if ref.endswith(tag)) == sorted(wanted)
    assert sorted(r.headers.get("ce_id", "") for r in letters) == sorted(bad)  # one each, with its readable headers
    for letter in letters:
        assert letter.value == bad[letter.headers["ce_id"]].encode()  # the original value, byte for byte
        assert "cannot be decoded" in letter.headers["alliance-unreadable"]
        sent = [[base64.b64decode(n), base64.b64decode(v)] for n, v in json.loads(letter.headers[RAW_HEADERS])]
        assert sent[-1] == [b"ce_\xff\xfe", b"v"]  # the header no client can read, kept as sent
        assert [n.decode() for n, _ in sent[:-1]] == [n for n, _ in headers("x", source)]
    assert sorted(r["rejected_event_id"] for r in rejections) == sorted(bad)
    assert all("cannot be decoded" in r["reason"] for r in rejections)
