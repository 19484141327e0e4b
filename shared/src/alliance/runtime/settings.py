"""Runtime settings from environment variables (prefix ``ALLIANCE_``); nothing is hard-coded."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALLIANCE_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_username: str | None = Field(default=None, description="SASL/SCRAM-SHA-512 principal (svc-<service>)")
    kafka_password: SecretStr | None = Field(default=None, description="its password (never logged)")
    mongo_uri: str = "mongodb://127.0.0.1:27017/"
    namespace: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9-]{0,30})?$",
        description="prefix for topics, consumer groups and databases; isolates environments and test runs",
    )
    environment: str = "local"
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    trace_query_url: str = Field(
        default="http://127.0.0.1:16686", description="the trace backend's query API (Jaeger), for the flow view"
    )
    metrics_query_url: str = Field(
        default="http://127.0.0.1:8428", description="the metrics backend's Prometheus query API, for the console"
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="where /health, /metrics and /asyncapi.json listen: loopback unless a deployment says "
        "otherwise (compose and Kubernetes set 0.0.0.0 and put a network policy in front)",
    )
    http_port: int | None = Field(default=None, description="health/AsyncAPI port; each service has a default")
    log_level: str = "INFO"
    topic_partitions: int = Field(default=3, ge=1)
    consumer_concurrency: int = Field(
        default=3, ge=1, description="consumers per subscription in one process (partitions handled concurrently)"
    )
    topic_replication: int = Field(default=1, ge=1)
    outbox_sweep_seconds: float = Field(
        default=5.0, gt=0, description="how often left-overs of a crash are looked for (the handler publishes at once)"
    )
    fetch_max_wait_ms: int = Field(
        default=5000, ge=10, description="how long an idle consumer's fetch waits; a new record returns at once"
    )
    deadline_scan_seconds: float = Field(default=5.0, gt=0, description="how often the deadline clock looks")
    shutdown_grace_seconds: float = Field(default=20.0, gt=0, description="how long SIGTERM waits for work in flight")
    parent_wait_seconds: float = Field(
        default=30.0, ge=0, description="how long an event waits for the record it refers to before it is refused"
    )
    lag_refresh_seconds: float = Field(
        default=15.0, gt=0, description="how often consumer lag is measured (scrapes read the last measurement)"
    )
    delivery_wait_seconds: float = Field(
        default=10.0, gt=0, description="how long a delivery waits for its topic before the topic is checked"
    )
    retry_initial_seconds: float = Field(default=0.2, gt=0)
    retry_max_seconds: float = Field(default=15.0, gt=0)

    def kafka_security(self) -> dict[str, Any]:
        """aiokafka client arguments: SASL/SCRAM-SHA-512 when a principal is configured."""
        if not self.kafka_username:
            return {}
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.kafka_username,
            "sasl_plain_password": self.kafka_password.get_secret_value() if self.kafka_password else "",
        }

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    def database(self, service: str) -> str:
        base = f"alliance_{service}"
        return f"{self.namespace.replace('-', '_')}_{base}" if self.namespace else base

    def group(self, service: str, purpose: str) -> str:
        return self.topic(f"alliance.{service}.{purpose}")
