"""What operators read and do on the streams: read topics to their end, list and replay dead letters.

A dead letter keeps the refused record's key, value and headers byte for byte, plus why, where and
when (``alliance_dlq_*``). Replaying asks the service that refused it, after the cause was fixed (the
record it referred to arrived, the agency was registered…), to process that record again: operators
write no intake topic, so no operator can pose as an agency. The service re-reads its own dead
letter and processes the agency's original record as that agency's (see ``alliance.runtime.replays``),
once, and says what came of it on the replays stream. Only intake records are replayed; a service's
facts are never re-sent by a person.

Registry changes are written here too (:func:`register`): as a compare-and-set against the version
the operator read, only once the agency's topics exist, and read back to tell the operator whether
the change applied or lost to another made against the same version.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from alliance.contracts.envelope import CloudEvent
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.operations import DeadLetterReplayed, DeadLetterReplayRequested, ReplayOutcome
from alliance.contracts.registry import REGISTRY_TOPIC, Agency, AgencyRegistered, Registry, RegistryChangeRefused
from alliance.contracts.topics import (
    REPLAY_REQUESTS_TOPIC,
    REPLAYS_TOPIC,
    dead_letter_topic,
    delivery_topic,
    intake_topic,
    reply_topic_for,
)
from alliance.runtime.kafka_admin import KafkaAdmin
from alliance.runtime.registry import OPERATOR_SOURCE, Outcome, fold
from alliance.runtime.settings import Settings

SERVICES = ("interdiction", "firearms", "chemicals", "money_laundering", "extradition")
OPERATIONS_MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("alliance",))

Progress = Callable[[int, int], None]  # (records read, records to read)


async def read_topics(
    settings: Settings, topics: list[str], progress: Progress | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topics`` up to their current ends (topics that do not exist are skipped)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_security())
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if not t.get("error_code")
        for p in t["partitions"]
    ]
    # Earliest as the default reset too: aiokafka resets a newly assigned partition in the background,
    # and with "latest" that reset could land after seek_to_beginning (measured: positions at the end).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        **settings.kafka_security(),
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        if not partitions:
            return records
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        total = sum(ends[tp] - starts[tp] for tp in partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(m for m in messages if m.offset < ends[TopicPartition(m.topic, m.partition)])
            if progress is not None:
                progress(len(records), total)
    finally:
        await consumer.stop()
    return records


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", "replace") for k, v in record.headers or ()}


def coordinates(record: ConsumerRecord[bytes, bytes]) -> str:
    return f"{record.topic}:{record.partition}:{record.offset}"


def dead_letter_topics(settings: Settings, service: str | None = None) -> list[str]:
    return [settings.topic(dead_letter_topic(s)) for s in SERVICES if service in (None, s)]


def dead_letter_rows(records: list[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        h = headers_of(r)
        rows.append(
            {
                "at": h.get("alliance_dlq_time", ""),
                "service": h.get("alliance_dlq_service", ""),
                "topic": h.get("alliance_dlq_topic", ""),
                "event_id": h.get("ce_id", ""),
                "event_type": h.get("ce_type", ""),
                "reason": h.get("alliance_dlq_reason", "")[:300],
                "letter": coordinates(r),
            }
        )
    return rows


@dataclass(frozen=True)
class ReplayRefused(Exception):
    """Why a dead letter is not replayed."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def is_intake_topic(settings: Settings, topic: str) -> bool:
    prefix = settings.topic("alliance.")
    return topic.startswith(prefix) and any(topic.startswith(settings.topic(f"alliance.{s}.intake.")) for s in SERVICES)


def choose_letter(records: list[ConsumerRecord[bytes, bytes]], event_id: str) -> ConsumerRecord[bytes, bytes]:
    """The newest dead letter of ``event_id`` (an event refused twice is replayed from its last refusal)."""
    found = [r for r in records if headers_of(r).get("ce_id") == event_id]
    if not found:
        raise ReplayRefused(f"no dead letter of event {event_id!r} is kept (they are kept 14 days)")
    return max(found, key=lambda r: headers_of(r).get("alliance_dlq_time", ""))


