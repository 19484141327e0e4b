"""The consumer's dispatch path without any server: every bad-input class ends as one refusal, an outage
is waited out, an unexpected failure is retried a bounded number of times then dead-lettered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from pydantic import Field, ValidationError
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from alliance.application.records import PendingEvent
from alliance.contracts.base import Intake
from alliance.contracts.limits import (
    MAX_ITEMS_PER_SEIZURE,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
    MAX_REJECTION_ERRORS,
    MAX_SMALL_LIST,
)
from alliance.contracts.registry import Agency, AgencyKind, Registry
from alliance.domain.errors import DomainRuleViolation, RecordNotYetKnown
from alliance.runtime.messaging import EventConsumer, Received, Refusal, screen, store_unavailable
from alliance.runtime.settings import Settings


class Reported(Intake):
    EVENT_TYPE: ClassVar[str] = "org.alliance.test.reported.v1"
    weight: float
    items: list[str] = Field(default_factory=list, max_length=MAX_SMALL_LIST)


async def nothing(_: Received[Any]) -> None:
    pass


HANDLERS = {Reported.EVENT_TYPE: (Reported, nothing)}
# The agency whose intake topic the record is read from (its principal alone may write it).
CBP = Agency(
    id="us-cbp", name="CBP", country="US", kind=AgencyKind.CUSTOMS, sends=("org.alliance.test.*",), receives=()
)


def headers(**overrides: str | bytes | None) -> list[tuple[str, bytes | None]]:
    base: dict[str, str | bytes | None] = {
        "ce_id": "e1",
        "ce_source": "urn:agency:us-cbp",
        "ce_type": Reported.EVENT_TYPE,
        "ce_specversion": "1.0",
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
        "ce_tlp": "AMBER",
        "ce_releasableto": "US,MX",
        "ce_originator": "us-cbp",
        "ce_orcon": "false",
    }
    base.update(overrides)
    return [(k, v.encode() if isinstance(v, str) else v) for k, v in base.items() if v != "<drop>"]


def refusal(raw_headers: Any, value: bytes | None, sender: Agency | None = CBP) -> Refusal:
    verdict = screen(raw_headers, value, HANDLERS, intake=True, sender=sender)
    assert isinstance(verdict, Refusal), verdict
    return verdict


def test_a_valid_record_is_accepted() -> None:
    verdict = screen(headers(), b'{"weight": 1.5}', HANDLERS, intake=True, sender=CBP)
    assert isinstance(verdict, tuple)
    assert verdict[2].data == {"weight": 1.5}
    assert verdict[0] == Reported(weight=1.5)


@pytest.mark.parametrize(
    ("raw_headers", "value", "reason"),
    [
        (headers(), b"[" * 5000 + b"]" * 5000, f"deeper than {MAX_JSON_DEPTH}"),
        (headers(), b'{"a":' * 100 + b"1" + b"}" * 100, f"deeper than {MAX_JSON_DEPTH}"),
        (headers(), b'{"weight": ' + b"1" * (MAX_RECORD_BYTES + 1) + b"}", "at most"),
        (headers(), b'{"weight": NaN}', "NaN"),
        (headers(), b'{"weight": Infinity}', "Infinity"),
        (headers(), b'{"weight": -Infinity}', "-Infinity"),
        (headers(), b'{"weight": 1e999}', "finite"),
        (headers(), b'{"weight": "\xff\xfe"}', "not valid JSON"),
        (headers(), None, "tombstone"),
        (headers(), b"", "empty"),
        (headers(), b"[1, 2]", "JSON object"),
        (headers(**{"content-type": "<drop>"}), b'{"weight": 1}', "missing content-type"),
        (headers(**{"content-type": "application/xml"}), b'{"weight": 1}', "content-type must be"),
        (headers(ce_source=b"\xff\xfe"), b'{"weight": 1}', "not UTF-8"),
        (headers(ce_id="a\x00b"), b'{"weight": 1}', "control characters"),
        (headers(ce_subject="x" * 9000), b'{"weight": 1}', "larger than"),
        (headers(ce_time="2999-01-01T00:00:00Z"), b'{"weight": 1}', "in the future"),
        (headers(ce_time="1970-01-01T00:00:00Z"), b'{"weight": 1}', "before 2000"),
        (headers(ce_type="org.alliance.test.unknown.v1"), b'{"weight": 1}', "unknown event type"),
        ([*headers(), ("ce_source", b"urn:other")], b'{"weight": 1}', "repeated"),
        ([(f"h{i}", b"x") for i in range(100)], b'{"weight": 1}', "headers"),
        (headers(), b'{"weight": "heavy"}', "does not match"),
        (headers(), json.dumps({"weight": 1, "items": ["x"] * 20000}).encode(), "does not match"),
    ],
)
def test_bad_input_of_every_class_is_refused_with_a_reason(raw_headers: Any, value: bytes | None, reason: str) -> None:
    assert reason in refusal(raw_headers, value).reason


def test_a_fact_type_this_service_does_not_consume_is_skipped_not_refused() -> None:
    assert screen(headers(ce_type="org.alliance.test.other.v1"), b"{}", HANDLERS, intake=False) is None


def test_a_rejection_lists_only_the_first_errors() -> None:
    value = json.dumps({"weight": "x", "items": [1] * MAX_SMALL_LIST}).encode()  # 51 errors
    found = refusal(headers(), value)
    assert len(found.errors) == MAX_REJECTION_ERRORS
    assert len(found.reason) < 2000
    assert "more" in found.reason


def test_outages_are_told_apart_from_bad_requests() -> None:
    assert store_unavailable(AutoReconnect("down"))
    assert store_unavailable(OperationFailure("database is locked", code=1))
    assert not store_unavailable(OperationFailure("bad value", code=2))
    assert not store_unavailable(DuplicateKeyError("dup", code=11000))
    assert not store_unavailable(ValueError("a bug"))
    too_large = "ERROR: index row size 2848 exceeds btree version 4 maximum 2704 for index (SQLSTATE 54000)"
    assert not store_unavailable(OperationFailure(too_large, code=1))  # the record's fault: never waited out


# -- the retry policy of a handler, with a messenger that records refusals ------------------------


@dataclass
class RecordingMessenger:
    settings: Settings = field(default_factory=lambda: Settings(retry_initial_seconds=0.001, retry_max_seconds=0.002))
    service: str = "test"
    refusals: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # what the dead letter keeps (operators only)
    replied_to: list[str | None] = field(default_factory=list)

    async def refuse(self, record: Any, topic: str, refusal: Refusal, agency: str | None = None) -> None:
        self.refusals.append(refusal.reason)
        self.details.append(refusal.detail or refusal.reason)
        self.replied_to.append(agency)


@dataclass
class FakeRecord:
    headers: list[tuple[str, bytes | None]]
    value: bytes | None
    topic: str = "alliance.test.intake.us-cbp"
    partition: int = 0
    offset: int = 7
    key: bytes | None = b"k"


@dataclass
class FakeMessage:
    raw_message: tuple[FakeRecord, ...]


def consumer_with(handler: Any) -> tuple[EventConsumer, RecordingMessenger]:
    messenger = RecordingMessenger()
    registry = SimpleNamespace(registry=Registry(version=1, agencies=(CBP,)))
    consumer = EventConsumer(messenger, "alliance.test.intake", "g", intake=True, registry=registry)  # type: ignore[arg-type]
    consumer.on(Reported)(handler)
    return consumer, messenger


async def deliver(consumer: EventConsumer, value: bytes = b'{"weight": 1}') -> None:
    await consumer._dispatch(FakeMessage((FakeRecord(headers(), value),)))  # type: ignore[arg-type]


async def test_a_store_outage_is_waited_out_and_never_refused() -> None:
    calls = 0

    async def handler(_: Received[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls < 12:  # more failures than the bounded attempts for unexpected errors
            raise OperationFailure("unable to open database file", code=1) if calls % 2 else AutoReconnect("down")

    consumer, messenger = consumer_with(handler)
    await deliver(consumer)
    assert calls == 12
    assert messenger.refusals == []
    assert consumer.processed == 1


async def test_an_unexpected_failure_is_retried_a_bounded_number_of_times_then_dead_lettered_once() -> None:
    calls = 0

    async def handler(_: Received[Any]) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("a bug")

    consumer, messenger = consumer_with(handler)
    await deliver(consumer)
    assert calls == 4
    assert len(messenger.refusals) == 1
    assert messenger.details[0].startswith("processing failed 4 times: KeyError")


async def test_an_unexpected_failure_tells_the_sender_nothing_of_the_exception() -> None:
    async def handler(_: Received[Any]) -> None:
        raise ValueError("stored asset AS-9 holds 123,456.00 USD")  # e.g. a bug quoting a record

    consumer, messenger = consumer_with(handler)
    await deliver(consumer)
    assert messenger.refusals == ["processing failed 4 times (an internal error; operators have the details)"]
    assert "123,456.00 USD" in messenger.details[0]


async def test_a_violation_quoting_a_record_tells_the_sender_only_its_public_reason() -> None:
    async def handler(_: Received[Any]) -> None:
        raise DomainRuleViolation("only 123,456.00 USD was seized", public="more than was seized")

    consumer, messenger = consumer_with(handler)
    await deliver(consumer)
    assert messenger.refusals == ["rule violated: more than was seized"]
    assert messenger.details == ["rule violated: only 123,456.00 USD was seized"]


async def test_a_record_that_is_not_the_senders_is_refused_like_one_not_known() -> None:
    async def handler(_: Received[Any]) -> None:
        raise RecordNotYetKnown("no asset AS-9 (seized in MX)", public="no asset AS-9")

    consumer, messenger = consumer_with(handler)
    consumer.messenger.settings = Settings(parent_wait_seconds=0)
    await deliver(consumer)
    assert messenger.refusals == ["rule violated: no asset AS-9 (waited 0 s for it)"]
    assert messenger.details == ["rule violated: no asset AS-9 (seized in MX) (waited 0 s for it)"]


async def test_the_dead_letter_keeps_the_whole_reason_and_the_rejection_only_the_public_one() -> None:
    from alliance.runtime.messaging import Messenger

    messenger = Messenger(None, Settings(), "test")  # type: ignore[arg-type]
    dead: list[list[tuple[str, bytes]]] = []
    replies: list[PendingEvent] = []

    async def dead_letter(value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        dead.append(headers)

    async def publish(pending: PendingEvent) -> None:
        replies.append(pending)

    messenger._send_dead_letter = dead_letter  # type: ignore[method-assign]
    messenger.publish = publish  # type: ignore[method-assign]
    record = FakeRecord(headers(), b'{"weight": 1}')
    refusal = Refusal("rule violated: more than was seized", detail="rule violated: only 123,456.00 USD was seized")
    await messenger.refuse(record, record.topic, refusal, "us-cbp")  # type: ignore[arg-type]
    assert dict(dead[0])["alliance_dlq_reason"] == b"rule violated: only 123,456.00 USD was seized"
    [reply] = replies
    assert reply.event.data["reason"] == "rule violated: more than was seized"
    assert "123,456" not in json.dumps(reply.event.data)


async def test_a_failure_that_heals_is_not_refused() -> None:
    calls = 0

    async def handler(_: Received[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("transient bug")

    consumer, messenger = consumer_with(handler)
    await deliver(consumer)
    assert (calls, messenger.refusals, consumer.processed) == (2, [], 1)


async def test_a_domain_rule_violation_is_refused_at_once() -> None:
    async def handler(_: Received[Any]) -> None:
        raise DomainRuleViolation("no such seizure")

    consumer, messenger = consumer_with(handler)
    await deliver(consumer)
    assert messenger.refusals == ["rule violated: no such seizure"]


async def test_a_poison_record_is_refused_once_and_the_handler_never_runs() -> None:
    calls = 0

    async def handler(_: Received[Any]) -> None:
        nonlocal calls
        calls += 1

    consumer, messenger = consumer_with(handler)
    await deliver(consumer, b"[" * 3000)
    assert (calls, len(messenger.refusals)) == (0, 1)


async def test_while_stopping_a_failing_event_is_released_not_dead_lettered() -> None:
    async def handler(_: Received[Any]) -> None:
        raise RuntimeError("store client closed")

    consumer, messenger = consumer_with(handler)
    consumer.stopping = True
    with pytest.raises(RuntimeError):
        await deliver(consumer)
    assert messenger.refusals == []


async def test_facts_derived_while_handling_carry_the_time_of_their_cause() -> None:
    from alliance.runtime.messaging import cause_time

    seen: list[datetime | None] = []

    async def handler(received: Received[Any]) -> None:
        seen.append(cause_time.get())

    consumer, _ = consumer_with(handler)
    past = datetime.now(UTC) - timedelta(days=3)
    await consumer._dispatch(
        FakeMessage((FakeRecord(headers(ce_time=past.isoformat()), b'{"weight": 1}'),))  # type: ignore[arg-type]
    )
    assert seen == [past]
    assert cause_time.get() is None


def test_intake_contracts_bound_their_lists() -> None:
    from alliance.contracts.interdiction import FirearmItem, SeizureContents

    gun = {"serial_number": "X1", "maker": "Glock", "firearm_type": "pistol"}
    where = {
        "mode": "land",
        "seized_at": "2026-11-20T14:30:00-06:00",
        "place": {"description": "I-35", "country": "US"},
    }
    SeizureContents.model_validate({**where, "firearms": [gun] * MAX_ITEMS_PER_SEIZURE})
    with pytest.raises(ValidationError, match="at most 500 items"):
        SeizureContents.model_validate({**where, "firearms": [gun] * (MAX_ITEMS_PER_SEIZURE + 1)})
    assert FirearmItem.model_validate(gun).maker == "Glock"


# -- the sender is the agency whose intake topic it is -----------------------------------------------


def test_a_record_on_no_registered_agency_s_topic_is_refused() -> None:
    assert "not the intake topic of a registered agency" in refusal(headers(), b'{"weight": 1}', sender=None).reason


def test_a_source_claiming_another_agency_is_refused() -> None:
    found = refusal(headers(ce_source="urn:agency:mx-fgr:spoof"), b'{"weight": 1}')
    assert "is not agency us-cbp's" in found.reason


def test_an_originator_that_is_not_the_sender_is_refused() -> None:
    found = refusal(headers(ce_originator="mx-fgr"), b'{"weight": 1}')
    assert "ce_originator does not name the sending agency us-cbp" in found.reason


def test_a_type_the_registry_does_not_let_the_agency_send_is_refused() -> None:
    lab = CBP.model_copy(update={"sends": ("org.alliance.firearms.*",)})
    assert "may not send org.alliance.test.reported.v1" in refusal(headers(), b'{"weight": 1}', sender=lab).reason


def test_a_red_event_names_its_originator_among_its_recipients() -> None:
    verdict = screen(headers(ce_tlp="RED", ce_releasableto="US"), b'{"weight": 1}', HANDLERS, intake=True, sender=CBP)
    assert isinstance(verdict, tuple)
    assert verdict[2].markings.recipients == ("us-cbp",)


async def test_an_event_about_a_record_not_known_yet_waits_for_it_then_is_applied() -> None:
    calls = 0

    async def handler(_: Received[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls < 3:  # the notification it answers arrives a moment later, on another agency's topic
            raise RecordNotYetKnown("no notification N-1")

    consumer, messenger = consumer_with(handler)
    messenger.settings = Settings(parent_wait_seconds=5, retry_initial_seconds=0.001)
    await deliver(consumer)
    assert calls == 3
    assert messenger.refusals == []


async def test_an_event_about_a_record_that_never_comes_is_refused_after_the_wait_with_its_reason() -> None:
    async def handler(_: Received[Any]) -> None:
        raise RecordNotYetKnown("no notification N-1")

    consumer, messenger = consumer_with(handler)
    messenger.settings = Settings(parent_wait_seconds=0, retry_initial_seconds=0.001)
    await deliver(consumer)
    assert messenger.refusals == ["rule violated: no notification N-1 (waited 0 s for it)"]
    assert messenger.replied_to == ["us-cbp"]
