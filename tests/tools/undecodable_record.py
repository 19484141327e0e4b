"""Writes Kafka records with a header name that is not UTF-8, as a librdkafka client can, in ONE batch.

aiokafka's own producer always encodes header names as UTF-8, so this script swaps in aiokafka's
pure-Python record builder (AIOKAFKA_NO_EXTENSIONS) and hands it a name whose encoding is raw bytes.

Usage: undecodable_record.py BOOTSTRAP TOPIC KEY [RECORDS] [CODEC]   (the agency's login as JSON in $KAFKA_LOGIN)

RECORDS is a JSON list of {"value": text, "headers": [[name, value], ...], "undecodable": bool}; an
undecodable record gets one more header, named b"ce_\\xff\\xfe" with value b"v". Without RECORDS: one
undecodable record with value "{}" and no other header. Every record has key KEY, and the batch goes to
the partition the default partitioner gives KEY (where a record sent later with that key lands too).
CODEC compresses the batch (e.g. gzip).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

os.environ["AIOKAFKA_NO_EXTENSIONS"] = "1"

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner


class RawName(str):
    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"ce_\xff\xfe"


ONE_UNDECODABLE = [{"value": "{}", "headers": [], "undecodable": True}]


async def main(bootstrap: str, topic: str, key: str, records: list[dict[str, object]], codec: str | None) -> None:
    login = json.loads(os.environ.get("KAFKA_LOGIN", "{}"))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, **login)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        partition = DefaultPartitioner()(key.encode(), partitions, partitions)
        batch = producer.create_batch()
        for record in records:
            headers: list[tuple[str, bytes | None]] = [(str(n), str(v).encode()) for n, v in record["headers"]]  # type: ignore[attr-defined]
            if record.get("undecodable"):
                headers.append((RawName("x"), b"v"))
            assert batch.append(timestamp=None, key=key.encode(), value=str(record["value"]).encode(), headers=headers)
        await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    spec = json.loads(args[3]) if len(args) > 3 else ONE_UNDECODABLE
    asyncio.run(main(args[0], args[1], args[2], spec, args[4] if len(args) > 4 else None))
