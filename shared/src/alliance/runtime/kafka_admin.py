"""One Kafka admin connection per process, opened on first use and kept.

Measuring consumer lag and checking that a topic exists are metadata questions a service asks again
and again. Each new client is a new TCP connection and SASL/SCRAM handshake (thousands of PBKDF2
iterations on the broker), so they share one admin client and one offsets probe (a consumer without
a group, used only for end offsets), reopened after a failure and closed with the service.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from alliance.runtime.settings import Settings


class KafkaAdmin:
    def __init__(self, settings: Settings, client_id: str = "alliance-admin") -> None:
        self.settings = settings
        self.client_id = client_id
        self.opened = 0  # connections opened (admin client and probe each count one): kept low on purpose
        self._admin: AIOKafkaAdminClient | None = None
        self._probe: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> KafkaAdmin:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def admin(self) -> AIOKafkaAdminClient:
        async with self._lock:
            if self._admin is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    client_id=self.client_id,
                    **self.settings.kafka_security(),
                )
                await admin.start()
                self._admin = admin
                self.opened += 1
            return self._admin

    async def probe(self) -> AIOKafkaConsumer:
        async with self._lock:
            if self._probe is None:
                probe = AIOKafkaConsumer(
                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                    client_id=self.client_id,
                    enable_auto_commit=False,
                    **self.settings.kafka_security(),
                )
                await probe.start()
                self._probe = probe
                self.opened += 1
            return self._probe

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict(await (await self.probe()).end_offsets(partitions))

    async def missing_topics(self, topics: list[str]) -> set[str]:
        """Which of ``topics`` the broker does not have (asked afresh: metadata, not a cache)."""
        described = await (await self.admin()).describe_topics(topics)
        return {t["topic"] for t in described if t.get("error_code") == UnknownTopicOrPartitionError.errno}

    async def reset(self) -> None:
        """After an error: close both clients; the next question opens them again."""
        await self.close()

    async def close(self) -> None:
        async with self._lock:
            admin, probe, self._admin, self._probe = self._admin, self._probe, None, None
        if probe is not None:
            await probe.stop()
        if admin is not None:
            await admin.close()
