"""Runtime settings from environment variables (prefix ``ALLIANCE_``); nothing is hard-coded.

Secrets come from the environment or, better, from files (``…_PASSWORD_FILE``, e.g. a mounted
Kubernetes Secret or the local stack's ``.local/secrets/…``); they are held as ``SecretStr`` and
never logged.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from alliance.contracts.topics import DAY_MS, TOPIC_CLASSES, TopicClass, topic_class


class TopicClassSettings(BaseModel):
    """A deployment's choices for one topic class (``ALLIANCE_TOPIC_CLASSES`` as JSON); unset: the defaults."""

    replication: int | None = Field(default=None, ge=1)
    min_insync: int | None = Field(default=None, ge=1)
    retention_days: float | None = Field(default=None, gt=0)


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is created: partitions, replication factor and its configs (retention, durability)."""

    partitions: int
    replication: int
    configs: dict[str, str]


def read_secret(path: Path) -> SecretStr:
    """A secret file's content without its final newline (files written by hand usually have one)."""
    return SecretStr(path.read_text().rstrip("\r\n"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALLIANCE_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_username: str | None = Field(default=None, description="SASL/SCRAM-SHA-512 principal (svc-<service>)")
    kafka_password: SecretStr | None = Field(default=None, description="its password (never logged)")
    kafka_password_file: Path | None = Field(default=None, description="a file holding the password instead")
    kafka_security_protocol: Literal["SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="SASL_PLAINTEXT", description="SASL_SSL encrypts and checks the broker (implied by a CA file)"
    )
    kafka_ca_file: Path | None = Field(default=None, description="PEM CA the broker's certificate must chain to")
    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/", description="without credentials (may be logged)")
    mongo_username: str | None = Field(default=None, description="the store role (svc-<service>)")
    mongo_password: SecretStr | None = Field(default=None, description="its password (never logged)")
    mongo_password_file: Path | None = Field(default=None, description="a file holding the password instead")
    mongo_max_connections: int = Field(
        default=10,
        ge=1,
        description="store connections (so commands in flight) per process: every instance of a service stays well"
        " below its login's PostgreSQL pool in FerretDB (40 locally), where more commands would only queue",
    )
    mongo_auth_mechanism: str | None = Field(
        default=None, description="PLAIN for FerretDB v1 (it passes the login to PostgreSQL); MongoDB: its default"
    )
    mongo_auth_source: str | None = Field(default=None, description="the database holding the user (MongoDB)")
    namespace: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9-]{0,30})?$",
        description="prefix for topics, consumer groups and databases; isolates environments and test runs",
    )
    environment: str = "local"
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    trace_sampling_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="share of flows whose spans are kept, decided from the trace id where a flow enters "
        "(refusals, failures, escalations and flows operators ask for are kept whatever it is)",
    )
    trace_agencies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="agencies whose every flow is kept, comma-separated (operators following one integration)",
    )
    trace_sender_flag: bool = Field(
        default=True, description="keep a flow whose sender set the W3C sampled flag on its record"
    )
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
    batch_max_records: int = Field(
        default=200, ge=1, description="records one consumer takes at a time (its partitions handled concurrently)"
    )
    batch_linger_ms: int = Field(
        default=100, ge=0, description="how long a decided record's writes and facts may wait for its batch's others"
    )
    batch_max_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024 * 1024, description="bytes one fetch may return (all partitions together)"
    )
    topic_replication: int = Field(default=1, ge=1, description="replication factor of every class (local: 1)")
    topic_min_insync: int = Field(default=1, ge=1, description="min.insync.replicas of every class (local: 1)")
    topic_classes: dict[TopicClass, TopicClassSettings] = Field(
        default_factory=dict, description="per-class overrides of replication, min.insync and retention"
    )
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

    @field_validator("trace_agencies", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return [a.strip() for a in value.split(",") if a.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _secrets_and_transport(self) -> Self:
        if self.kafka_password is None and self.kafka_password_file is not None:
            self.kafka_password = read_secret(self.kafka_password_file)
        if self.mongo_password is None and self.mongo_password_file is not None:
            self.mongo_password = read_secret(self.mongo_password_file)
        if self.kafka_ca_file is not None:
            if "kafka_security_protocol" not in self.model_fields_set:
                self.kafka_security_protocol = "SASL_SSL"
            elif self.kafka_security_protocol != "SASL_SSL":
                raise ValueError("ALLIANCE_KAFKA_CA_FILE is set but ALLIANCE_KAFKA_SECURITY_PROTOCOL is not SASL_SSL")
        for kind in TopicClass:  # a write would never be acknowledged: refuse the settings instead
            if self.min_insync(kind) > self.replication(kind):
                raise ValueError(f"topic class {kind}: min.insync.replicas is above the replication factor")
        return self

    def kafka_ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for SASL_SSL: the broker must present a certificate of the CA (or a public one)."""
        if self.kafka_security_protocol != "SASL_SSL":
            return None
        # Certificate and host name checked; given a CA file, only that CA is trusted (not the public ones).
        return ssl.create_default_context(cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None)

    def kafka_security(self) -> dict[str, Any]:
        """aiokafka client arguments: SASL/SCRAM-SHA-512 when a principal is configured, over TLS if asked."""
        if not self.kafka_username:
            return {}
        found: dict[str, Any] = {
            "security_protocol": self.kafka_security_protocol,
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.kafka_username,
            "sasl_plain_password": self.kafka_password.get_secret_value() if self.kafka_password else "",
        }
        if self.kafka_security_protocol == "SASL_SSL":
            found["ssl_context"] = self.kafka_ssl_context()
        return found

    def mongo_auth(self) -> dict[str, Any]:
        """PyMongo client arguments for the store login, kept out of the URI (which may be logged)."""
        if not self.mongo_username:
            return {}
        found: dict[str, Any] = {
            "username": self.mongo_username,
            "password": self.mongo_password.get_secret_value() if self.mongo_password else "",
        }
        if self.mongo_auth_mechanism:
            found["authMechanism"] = self.mongo_auth_mechanism
        if self.mongo_auth_source:
            found["authSource"] = self.mongo_auth_source
        return found

    def replication(self, kind: TopicClass) -> int:
        chosen = self.topic_classes.get(kind)
        return chosen.replication if chosen and chosen.replication else self.topic_replication

    def min_insync(self, kind: TopicClass) -> int:
        chosen = self.topic_classes.get(kind)
        return chosen.min_insync if chosen and chosen.min_insync else self.topic_min_insync

    def topic_spec(self, topic: str) -> TopicSpec:
        """Partitions, replication and configs of a topic, from its class (contracts.topics) and the settings."""
        kind = topic_class(topic)
        defaults = TOPIC_CLASSES[kind]
        chosen = self.topic_classes.get(kind)
        days = chosen.retention_days if chosen and chosen.retention_days else defaults.retention_days
        configs = {
            "min.insync.replicas": str(self.min_insync(kind)),
            "cleanup.policy": "compact" if defaults.compacted else "delete",
            "retention.ms": str(round(days * DAY_MS)) if days else "-1",
        }
        if defaults.max_message_bytes:
            configs["max.message.bytes"] = str(defaults.max_message_bytes)
        return TopicSpec(defaults.partitions or self.topic_partitions, self.replication(kind), configs)

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    def database(self, service: str) -> str:
        base = f"alliance_{service}"
        return f"{self.namespace.replace('-', '_')}_{base}" if self.namespace else base

    def group(self, service: str, purpose: str) -> str:
        return self.topic(f"alliance.{service}.{purpose}")
