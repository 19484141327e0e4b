"""A rejection is valid against the schema Alliance publishes for it, however little of the refused record
could be read (issue 17 item 4: rejections of records without a readable ce_id lacked a required field)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from alliance.contracts.common import EventRejected
from alliance.runtime.messaging import Messenger, Refusal, screen
from alliance.runtime.settings import Settings

PUBLISHED = Draft202012Validator(EventRejected.model_json_schema())


@dataclass
class Record:
    headers: list[tuple[str, bytes | None]]
    value: bytes | None = b"{}"
    topic: str = "alliance.interdiction.intake.us-cbp"
    partition: int = 2
    offset: int = 41
    key: bytes | None = None


class Capturing(Messenger):
    """The messenger's own refusal path; what it would write to Kafka is kept instead."""

    def __init__(self) -> None:
        super().__init__(None, Settings(), "interdiction")  # type: ignore[arg-type]
        self.replies: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self.letters = 0

    async def _send(self, topic: str, key: str, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.replies.append((topic, key, json.loads(value), {k: v.decode() for k, v in headers}))

    async def _send_dead_letter(self, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]]) -> None:
        self.letters += 1


@pytest.mark.parametrize(
    "headers",
    [
        [],  # nothing readable
        [("ce_source", b"\xff\xfe")],  # headers that cannot be read at all
        [("ce_type", b"org.alliance.interdiction.seizure.reported.v1")],  # a type but no id or source
        [("ce_id", b"e1"), ("ce_source", b"urn:agency:us-cbp")],  # an envelope that is incomplete
        [("ce_id", b"e1"), ("alliance-unreadable", b"offset 41 cannot be decoded")],  # a stand-in (item 3)
    ],
)
async def test_every_rejection_is_valid_against_its_published_schema_and_locates_the_record(
    headers: list[tuple[str, bytes | None]],
) -> None:
    messenger = Capturing()
    record = Record(headers)
    verdict = screen(record.headers, record.value, {}, intake=False)
    assert isinstance(verdict, Refusal)
    await messenger.refuse(record, record.topic, verdict, "us-cbp")  # type: ignore[arg-type]
    [(topic, _, data, reply_headers)] = messenger.replies
    assert topic == "alliance.replies.us-cbp"
    assert messenger.letters == 1
    assert [e.message for e in PUBLISHED.iter_errors(data)] == []
    assert data["rejected_record"] == {"topic": record.topic, "partition": 2, "offset": 41}
    assert reply_headers["ce_type"] == EventRejected.EVENT_TYPE
