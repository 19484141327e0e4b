"""The agency registry as a service sees it: the baseline file plus the registry topic, followed live.

Registry changes are ``AgencyRegistered`` events on the (compacted) registry topic, which only the
operators' principal may write (ACL). At start a service reads that topic to its end before it
subscribes to any intake, so its first decision already uses the current registry; afterwards it
follows changes and tells its listeners (a new agency's intake topic is then subscribed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from alliance.contracts.registry import REGISTRY_TOPIC, Agency, AgencyRegistered, Registry, baseline_registry
from alliance.runtime.settings import Settings

log = structlog.get_logger(__name__)

OPERATOR_SOURCE = "urn:alliance:operator"


class RegistryFollower:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry: Registry = baseline_registry()
        self.listeners: list[Callable[[Agency], None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Read the registry topic to its end (waits for Kafka like every start-up step)."""
        topic = self.settings.topic(REGISTRY_TOPIC)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            client_id="alliance-registry",
            # Earliest as the default reset too: a background "latest" reset of the new assignment can
            # land after seek_to_beginning and skip the registry (seen with the operators' reader).
            auto_offset_reset="earliest",
            **self.settings.kafka_security(),
        )
        await consumer.start()
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, (await consumer.beginning_offsets([partition]))[partition])
        end = (await consumer.end_offsets([partition]))[partition]
        while await consumer.position(partition) < end:
            for records in (await consumer.getmany(partition, timeout_ms=1000)).values():
                for record in records:
                    self._apply(record.value, record.headers)
        self._consumer = consumer
        log.info("registry loaded", version=self.registry.version, agencies=len(self.registry.agencies))

    def follow(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="registry")

    async def _follow(self) -> None:
        assert self._consumer is not None
        while True:
            for records in (await self._consumer.getmany(timeout_ms=5000)).values():
                for record in records:
                    agency = self._apply(record.value, record.headers)
                    for listener in self.listeners:
                        if agency is not None:
                            listener(agency)

    def _apply(
        self, value: bytes | None, headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]
    ) -> Agency | None:
        source = dict(headers or ()).get("ce_source", b"").decode("utf-8", "replace")
        if source != OPERATOR_SOURCE:
            log.warning("registry change refused: not from the operators", source=source[:100])
            return None
        try:
            change = AgencyRegistered.model_validate(json.loads(value or b""))
        except (ValueError, ValidationError):
            log.warning("registry change refused: unreadable")
            return None
        before = self.registry.version
        self.registry = self.registry.with_entry(change.agency, change.registry_version)
        if self.registry.version == before:
            return None
        log.info("registry changed", version=self.registry.version, agency=change.agency.id)
        return change.agency

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
