"""Dead-letter replay through the service: an operator names a dead letter, the service replays it.

Operators have no right to write any agency's intake topic (the topic is the proof of the sender, so
whoever can write it can pose as the agency). To replay a refused event after its cause was fixed,
an operator writes a content-free request naming the dead letter on the replay requests topic; the
service that refused the event re-reads its own dead letter (which only it can write), checks that it
is an agency's intake record of its own, and processes the original bytes once, as the agency whose
intake topic the record was first written to — the same screening, the same handlers, the same
refusal (a new dead letter and rejection) if it fails again. What came of it goes on the replays topic.

Once: the first request for a dead letter claims it by a unique insert in the service's store
(``_replays``, keyed by the dead letter); a later request for the same dead letter is declined, naming
when it was replayed. A crash mid-replay is resumed by the redelivered request (the claim names it),
and the handlers remember the events they applied, so the effect is stored once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from alliance.application.handling import Received
from alliance.application.records import Document
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.limits import DEAD_LETTER_MAX_BYTES
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.operations import DeadLetterReplayed, DeadLetterReplayRequested, ReplayOutcome
from alliance.contracts.topics import REPLAYS_TOPIC
from alliance.runtime.messaging import EventConsumer, Messenger
from alliance.runtime.retry import waiting

log = structlog.get_logger(__name__)

REPLAYS = "_replays"
REPLAY_HEADER = "alliance_replay_of"  # on the record as replayed: the dead letter it came from
OPERATOR_PRINCIPAL = "operator"  # the one principal allowed to write replay requests (ACL)
OPERATIONS_MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("alliance",))
READ_TIMEOUT_MS = 15_000


def coordinates(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def parse_coordinates(text: str) -> tuple[str, int, int] | None:
    topic, _, rest = text.rpartition(":")
    topic, _, partition = topic.rpartition(":")
    try:
        return topic, int(partition), int(rest)
    except ValueError:
        return None


class ReplayDesk:
    """Replays this service's own dead letters on an operator's request (the handler of the requests)."""

    def __init__(
        self,
        messenger: Messenger,
        db: AsyncDatabase[Document],
        intake_consumers: Callable[[], list[EventConsumer]],
    ) -> None:
        self.messenger = messenger
        self.settings = messenger.settings
        self._claims = db[REPLAYS]
        self._intake_consumers = intake_consumers
        self.replayed = 0

    async def handle(self, received: Received[DeadLetterReplayRequested]) -> None:
        request = received.data
        where = parse_coordinates(request.dead_letter)
        if where is None or where[0] != self.messenger.dead_letter_topic:
            return  # another service's dead letter: that service answers
        claim = await self._claim(request.dead_letter, received.event.id)
        if claim["request"] != received.event.id:
            declined = self._outcome(request, received, ReplayOutcome.NOT_REPLAYED)
            declined.detail = f"replayed already at {claim['at']:%Y-%m-%d %H:%M:%S} UTC (request {claim['request']})"
            await self._report(declined, received.event.id)
            return
        if claim.get("outcome"):  # this request was answered before a crash or its redelivery: say it again
            await self._report(DeadLetterReplayed.model_validate(claim["outcome"]), received.event.id)
            return
        outcome = await self._replay(request, received, *where)
        await waiting(
            self.settings,
            "replay claim",
            lambda: self._claims.update_one(
                {"_id": request.dead_letter}, {"$set": {"outcome": outcome.model_dump(mode="json")}}
            ),
        )
        await self._report(outcome, received.event.id)

    async def _claim(self, dead_letter: str, request_id: str) -> Document:
        """The first request for a dead letter claims it (unique insert); later ones find that claim."""
        claim: Document = {"_id": dead_letter, "request": request_id, "at": datetime.now(UTC)}
        try:
            await waiting(self.settings, "replay claim", lambda: self._claims.insert_one(claim))
            return claim
        except DuplicateKeyError:
            held = await waiting(self.settings, "replay claim", lambda: self._claims.find_one({"_id": dead_letter}))
            assert held is not None
            return dict(held)

    async def _replay(
        self, request: DeadLetterReplayRequested, received: Received[Any], topic: str, partition: int, offset: int
    ) -> DeadLetterReplayed:
        outcome = self._outcome(request, received, ReplayOutcome.NOT_REPLAYED)
        letter = await self._read(topic, partition, offset)
        if letter is None:
            outcome.detail = "no such dead letter is kept (they are kept 14 days)"
            return outcome
        meta = {k: (v or b"").decode("utf-8", "replace") for k, v in letter.headers or () if k.startswith("alliance_")}
        original_topic = meta.get("alliance_dlq_topic", "")
        outcome.intake_topic = original_topic
        outcome.event_type = next(
            (v.decode("utf-8", "replace") for k, v in letter.headers or () if k == "ce_type" and v), ""
        )
        outcome.reason = meta.get("alliance_dlq_reason", "")[:2000]
        consumer = next((c for c in self._intake_consumers() if original_topic in c.topics()), None)
        if consumer is None:
            outcome.detail = (
                f"{original_topic!r} is not an agency's intake topic of this service: only those are replayed"
            )
            return outcome
        if "alliance_dlq_copy_failed" in meta:
            outcome.detail = "the dead letter holds no copy of the record (it could not be kept)"
            return outcome
        original = [(k, v) for k, v in letter.headers or () if not k.startswith("alliance_dlq_") and k != REPLAY_HEADER]
        record = ConsumerRecord(
            original_topic,
            int(meta.get("alliance_dlq_partition", "0") or 0),
            int(meta.get("alliance_dlq_offset", "-1") or -1),
            letter.timestamp,
            letter.timestamp_type,
            letter.key,
            letter.value,
            None,
            len(letter.key or b""),
            len(letter.value or b""),
            (*original, (REPLAY_HEADER, request.dead_letter.encode())),
        )
        refusal = await consumer.process(record)
        self.replayed += 1
        log.info("dead letter replayed", dead_letter=request.dead_letter, refused=refusal is not None)
        if refusal is not None:
            outcome.outcome = ReplayOutcome.REFUSED_AGAIN
            outcome.detail = refusal.reason[:2000]
        else:
            outcome.outcome = ReplayOutcome.PROCESSED
        return outcome

    def _outcome(
        self, request: DeadLetterReplayRequested, received: Received[Any], outcome: ReplayOutcome
    ) -> DeadLetterReplayed:
        return DeadLetterReplayed(
            dead_letter=request.dead_letter,
            event_id=request.event_id,
            event_type="",
            intake_topic="",
            replayed_by=self.messenger.service,
            replayed_at=datetime.now(UTC),
            reason="",
            request_id=received.event.id,
            requested_by=OPERATOR_PRINCIPAL,  # the topic's ACL proves it: no other principal may write it
            outcome=outcome,
        )

    async def _read(self, topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes] | None:
        """One record of this service's own dead-letter topic (readable and writable by it alone)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=DEAD_LETTER_MAX_BYTES + 64 * 1024,
            fetch_max_bytes=DEAD_LETTER_MAX_BYTES + 64 * 1024,
            **self.settings.kafka_security(),
        )
        await waiting(self.settings, "kafka (dead letters)", consumer.start)
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            bounds = await consumer.beginning_offsets([tp]), await consumer.end_offsets([tp])
            if not bounds[0][tp] <= offset < bounds[1][tp]:
                return None
            consumer.seek(tp, offset)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=READ_TIMEOUT_MS)
                records = batch.get(tp, [])
                if not records:
                    return None
                for record in records:
                    if record.offset == offset:
                        return record
                    if record.offset > offset:
                        return None  # compacted or skipped: not kept
        finally:
            await consumer.stop()

    async def _report(self, outcome: DeadLetterReplayed, request_id: str) -> None:
        note = CloudEvent(
            id=f"replay-{request_id}",
            source=self.messenger.source,
            type=DeadLetterReplayed.EVENT_TYPE,
            time=outcome.replayed_at,
            subject=outcome.event_id,
            markings=OPERATIONS_MARKINGS,
            data=outcome.to_data(),
        )
        value, headers = note.to_kafka()
        topic = self.settings.topic(REPLAYS_TOPIC)
        await waiting(
            self.settings, "replay outcome", lambda: self.messenger._send(topic, outcome.dead_letter, value, headers)
        )
