"""Writes one Kafka record whose header name is not UTF-8, as a librdkafka client can.

aiokafka's own producer always encodes header names as UTF-8, so this script swaps in aiokafka's
pure-Python record builder (AIOKAFKA_NO_EXTENSIONS) and hands it a name whose encoding is raw bytes.
Usage: undecodable_record.py BOOTSTRAP TOPIC KEY (the agency's login as JSON in $KAFKA_LOGIN)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

os.environ["AIOKAFKA_NO_EXTENSIONS"] = "1"

from aiokafka import AIOKafkaProducer


class RawName(str):
    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"ce_\xff\xfe"


async def main(bootstrap: str, topic: str, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **json.loads(os.environ.get("KAFKA_LOGIN", "{}")))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=key.encode(), headers=[(RawName("x"), b"v")])
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
