"""A Kafka record that no client can decode must not wedge a consumer.

aiokafka decodes header names as UTF-8 while it unpacks a fetched batch. A record whose header name is
not UTF-8 (librdkafka clients can write arbitrary bytes; the broker does not check) makes every
``getone()`` raise ``CorruptRecordException`` at the same offset: FastStream logs, sleeps 5 s and
fetches the same batch again, forever (measured with aiokafka 0.14.0: the partition never moves on).

:func:`install` replaces aiokafka's batch unpacking with one that decodes a batch as a whole and, when
that fails, hands the consumer a single stand-in record for the undecodable offsets carrying the
reason in an ``alliance-unreadable`` header, and moves past them. The consumer then dead-letters it
like any bad input (one dead letter, one rejection) and goes on. Only the default read-uncommitted
isolation is handled here (Alliance uses no Kafka transactions); anything else keeps aiokafka's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.structs import ConsumerRecord

UNREADABLE_HEADER = "alliance-unreadable"
_original = fetcher.PartitionRecords._unpack_records


def _unpack_records(self: Any) -> Iterator[ConsumerRecord[Any, Any]]:
    if self._isolation_level == fetcher.READ_COMMITTED:
        yield from _original(self)
        return
    tp = self._tp
    records = self._records
    while records.has_next():
        batch = records.next_batch()
        if self._check_crcs and not batch.validate_crc():
            raise CorruptRecordException(f"Invalid CRC - {tp}")  # a transport error: refetched
        if batch.is_control_batch:
            self.next_fetch_offset = batch.next_offset
            continue
        try:
            decoded = list(batch)
        except Exception as exc:  # any decoding failure of any record in the batch
            first = max(self.next_fetch_offset, batch.base_offset)
            last = batch.next_offset - 1
            reason = f"offsets {first}-{last} cannot be decoded: {type(exc).__name__}: {exc}"[:500]
            self.next_fetch_offset = batch.next_offset
            yield ConsumerRecord(
                tp.topic, tp.partition, first, -1, 0, None, None, None, -1, -1, ((UNREADABLE_HEADER, reason.encode()),)
            )
            continue
        for record in decoded:
            if record.offset < self.next_fetch_offset:
                continue  # already consumed (a compressed set refetched from its start)
            consumer_record = self._consumer_record(tp, record)
            self.next_fetch_offset = record.offset + 1
            yield consumer_record
        self.next_fetch_offset = batch.next_offset


def install() -> None:
    """Use the resilient unpacking in every consumer of this process (idempotent)."""
    fetcher.PartitionRecords._unpack_records = _unpack_records