async def replays(settings: Settings) -> list[DeadLetterReplayed]:
    records = await read_topics(settings, [settings.topic(REPLAYS_TOPIC)])
    return [DeadLetterReplayed.model_validate(json.loads(r.value or b"{}")) for r in records]


async def replay(settings: Settings, event_id: str, timeout: float = 120) -> DeadLetterReplayed:
    """Ask the service that refused ``event_id`` to replay its dead letter, once; what came of it.

    Operators never write an intake topic: the request names the dead letter, and the service
    re-reads it and processes the original bytes as the original sender (:mod:`alliance.runtime.replays`).
    """
    letter = choose_letter(await read_topics(settings, dead_letter_topics(settings)), event_id)
    where = coordinates(letter)
    done = [
        r for r in await replays(settings) if r.dead_letter == where and r.outcome is not ReplayOutcome.NOT_REPLAYED
    ]
    if done:
        raise ReplayRefused(
            f"dead letter {where} was replayed already, by {done[0].requested_by or done[0].replayed_by} "
            f"at {done[0].replayed_at:%Y-%m-%d %H:%M} UTC"
        )
    headers = headers_of(letter)
    if "alliance_dlq_copy_failed" in headers:
        raise ReplayRefused(f"dead letter {where} holds no copy of the record (it could not be kept)")
    topic = headers.get("alliance_dlq_topic", "")
    if not is_intake_topic(settings, topic):
        raise ReplayRefused(f"{topic!r} is not an agency's intake topic: only intake records are replayed")
    request = DeadLetterReplayRequested(dead_letter=where, event_id=event_id, requested_at=datetime.now(UTC))
    note = CloudEvent(
        id=str(uuid.uuid4()),
        source=f"urn:alliance:operator:{settings.kafka_username or 'anonymous'}",
        type=DeadLetterReplayRequested.EVENT_TYPE,
        time=request.requested_at,
        subject=event_id,
        markings=OPERATIONS_MARKINGS,
        data=request.to_data(),
    )
    answers = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, **settings.kafka_security()
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **settings.kafka_security(),
    )
    await answers.start()
    await producer.start()
    try:
        answered = settings.topic(REPLAYS_TOPIC)
        partitions = [TopicPartition(answered, p) for p in answers.partitions_for_topic(answered) or {0}]
        answers.assign(partitions)
        for tp, end in (await answers.end_offsets(partitions)).items():
            answers.seek(tp, end)  # only answers written after the request
        value, note_headers = note.to_kafka()
        await producer.send_and_wait(
            settings.topic(REPLAY_REQUESTS_TOPIC), value, key=where.encode(), headers=note_headers
        )
        async with asyncio.timeout(timeout):
            while True:
                for records in (await answers.getmany(timeout_ms=1000)).values():
                    for record in records:
                        answer = DeadLetterReplayed.model_validate(json.loads(record.value or b"{}"))
                        if answer.request_id == note.id:
                            if answer.outcome is ReplayOutcome.NOT_REPLAYED:
                                raise ReplayRefused(f"dead letter {where} not replayed: {answer.detail}")
                            return answer
    except TimeoutError:
        raise ReplayRefused(
            f"no answer within {timeout:.0f} s: is the {headers.get('alliance_dlq_service', '')} service running? "
            "The request stays; the service answers when it runs."
        ) from None
    finally:
        await producer.stop()
        await answers.stop()


# -- the agency registry -------------------------------------------------------------------------


class RegistryRefused(Exception):
    """Why a registry change was not made (or was refused once written)."""


def agency_topics(settings: Settings, agency: Agency) -> list[str]:
    """The topics an agency needs before the registry names it: its intake topic in every domain it
    sends to, its delivery topic and its reply topic (provisioning creates them, with their ACLs)."""
    domains = sorted({p.split(".")[2] for p in agency.sends if p.startswith("org.alliance.")})
    return [
        *(settings.topic(intake_topic(f"alliance.{d}.intake", agency.id)) for d in domains),
        settings.topic(delivery_topic(agency.id)),
        settings.topic(reply_topic_for(agency.id)),
    ]


async def registry_outcomes(settings: Settings) -> tuple[Registry, list[Outcome]]:
    """The registry as every service folds it from the topic, and what became of each change."""
    return fold(await read_topics(settings, [settings.topic(REGISTRY_TOPIC)]))


