"""The live overview, from the metrics backend's Prometheus query API (VictoriaMetrics locally).

Every figure is one PromQL query over what the services export at ``/metrics`` (FastStream's
``faststream_*`` and Alliance's ``alliance_*``), so the console shows what a Grafana dashboard on the
same backend would show, and costs nothing that grows with the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

SERVICES = ("interdiction", "firearms", "chemicals", "money_laundering", "extradition")

# Per service, one value each (label ``service`` or FastStream's ``app_name``).
QUERIES = {
    "scraped": "max by (service) (label_replace(up, 'service', '$1', 'job', '(.*)'))",
    "handled_per_s": "sum by (service) (label_replace("
    "rate(faststream_received_processed_messages_total[5m]), 'service', '$1', 'app_name', '(.*)'))",
    "published_per_s": "sum by (service) (label_replace("
    "rate(faststream_published_messages_total[5m]), 'service', '$1', 'app_name', '(.*)'))",
    "handled": "sum by (service) (label_replace("
    "faststream_received_processed_messages_total, 'service', '$1', 'app_name', '(.*)'))",
    "consumer_lag": "sum by (service) (label_replace(max by (group, topic) (alliance_consumer_lag), "
    "'service', '$1', 'group', '(?:.*\\\\.)?alliance\\\\.([a-z_]+)\\\\..*'))",
    "outbox_lag_s": "max by (service) (alliance_outbox_lag_seconds)",
    "dead_letters": "sum by (service) (alliance_dead_letters_total)",
    "approaching": "sum by (service) (alliance_deadline_escalations_total{stage='approaching'})",
    "breached": "sum by (service) (alliance_deadline_escalations_total{stage='breached'})",
}
DEAD_LETTERS_BY_REASON = "sum by (service, reason) (alliance_dead_letters_total)"


class MetricsBackendError(RuntimeError):
    """The metrics backend did not answer."""


@dataclass
class ServiceFigures:
    service: str
    values: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float | None:
        return self.values.get(name)


@dataclass
class Overview:
    services: list[ServiceFigures]
    dead_letters: list[tuple[str, str, float]]  # service, reason, count


class MetricsBackend:
    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client

    async def query(self, promql: str) -> list[dict[str, Any]]:
        try:
            if self._client is not None:
                response = await self._client.get(self.base_url + "/api/v1/query", params={"query": promql})
            else:
                async with httpx.AsyncClient(timeout=10) as client:
                    response = await client.get(self.base_url + "/api/v1/query", params={"query": promql})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise MetricsBackendError(f"metrics backend at {self.base_url}: {exc}") from exc
        result: list[dict[str, Any]] = response.json().get("data", {}).get("result", [])
        return result

    async def overview(self) -> Overview:
        rows = {s: ServiceFigures(s) for s in SERVICES}
        for name, promql in QUERIES.items():
            for sample in await self.query(promql):
                service = sample.get("metric", {}).get("service", "")
                if service in rows:
                    rows[service].values[name] = float(sample["value"][1])
        reasons = [
            (s["metric"].get("service", ""), s["metric"].get("reason", ""), float(s["value"][1]))
            for s in await self.query(DEAD_LETTERS_BY_REASON)
            if float(s["value"][1]) > 0
        ]
        return Overview(services=list(rows.values()), dead_letters=sorted(reasons))
