"""Decoding fetched Kafka batches record by record (issue 17 item 3), on batches crafted byte for byte
and read through aiokafka's own fetcher: only an undecodable record becomes a stand-in, with what can
be read of it and every header as sent; its neighbours in the batch are decoded as usual."""

from __future__ import annotations

import base64
import json
import struct
from binascii import crc32
from typing import Any

import pytest
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBase, _DefaultRecordBatchBuilderPy
from aiokafka.record.legacy_records import _LegacyRecordBatchBuilderPy
from aiokafka.record.memory_records import MemoryRecords as AiokafkaRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import ConsumerRecord, TopicPartition

from alliance.contracts.limits import MAX_HEADER_BYTES, MAX_HEADERS
from alliance.runtime import kafka_records
from alliance.runtime.kafka_records import RAW_HEADERS_HEADER, UNREADABLE_HEADER
from alliance.runtime.messaging import Refusal, screen

kafka_records.install()

BAD_NAME = b"ce_\xff\xfe"
GZIP = DefaultRecordBase.CODEC_GZIP


class RawName(str):
    """A header name that aiokafka's pure-Python builder writes as raw bytes that are not UTF-8."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return BAD_NAME


Spec = tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]


PAD = b"." * 300  # values that compress well: the builder keeps a batch uncompressed when that is smaller


def good(n: int) -> Spec:
    return (f"k{n}".encode(), f"v{n}".encode() + PAD, [("ce_id", f"id-{n}".encode())])


def bad(n: int) -> Spec:
    return (f"k{n}".encode(), f"v{n}".encode() + PAD, [("ce_id", f"id-{n}".encode()), (RawName(), b"raw"), ("x", None)])


def batch(base: int, records: list[Spec], codec: int = 0) -> bytes:
    """A v2 batch as the broker stores it: offsets from ``base``, a valid CRC."""
    builder = _DefaultRecordBatchBuilderPy(2, codec, 0, -1, -1, -1, 1 << 20)
    for delta, (key, value, headers) in enumerate(records):
        builder.append(delta, 1_700_000_000_000 + delta, key, value, headers)
    raw = struct.pack(">q", base) + bytes(builder.build())[8:]
    assert raw[22] & DefaultRecordBase.CODEC_MASK == codec
    return raw


def recrc(raw: bytes) -> bytes:
    """The v2 batch with its CRC recomputed (a producer can write anything with a valid CRC)."""
    return raw[:17] + struct.pack(">I", calc_crc32c(raw[21:])) + raw[21:]


def legacy(offset: int, records: list[tuple[bytes, bytes]], codec: int = 0) -> bytes:
    """A v1 message set: one message per record, or one compressed wrapper whose offset is the last one."""
    builder = _LegacyRecordBatchBuilderPy(1, codec, 1 << 20)
    for delta, (key, value) in enumerate(records):
        builder.append(delta, 1_700_000_000_000, key, value)
    raw = bytes(builder.build())
    if codec:
        return struct.pack(">q", offset + len(records) - 1) + raw[8:]
    messages, pos = [], 0
    while pos < len(raw):
        end = pos + 12 + struct.unpack_from(">i", raw, pos + 8)[0]
        messages.append(struct.pack(">q", offset + len(messages)) + raw[pos + 8 : end])
        pos = end
    return b"".join(messages)


def fetch(buffer: bytes, fetch_offset: int = 100, records: Any = None) -> list[ConsumerRecord[Any, Any]]:
    records = (
        fetcher.MemoryRecords(buffer) if records is None else records
    )  # what install() made it: keeps each batch's bytes
    partition = fetcher.PartitionRecords(
        TopicPartition("t", 0), records, [], fetch_offset, None, None, True, fetcher.READ_UNCOMMITTED
    )
    return list(partition)


def summary(records: list[ConsumerRecord[Any, Any]]) -> list[tuple[int, str]]:
    return [
        (r.offset, "stand-in" if any(k == UNREADABLE_HEADER for k, _ in r.headers) else r.value.decode().rstrip("."))
        for r in records
    ]


def raw_headers(record: ConsumerRecord[Any, Any]) -> list[tuple[bytes, bytes | None]]:
    [text] = [v for k, v in record.headers if k == RAW_HEADERS_HEADER]
    return [(base64.b64decode(n), None if v is None else base64.b64decode(v)) for n, v in json.loads(text)]


@pytest.mark.parametrize("codec", [0, GZIP])
@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ("bgg", [(100, "stand-in"), (101, "v1"), (102, "v2")]),
        ("gbg", [(100, "v0"), (101, "stand-in"), (102, "v2")]),
        ("ggb", [(100, "v0"), (101, "v1"), (102, "stand-in")]),
        ("bgbbg", [(100, "stand-in"), (101, "v1"), (102, "stand-in"), (103, "stand-in"), (104, "v4")]),
        ("bb", [(100, "stand-in"), (101, "stand-in")]),
    ],
)
def test_only_the_undecodable_records_of_a_batch_become_stand_ins(
    kinds: str, expected: list[tuple[int, str]], codec: int
) -> None:
    specs = [bad(n) if kind == "b" else good(n) for n, kind in enumerate(kinds)]
    records = fetch(batch(100, specs, codec))
    assert summary(records) == expected
    for record, spec in zip(records, specs, strict=True):
        assert (record.key, record.value) == spec[:2]
        assert record.timestamp == 1_700_000_000_000 + record.offset - 100
        if dict(record.headers).get(UNREADABLE_HEADER) is None:
            assert list(record.headers) == spec[2]


def test_a_stand_in_keeps_the_readable_headers_and_every_header_as_sent() -> None:
    [_, stand_in, _] = fetch(batch(100, [good(0), bad(1), good(2)]))
    headers = dict(stand_in.headers)
    assert headers["ce_id"] == b"id-1"
    assert headers["x"] is None
    assert headers[UNREADABLE_HEADER] == b"offset 101 cannot be decoded: the name of header 2 is not UTF-8"
    assert raw_headers(stand_in) == [(b"ce_id", b"id-1"), (BAD_NAME, b"raw"), (b"x", None)]


def test_a_stand_in_passes_on_readable_headers_only_within_the_limits_of_an_accepted_record() -> None:
    many: list[tuple[str, bytes | None]] = [(f"h{n}", b"x") for n in range(MAX_HEADERS + 10)]
    spec = (b"k", b"v", [("ce_id", b"id"), ("big", b"y" * MAX_HEADER_BYTES), *many, (RawName(), b"raw")])
    [stand_in] = fetch(batch(100, [spec]))
    passed = [k for k, _ in stand_in.headers if k not in (UNREADABLE_HEADER, RAW_HEADERS_HEADER)]
    assert passed == ["ce_id", *[k for k, _ in many]][:MAX_HEADERS]  # the oversized one is left out
    assert len(raw_headers(stand_in)) == MAX_HEADERS + 13  # the JSON list has every header as sent


def test_several_batches_and_a_partial_one_at_the_end_of_the_fetch() -> None:
    second = batch(103, [good(3), bad(4)], GZIP)
    buffer = batch(100, [good(0), bad(1), good(2)]) + second + batch(105, [good(5)])[:30]
    assert summary(fetch(buffer)) == [(100, "v0"), (101, "stand-in"), (102, "v2"), (103, "v3"), (104, "stand-in")]


@pytest.mark.parametrize(("fetch_offset", "offsets"), [(101, [101, 102]), (102, [102])])
def test_records_before_the_fetch_offset_are_not_delivered_again(fetch_offset: int, offsets: list[int]) -> None:
    records = fetch(batch(100, [bad(0), bad(1), good(2)]), fetch_offset)
    assert [r.offset for r in records] == offsets


@pytest.mark.parametrize(
    "buffer",
    [
        batch(100, [good(0), good(1)]) + batch(102, [good(2)], GZIP),
        legacy(100, [(b"k0", b"v0")]) + legacy(101, [(b"k1", b"v1"), (b"k2", b"v2")], GZIP),
    ],
)
def test_batches_that_decode_whole_are_read_as_aiokafka_reads_them(buffer: bytes) -> None:
    mine = fetch(buffer)
    assert summary(mine) == [(100, "v0"), (101, "v1"), (102, "v2")]
    assert mine == fetch(buffer, records=AiokafkaRecords(buffer))  # aiokafka's own unpacking


def test_a_compressed_batch_that_does_not_decompress_is_one_stand_in_with_its_raw_bytes_at_its_last_offset() -> None:
    raw = bytearray(batch(100, [good(0), bad(1), good(2)], GZIP))
    raw[70:80] = b"\x00" * 10  # inside the gzip stream
    broken = recrc(bytes(raw))
    [stand_in, after] = fetch(broken + batch(103, [good(3)]))
    assert stand_in.offset == 102  # committing it covers the batch: no second stand-in after a restart
    assert stand_in.value == broken
    assert b"cannot be decompressed" in dict(stand_in.headers)[UNREADABLE_HEADER]
    assert (after.offset, after.value) == (103, b"v3" + PAD)


def test_an_unknown_codec_is_one_stand_in_for_the_batch() -> None:
    raw = bytearray(batch(100, [good(0), good(1)]))
    raw[22] |= 0x07  # attributes: codec 7 does not exist
    [stand_in] = fetch(recrc(bytes(raw)))
    assert (stand_in.offset, stand_in.value) == (101, recrc(bytes(raw)))


def test_records_whose_lengths_do_not_add_up_end_the_batch_in_one_stand_in() -> None:
    raw = batch(100, [good(0), good(1)])
    header = list(DefaultRecordBase.HEADER_STRUCT.unpack_from(raw))
    body = raw[DefaultRecordBase.HEADER_STRUCT.size :] + b"\x7f\x00\x00"  # a record of length -64
    header[1] += 3
    header[6] = 2  # last offset delta: three records
    header[12] = 3
    forged = recrc(DefaultRecordBase.HEADER_STRUCT.pack(*header) + body)
    [first, second, stand_in] = fetch(forged)
    assert [(first.offset, first.value), (second.offset, second.value)] == [(100, b"v0" + PAD), (101, b"v1" + PAD)]
    assert stand_in.offset == 102
    assert stand_in.value == b"\x7f\x00\x00"
    assert b"cannot be told apart" in dict(stand_in.headers)[UNREADABLE_HEADER]


def test_legacy_message_sets_are_decoded_and_one_that_cannot_be_is_one_stand_in() -> None:
    plain = legacy(100, [(b"k0", b"v0")])
    wrapped = legacy(101, [(b"k1", b"v1"), (b"k2", b"v2")], GZIP)
    assert summary(fetch(plain + wrapped)) == [(100, "v0"), (101, "v1"), (102, "v2")]
    raw = bytearray(legacy(103, [(b"k3", b"v3"), (b"k4", b"v4")], GZIP))
    raw[-12:-2] = b"\x00" * 10  # inside the gzip stream
    broken = raw[:12] + struct.pack(">I", crc32(raw[16:])) + raw[16:]
    [stand_in, after] = fetch(bytes(broken) + batch(105, [good(5)]), 103)
    assert (stand_in.offset, stand_in.value) == (104, bytes(broken))
    assert (after.offset, after.value) == (105, b"v5" + PAD)


def test_a_batch_with_a_wrong_crc_is_refetched_not_decoded() -> None:
    raw = bytearray(batch(100, [good(0), bad(1)]))
    raw[-1] ^= 1
    with pytest.raises(CorruptRecordException):
        fetch(bytes(raw))


def test_the_consumer_refuses_a_stand_in_naming_the_record_by_its_readable_ce_id() -> None:
    [_, stand_in] = fetch(batch(100, [good(0), bad(1)]))
    verdict = screen(stand_in.headers, stand_in.value, {}, intake=False)
    assert isinstance(verdict, Refusal)
    assert verdict.reason == "undecodable Kafka record: offset 101 cannot be decoded: the name of header 2 is not UTF-8"
    assert dict(verdict.headers)["ce_id"] == "id-1"
