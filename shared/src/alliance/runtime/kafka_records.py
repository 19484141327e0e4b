"""A Kafka record that no client can decode must not wedge a consumer, nor take its neighbours with it.

aiokafka decodes header names as UTF-8 while it unpacks a fetched batch. A record whose header name is
not UTF-8 (librdkafka clients can write arbitrary bytes; the broker does not check) makes every
``getone()`` raise at the same offset: FastStream logs, sleeps 5 s and fetches the same batch again,
forever (measured with aiokafka 0.14.0: the partition never moves on). Dropping the whole batch
instead loses the valid records a producer batched with the bad one.

:func:`install` makes aiokafka's fetcher keep the bytes of each batch it walks. A batch that decodes
whole takes aiokafka's own path. Otherwise its records, which are length-prefixed, are decoded one at
a time (each by aiokafka, as a batch of one): the valid ones go on as usual, and each undecodable one
becomes a stand-in record at its own offset that carries what could be read of it (key, value, the
headers whose names are UTF-8) and, in :data:`RAW_HEADERS_HEADER`, every header as sent (base64), so
nothing is lost; :data:`UNREADABLE_HEADER` says why. The consumer dead-letters the stand-in like any
bad input (one dead letter, one rejection) and goes on.

When records cannot be told apart (a compressed batch that does not decompress, a legacy v0/v1
message set that does not decode, records whose lengths do not add up), the run is one stand-in whose
value is its raw bytes, delivered at the run's last offset so that committing it covers the run.
Only the default read-uncommitted isolation is handled here (Alliance uses no Kafka transactions);
anything else keeps aiokafka's code.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiokafka import codec
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import DefaultRecordBase, DefaultRecordBatch
from aiokafka.record.legacy_records import LegacyRecordBatch
from aiokafka.record.util import decode_varint
from aiokafka.structs import ConsumerRecord

from alliance.contracts.limits import MAX_HEADER_BYTES, MAX_HEADERS

UNREADABLE_HEADER = "alliance-unreadable"
# JSON list of [name, value] of every header of an undecodable record, as sent: base64, value null if null.
RAW_HEADERS_HEADER = "alliance-unreadable-headers"

_original = fetcher.PartitionRecords._unpack_records
_HEADER = DefaultRecordBase.HEADER_STRUCT  # a v2 batch's fixed header (61 bytes), records count last
_LOG_OVERHEAD = 12  # base offset and length: what every format (v0, v1, v2) starts with
_MAGIC_AT = 16
_MIN_BATCH = _LOG_OVERHEAD + 14  # the smallest v0 message
_DECOMPRESS: dict[int, Callable[[bytes], bytes]] = {
    DefaultRecordBase.CODEC_GZIP: codec.gzip_decode,
    DefaultRecordBase.CODEC_SNAPPY: codec.snappy_decode,
    DefaultRecordBase.CODEC_LZ4: codec.lz4_decode,
    DefaultRecordBase.CODEC_ZSTD: codec.zstd_decode,
}


@dataclass(frozen=True)
class Unreadable:
    """An undecodable record, or a run of records that cannot be told apart, as far as it could be read."""

    offset: int  # where it is delivered and committed: the record's own offset, or a run's last one
    reason: str
    timestamp: int = -1
    timestamp_type: int = 0
    key: bytes | None = None
    value: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()  # those whose names are UTF-8
    raw_headers: tuple[tuple[bytes, bytes | None], ...] | None = None  # all of them, as sent

    def consumer_record(self, topic: str, partition: int) -> ConsumerRecord[bytes, bytes]:
        marks: list[tuple[str, bytes | None]] = [(UNREADABLE_HEADER, self.reason[:500].encode())]
        if self.raw_headers is not None:
            encoded = [[_b64(name), None if value is None else _b64(value)] for name, value in self.raw_headers]
            marks.append((RAW_HEADERS_HEADER, json.dumps(encoded).encode()))
        # The readable headers go on as headers (the rejection names the record by its ce_id) within the
        # limits of an accepted record, so that a dead letter of the stand-in stays within its own limit;
        # the JSON list has them all.
        kept = [
            (k, v)
            for k, v in self.headers
            if not k.startswith(UNREADABLE_HEADER) and len(k) + len(v or b"") <= MAX_HEADER_BYTES
        ][:MAX_HEADERS]
        return ConsumerRecord(
            topic,
            partition,
            self.offset,
            self.timestamp,
            self.timestamp_type,
            self.key,
            self.value,
            None,
            -1 if self.key is None else len(self.key),
            -1 if self.value is None else len(self.value),
            (*kept, *marks),
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def decode_batch(raw: bytes) -> Iterator[Any]:
    """The records of one batch, each decoded alone: aiokafka's record, or :class:`Unreadable`.

    ``raw`` is the whole batch as fetched (v2, or a legacy v0/v1 message set). Never raises.
    """
    magic = raw[_MAGIC_AT] if len(raw) > _MAGIC_AT else -1
    if magic < 2 or len(raw) < _HEADER.size:
        yield _whole(raw, _last_offset(raw), f"a message set of format v{magic} cannot be decoded")
        return
    fields = list(_HEADER.unpack_from(raw))
    base, attributes, last_delta, first_time, max_time, count = (fields[i] for i in (0, 5, 6, 7, 8, 12))
    last = base + last_delta
    log_append = bool(attributes & DefaultRecordBase.TIMESTAMP_TYPE_MASK)
    body = raw[_HEADER.size :]
    compression = attributes & DefaultRecordBase.CODEC_MASK
    if compression:
        try:
            body = _DECOMPRESS[compression](body)
        except Exception as exc:  # unknown codec, codec library missing, corrupt data
            yield _whole(raw, last, f"a compressed batch cannot be decompressed: {_why(exc)}")
            return
    fields[5] = attributes & ~DefaultRecordBase.CODEC_MASK  # the records one at a time, uncompressed
    fields[12] = 1
    pos = 0
    for _ in range(count):
        try:
            length, start = decode_varint(body, pos)
        except (IndexError, ValueError):
            length, start = -1, pos
        end = start + length
        if length < 0 or end > len(body):
            yield _whole(body[pos:], last, f"records after byte {pos} of the batch cannot be told apart")
            return
        record = body[pos:end]
        fields[1] = _HEADER.size - _LOG_OVERHEAD + len(record)
        try:
            [decoded] = list(DefaultRecordBatch(_HEADER.pack(*fields) + record))
        except Exception as exc:  # a header name that is not UTF-8, a malformed record…
            yield _unreadable(body[start:end], base, first_time, max_time if log_append else None, exc)
        else:
            yield decoded
        pos = end


def _whole(raw: bytes, last: int, reason: str) -> Unreadable:
    return Unreadable(last, f"{reason}; the value is its raw bytes", value=bytes(raw))


def _last_offset(raw: bytes) -> int:
    return int(struct.unpack_from(">q", raw)[0]) if len(raw) >= 8 else -1  # a legacy set's offset is its last


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _unreadable(record: bytes, base: int, first_time: int, log_time: int | None, exc: Exception) -> Unreadable:
    """What can be read of one record that aiokafka could not decode (``record`` after its length)."""
    reason = f"cannot be decoded: {_why(exc)}"
    try:
        pos = 1  # attributes: one byte, unused
        time_delta, pos = decode_varint(record, pos)
        offset_delta, pos = decode_varint(record, pos)
    except (IndexError, ValueError):
        return Unreadable(base, f"{reason}; the value is the raw record", value=bytes(record))
    offset = base + offset_delta
    timestamp = log_time if log_time is not None else first_time + time_delta
    fields: list[bytes | None] = []
    try:
        for _ in range(2):
            length, pos = decode_varint(record, pos)
            fields.append(None if length < 0 else bytes(record[pos : pos + length]))
            pos += max(length, 0)
        count, pos = decode_varint(record, pos)
        raw_headers: list[tuple[bytes, bytes | None]] = []
        for _ in range(count):
            length, pos = decode_varint(record, pos)
            name = bytes(record[pos : pos + length])
            pos += length
            length, pos = decode_varint(record, pos)
            raw_headers.append((name, None if length < 0 else bytes(record[pos : pos + length])))
            pos += max(length, 0)
        if pos != len(record):
            raise ValueError(f"{len(record) - pos} bytes left over")
    except (IndexError, ValueError) as error:
        reason += f"; nor read field by field ({type(error).__name__}): the value is the raw record"
        return Unreadable(offset, reason, timestamp, int(log_time is not None), value=bytes(record))
    readable, unnamed = [], []
    for number, (name, value) in enumerate(raw_headers, 1):
        try:
            readable.append((name.decode(), value))
        except UnicodeDecodeError:
            unnamed.append(str(number))
    if unnamed:
        reason = f"offset {offset} cannot be decoded: the name of header {', '.join(unnamed)} is not UTF-8"
    else:
        reason = f"offset {offset} {reason}"
    return Unreadable(
        offset, reason, timestamp, int(log_time is not None), fields[0], fields[1], tuple(readable), tuple(raw_headers)
    )


class RawRecords:
    """The batches of one fetched buffer, as aiokafka's ``MemoryRecords`` gives them, keeping the bytes of
    the one last given (:attr:`current`) for decoding record by record."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self.current = memoryview(b"")

    def size_in_bytes(self) -> int:
        return len(self._data)

    def _end(self) -> int | None:
        if len(self._data) - self._pos < _LOG_OVERHEAD:
            return None
        end = self._pos + _LOG_OVERHEAD + int(struct.unpack_from(">i", self._data, self._pos + 8)[0])
        return end if end <= len(self._data) else None  # a partial batch at the end of a fetch is normal

    def has_next(self) -> bool:
        return self._end() is not None

    def next_batch(self) -> Any:
        end = self._end()
        if end is None:
            return None
        self.current, self._pos = self._data[self._pos : end], end
        if len(self.current) < _MIN_BATCH:
            raise CorruptRecordException(f"a batch of {len(self.current)} bytes is smaller than any record")
        magic = self.current[_MAGIC_AT]
        return DefaultRecordBatch(self.current) if magic >= 2 else LegacyRecordBatch(self.current, magic)