async def _write_change(settings: Settings, change_id: str, change: AgencyRegistered) -> int:
    note = CloudEvent(
        id=change_id,
        source=OPERATOR_SOURCE,
        type=AgencyRegistered.EVENT_TYPE,
        time=datetime.now(UTC),
        subject=change.agency.id,
        markings=OPERATIONS_MARKINGS,
        data=change.to_data(),
    )
    value, headers = note.to_kafka()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **settings.kafka_security(),
    )
    await producer.start()
    try:
        # Keyed by the change's own id: compaction keeps every change, and the chain of versions with it.
        sent = await producer.send_and_wait(
            settings.topic(REGISTRY_TOPIC), value, key=change_id.encode(), headers=headers
        )
    finally:
        await producer.stop()
    return int(sent.offset)


async def register(settings: Settings, agency: Agency, replaces: int | None = None) -> dict[str, Any]:
    """Make ``agency``'s entry the registry's next version, as a compare-and-set against ``replaces``
    (default: the version the topic holds now). Refused before writing when the registry is not at
    that version or the agency's topics do not exist yet; refused after writing when another change
    made against the same version came first (every service refuses it too). Returns the outcome."""
    registry, _ = await registry_outcomes(settings)
    expected = registry.version if replaces is None else replaces
    if expected != registry.version:
        raise RegistryRefused(f"the registry is at version {registry.version}, not {expected}: read it again")
    async with KafkaAdmin(settings, client_id="alliance-operator") as kafka:
        missing = sorted(await kafka.missing_topics(agency_topics(settings, agency)))
    if missing:
        raise RegistryRefused(
            f"agency {agency.id} has no topics {', '.join(missing)}: provision it first (topics and ACLs), "
            "then register it"
        )
    change_id = f"registry-{uuid.uuid4()}"
    change = AgencyRegistered(registry_version=expected + 1, replaces_version=expected, agency=agency)
    offset = await _write_change(settings, change_id, change)
    _, outcomes = await registry_outcomes(settings)
    mine = next((o for o in outcomes if o.change_id == change_id and o.offset == offset), None)
    if mine is None:
        raise RegistryRefused(f"change {change_id} was written at offset {offset} but cannot be read back")
    if mine.refused is not None:
        raise RegistryRefused(f"change {change_id} was refused: {mine.refused}")
    return {
        "agency": agency.id,
        "outcome": "applied",
        "registry_version": change.registry_version,
        "replaces_version": change.replaces_version,
        "change_id": change_id,
        "offset": offset,
    }


def outcome_rows(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [
        {
            "offset": o.offset,
            "change_id": o.change_id,
            "agency": o.change.agency.id if o.change else "",
            "registry_version": o.change.registry_version if o.change else None,
            "replaces_version": o.change.replaces_version if o.change else None,
            "outcome": "applied" if o.refused is None else "refused",
            "reason": o.refused or "",
        }
        for o in outcomes
    ]


async def export_registry(settings: Settings) -> list[dict[str, Any]]:
    """The applied changes, in order, whole: what :func:`restore_registry` writes back after a loss."""
    _, outcomes = await registry_outcomes(settings)
    return [
        {"change_id": o.change_id, "change": o.change.to_data()} for o in outcomes if o.refused is None and o.change
    ]


async def restore_registry(settings: Settings, exported: list[dict[str, Any]]) -> dict[str, Any]:
    """Write an export's changes back, with their ids, into a registry topic that lost them.

    Only into a topic that holds no applied change: otherwise the export would be refused change by
    change (every service checks each one against the version it holds)."""
    registry, _ = await registry_outcomes(settings)
    if registry.version != 1:
        raise RegistryRefused(f"the registry topic holds version {registry.version}: nothing to restore into")
    changes = [(str(e["change_id"]), AgencyRegistered.model_validate(e["change"])) for e in exported]
    folded = Registry(version=1, agencies=registry.agencies)
    for _, change in changes:
        try:
            folded = folded.after(change)
        except RegistryChangeRefused as exc:
            raise RegistryRefused(f"the export is not a chain of versions from the baseline: {exc}") from None
    for change_id, change in changes:
        await _write_change(settings, change_id, change)
    return {"restored": len(changes), "registry_version": folded.version}
