"""Consumer lag of every Alliance consumer group, measured from outside the consumers.

A service reports the lag of its own consumer groups (:class:`alliance.runtime.metrics.ServiceMetrics`),
which says nothing once the service is stopped or stuck -- exactly when lag matters. Here every
Alliance group of a namespace is measured as the operators' principal (committed offsets against end
offsets, :func:`alliance.runtime.metrics.measure_consumer_lag`): once for ``alliance lag``
(:func:`consumer_lag`), or in the background for the exporter (:class:`ConsumerLagCollector`, served by
``python -m alliance.operator.lag_exporter``). Same metric, same labels as the services':
``max by (group, topic)`` merges the two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from alliance.runtime.kafka_admin import KafkaAdmin
from alliance.runtime.metrics import measure_consumer_lag
from alliance.runtime.settings import Settings

log = structlog.get_logger(__name__)


async def consumer_lag(settings: Settings, groups: dict[str, list[str]] | None = None) -> dict[tuple[str, str], int]:
    """One measurement on connections of its own (the operators' CLI), closed afterwards."""
    async with KafkaAdmin(settings, client_id="alliance-lag") as kafka:
        return await measure_consumer_lag(kafka, groups)


def group_service(settings: Settings, group: str) -> str:
    """The service a consumer group belongs to: ``[namespace.]alliance.<service>.<purpose>``."""
    parts = group.removeprefix(settings.topic("")).split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "alliance" else "unknown"


class ConsumerLagCollector(Collector):
    """``alliance_consumer_lag`` of every Alliance consumer group of the namespace, as last measured.

    :meth:`run` measures every ``interval`` seconds through one kept connection; a scrape reads the
    last figures. When no measurement succeeded for three intervals (the broker does not answer),
    :meth:`collect` raises: the scrape fails visibly (the scraper records ``up`` = 0) rather than
    report stale figures.
    """

    def __init__(self, settings: Settings, interval: float = 15.0, timeout: float = 10.0) -> None:
        self.settings = settings
        self.interval = interval
        self.timeout = timeout
        self.kafka = KafkaAdmin(settings, client_id="alliance-lag-exporter")
        self.lag: dict[tuple[str, str], int] = {}
        self.measured: float | None = None  # monotonic time of the last successful measurement
        self.error: str | None = None

    async def measure(self) -> None:
        try:
            self.lag = await asyncio.wait_for(measure_consumer_lag(self.kafka), self.timeout)
            self.measured, self.error = time.monotonic(), None
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("consumer lag not measured", error=self.error)

    async def run(self) -> None:
        while True:
            await self.measure()
            await asyncio.sleep(self.interval)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.measured is None or time.monotonic() - self.measured > 3 * self.interval + self.timeout:
            raise LagNotMeasured(self.error or "not measured yet")
        family = GaugeMetricFamily(
            "alliance_consumer_lag",
            "Records not yet committed by a consumer group, per topic",
            labels=["service", "group", "topic"],
        )
        for (group, topic), count in sorted(self.lag.items()):
            family.add_metric([group_service(self.settings, group), group, topic], count)
        yield family


class LagNotMeasured(RuntimeError):
    """No recent measurement of consumer lag: the broker did not answer."""