def _unpack_records(self: Any) -> Iterator[ConsumerRecord[Any, Any]]:
    records = self._records
    if self._isolation_level == fetcher.READ_COMMITTED or not isinstance(records, RawRecords):
        yield from _original(self)
        return
    tp = self._tp
    while records.has_next():
        batch = records.next_batch()
        if self._check_crcs and not batch.validate_crc():
            raise CorruptRecordException(f"Invalid CRC - {tp}")  # a transport error: refetched
        if batch.is_control_batch:
            self.next_fetch_offset = batch.next_offset
            continue
        try:
            decoded = list(batch)
        except Exception:  # some record of the batch cannot be decoded: each on its own
            decoded = list(decode_batch(bytes(records.current)))
        for record in decoded:
            if record.offset < self.next_fetch_offset:
                continue  # already consumed (a batch refetched from its start)
            if isinstance(record, Unreadable):
                consumer_record = record.consumer_record(tp.topic, tp.partition)
            else:
                consumer_record = self._consumer_record(tp, record)
            self.next_fetch_offset = record.offset + 1
            yield consumer_record
        self.next_fetch_offset = batch.next_offset


def install() -> None:
    """Use the record-by-record unpacking in every consumer of this process (idempotent)."""
    fetcher.MemoryRecords = RawRecords
    fetcher.PartitionRecords._unpack_records = _unpack_records
