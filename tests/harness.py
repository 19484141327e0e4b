"""Test harness for flows across services, on the real local stack.

Deliberately does not use the project's own envelope helpers to publish: an outside agency writes
raw Kafka records with hand-written ``ce_*`` headers, and so do these tests.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import security  # noqa: E402 - the stack's own principals and ACLs
import stack as stack_script  # noqa: E402 - the stack's own settings

VENV_BIN = ROOT / ".venv" / "bin"
STACK_HOME = Path(os.environ.get("ALLIANCE_HOME", ROOT / ".local")).resolve()
BOOTSTRAP = f"127.0.0.1:{os.environ.get('ALLIANCE_KAFKA_PORT', '9092')}"
# The broker's SASL_SSL listener, its certificate signed by the stack's own CA (stack.py writes both).
BOOTSTRAP_TLS = f"127.0.0.1:{os.environ.get('ALLIANCE_KAFKA_TLS_PORT', '9094')}"
STACK_CA = STACK_HOME / "tls" / "ca.crt"
MONGO_PORT = os.environ.get("ALLIANCE_MONGO_PORT", "27017")
STORE_POOL_PER_LOGIN = stack_script.STORE_POOL_PER_LOGIN  # FerretDB's PostgreSQL connections per login
# The tests read every service's database, as the store's superuser (the tests' own principal).
MONGO_URI = (
    f"mongodb://{security.STORE_ADMIN}:{security.password(STACK_HOME, security.STORE_ADMIN, 'store')}"
    f"@127.0.0.1:{MONGO_PORT}/?authMechanism=PLAIN"
)
LOGS = ROOT / ".local" / "logs"
NAMESPACES: list[str] = []  # those the tests of this session provisioned (their records are checked at the end)


def kafka_login(principal: str, ca_file: Path | None = None) -> dict[str, Any]:
    """aiokafka arguments to connect as ``principal`` (a service, an agency, or ``operator``), read from
    that principal's own secret file; over TLS trusting ``ca_file`` when given (``BOOTSTRAP_TLS``)."""
    return security.aiokafka_config(principal, security.password(STACK_HOME, principal), ca_file)


def operator() -> dict[str, Any]:
    """The operators' principal: reads every stream; writes only the registry and replay requests."""
    return kafka_login(security.OPERATOR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- traces ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[tuple[str, dict[str, Any]], ...] = ()  # (name, attributes) of each span event


def _otlp_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as Python (lists for arrays)."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_otlp_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


def _otlp_attributes(attributes: Any) -> dict[str, Any]:
    return {a.key: _otlp_value(a.value) for a in attributes}


class OtlpReceiver:
    """A minimal OTLP/HTTP trace receiver (protobuf), standing in for the collector."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                receiver._collect(request)
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _collect(self, request: ExportTraceServiceRequest) -> None:
        with self._lock:
            for resource_spans in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    for s in scope.spans:
                        self.spans.append(
                            Span(
                                s.trace_id.hex(),
                                s.span_id.hex(),
                                s.parent_span_id.hex(),
                                s.name,
                                attrs.get("service.name", ""),
                                _otlp_attributes(s.attributes),
                                tuple((e.name, _otlp_attributes(e.attributes)) for e in s.events),
                            )
                        )

    def in_trace(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def close(self) -> None:
        self._server.shutdown()


# -- services as real processes ------------------------------------------------------------------


@dataclass
class ServiceProcess:
    name: str
    port: int
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def health(self) -> dict[str, Any]:
        """The health report; a degraded service answers 503 with the same report."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            return dict(json.loads(error.read()))

    def asyncapi(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/asyncapi.json", timeout=5) as response:
            return dict(json.loads(response.read()))


@dataclass
class System:
    """Alliance services running as their own processes in an isolated namespace."""

    namespace: str
    otlp: OtlpReceiver
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    provisioned: bool = False

    def provision(self, *agencies: str) -> None:
        """Topics, users and ACLs of this namespace (and of extra agencies ``id:domain,domain``)."""
        stack("provision", "--namespace", self.namespace, *(f"--agency={a}" for a in agencies))
        self.provisioned = True
        if self.namespace not in NAMESPACES:
            NAMESPACES.append(self.namespace)

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def database(self, service: str) -> str:
        return f"{self.namespace.replace('-', '_')}_alliance_{service}"

    def group(self, service: str, purpose: str) -> str:
        return self.topic(f"alliance.{service}.{purpose}")

    def start(
        self, name: str, extra_env: dict[str, str] | None = None, *, instance: str | None = None, wait: bool = True
    ) -> ServiceProcess:
        """Start (or restart) a service; ``instance`` names a further instance of the same service.

        Returns once it reports itself healthy (``wait=False``: once it answers at all)."""
        key = instance or name
        if not self.provisioned:
            self.provision()
        service = self.services.get(key) or ServiceProcess(
            name, free_port(), LOGS / f"test-{self.namespace}-{key}.log", env=extra_env or {}
        )
        self.services[key] = service
        env = {
            **os.environ,
            "ALLIANCE_NAMESPACE": self.namespace,
            "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
            **security.service_logins(STACK_HOME, name),  # the paths of its own secret files
            "ALLIANCE_MONGO_URI": f"mongodb://127.0.0.1:{MONGO_PORT}/",
            "ALLIANCE_HTTP_PORT": str(service.port),
            "ALLIANCE_OTLP_ENDPOINT": self.otlp.endpoint,
            "ALLIANCE_ENVIRONMENT": "test",
            "ALLIANCE_OUTBOX_SWEEP_SECONDS": "0.5",
            "ALLIANCE_PARENT_WAIT_SECONDS": "5",
            "ALLIANCE_LAG_REFRESH_SECONDS": "2",
            **service.env,
        }
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(service.log, "ab")  # noqa: SIM115 - the child keeps it
        service.process = subprocess.Popen(
            [str(VENV_BIN / f"alliance-{name.replace('_', '-')}")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_healthy(service, ok=wait)
        return service

    def wait_healthy(self, service: ServiceProcess, timeout: float = 60, *, ok: bool = True) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert service.process is not None
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}; see {service.log}")
            try:
                if service.health()["status"] == "ok" or not ok:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{service.name} not healthy after {timeout}s; see {service.log}")

    def stop(self, key: str, sig: int = signal.SIGTERM) -> None:
        service = self.services[key]
        if service.process and service.process.poll() is None:
            os.killpg(service.process.pid, sig)
            service.process.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.services):
            self.stop(name)


# -- an outside agency on raw Kafka ----------------------------------------------------------------


def traceparent() -> tuple[str, str]:
    trace_id = uuid.uuid4().hex
    return trace_id, f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"


class Producers:
    """One authenticated producer per principal, started on first use (each agency is its own principal);
    over TLS when given the CA to trust (and the TLS listener)."""

    def __init__(self, bootstrap: str = BOOTSTRAP, ca_file: Path | None = None) -> None:
        self._producers: dict[str, AIOKafkaProducer] = {}
        self.bootstrap = bootstrap
        self.ca_file = ca_file

    async def of(self, principal: str) -> AIOKafkaProducer:
        if principal not in self._producers:
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **kafka_login(principal, self.ca_file))
            await producer.start()
            self._producers[principal] = producer
        return self._producers[principal]

    async def stop(self) -> None:
        for producer in self._producers.values():
            await producer.stop()


class Agency:
    """Publishes the way an agency integration would: raw aiokafka as its own principal, to its own intake
    topics, with hand-written CloudEvents headers."""

    def __init__(self, producer: Producers, agency: str) -> None:
        self.producer = producer
        self.agency = agency
        self.source = f"urn:agency:{agency}:{uuid.uuid4().hex[:8]}"

    @property
    def reply_topic_suffix(self) -> str:
        return "alliance.replies." + self.agency

    def topic_for(self, topic: str) -> str:
        """A domain's intake (``…alliance.firearms.intake``) means this agency's own intake topic there."""
        return f"{topic}.{self.agency}" if topic.endswith(".intake") else topic

    async def send(
        self,
        topic: str,
        data: dict[str, Any] | bytes,
        *,
        event_type: str,
        event_id: str | None = None,
        tlp: str = "AMBER",
        releasable_to: str = "US,MX",
        orcon: str = "false",
        key: str = "",
        trace: str | None = None,
        omit: Sequence[str] = (),
        extra: dict[str, str] | None = None,
    ) -> str:
        event_id = event_id or str(uuid.uuid4())
        headers = {
            "ce_id": event_id,
            "ce_source": self.source,
            "ce_type": event_type,
            "ce_specversion": "1.0",
            "ce_time": datetime.now(UTC).isoformat(),  # reported now: legal deadlines run from ce_time
            "content-type": "application/json",
            "ce_tlp": tlp,
            "ce_releasableto": releasable_to,
            "ce_originator": self.agency,
            "ce_orcon": orcon,
        }
        if trace:
            headers["traceparent"] = trace
        headers.update(extra or {})
        value = data if isinstance(data, bytes) else json.dumps(data).encode()
        producer = await self.producer.of(self.agency)
        await producer.send_and_wait(
            self.topic_for(topic),
            value,
            key=(key or event_id).encode(),
            headers=[(k, v.encode()) for k, v in headers.items() if k not in omit],
        )
        return event_id


async def register_agency(system: System, entry: dict[str, Any], domains: Sequence[str]) -> dict[str, Any]:
    """Add (or change) an agency the way operators do: its principal, topics and ACLs (provisioning), then
    the registry change through the operators' CLI (``alliance registry register``); its answer.

    Returns once every running service applied that version and every running service of those domains
    has subscribed the agency's intake topic (their health says both).
    """
    system.provision(f"{entry['id']}:{','.join(domains)}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "entry.json"
        path.write_text(json.dumps(entry))
        [done] = operator_cli(system, "registry", "register", str(path), "--format", "json")
    await wait_subscribed(system, entry["id"], domains)
    running = [s for s in system.services.values() if s.process is not None and s.process.poll() is None]
    async with asyncio.timeout(60):  # every running service applied the change
        while not all(s.health().get("registry_version", 0) >= done["registry_version"] for s in running):
            await asyncio.sleep(0.25)
    return dict(done)


async def wait_subscribed(system: System, agency: str, domains: Sequence[str], timeout: float = 60) -> None:
    """Wait until every running service of ``domains`` lists ``agency`` among those whose intake it reads."""
    serving = [
        s for s in system.services.values() if s.name in domains and s.process is not None and s.process.poll() is None
    ]
    async with asyncio.timeout(timeout):
        while not all(agency in s.health().get("intake_agencies", []) for s in serving):
            await asyncio.sleep(0.25)  # watching the services' own report of what they subscribed


async def write_registry_change(
    system: System, entry: dict[str, Any], registry_version: int, replaces_version: int
) -> str:
    """A raw registry change as the operators' principal, bypassing the CLI's checks; its change id."""
    change_id = f"registry-{uuid.uuid4()}"
    change = {"registry_version": registry_version, "replaces_version": replaces_version, "agency": entry}
    headers = {
        "ce_id": change_id,
        "ce_source": "urn:alliance:operator",
        "ce_type": "org.alliance.registry.agency.registered.v1",
        "ce_specversion": "1.0",
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
    }
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, **operator())
    await producer.start()
    try:
        await producer.send_and_wait(
            system.topic("alliance.registry"),
            json.dumps(change).encode(),
            key=change_id.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
    finally:
        await producer.stop()
    return change_id


def operator_cli(system: System, *args: str) -> Any:
    """Run the operators' CLI (``alliance …``) against this namespace as ``operator``; its JSON output."""
    env = {**os.environ, "ALLIANCE_NAMESPACE": system.namespace, "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP}
    secret = str(security.secret_file(STACK_HOME, security.OPERATOR))  # the operator's own, nothing else
    command = [str(VENV_BIN / "alliance"), *args, "--password-file", secret]
    done = subprocess.run(command, env=env, capture_output=True, check=True, timeout=120)
    return json.loads(done.stdout)


# -- reading what the system published ---------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    topic: str
    key: str | None
    headers: dict[str, str]
    value: bytes
    partition: int = 0
    offset: int = -1

    @property
    def type(self) -> str | None:
        return self.headers.get("ce_type")

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.value))


async def read_until(
    topics: Sequence[str],
    done: Callable[[list[Record]], bool],
    timeout: float = 60,
    login: dict[str, Any] | None = None,
    bootstrap: str = BOOTSTRAP,
) -> list[Record]:
    """Read ``topics`` from the beginning until ``done(records)`` holds; fail after ``timeout``.

    As the operators' principal unless ``login`` says otherwise (e.g. an agency reading its deliveries).
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        metadata_max_age_ms=1000,
        **(login or operator()),
    )
    await consumer.start()
    records: list[Record] = []
    try:
        async with asyncio.timeout(timeout):
            while not done(records):
                batch = await consumer.getmany(timeout_ms=500)
                for _, messages in batch.items():
                    records.extend(_record(m) for m in messages)
    except TimeoutError:
        raise AssertionError(
            f"condition not met within {timeout}s on {list(topics)}; saw {len(records)} records: "
            f"{[r.type for r in records][:20]}"
        ) from None
    finally:
        await consumer.stop()
    return records


async def read_all(
    topics: Sequence[str], login: dict[str, Any] | None = None, bootstrap: str = BOOTSTRAP
) -> list[Record]:
    """Everything on ``topics`` up to their current end (as the operators' principal by default)."""
    login = login or operator()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **login)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", **login)
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        async with asyncio.timeout(60):
            while True:
                positions = {tp: await consumer.position(tp) for tp in ends}
                if all(positions[tp] >= end for tp, end in ends.items()):
                    break
                for _, messages in (await consumer.getmany(timeout_ms=500)).items():
                    records.extend(_record(m) for m in messages)
    finally:
        await consumer.stop()
    return records


def _record(m: ConsumerRecord[bytes, bytes]) -> Record:
    return Record(
        m.topic,
        m.key.decode() if m.key else None,
        {k: v.decode(errors="replace") for k, v in (m.headers or [])},
        m.value or b"",
        m.partition,
        m.offset,
    )


async def wait_drained(group: str, topics: Sequence[str], timeout: float = 60) -> None:
    """Wait until consumer ``group`` has committed everything on ``topics`` (its work is stored)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **operator())
    probe = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, **operator())
    await admin.start()
    await probe.start()
    try:
        async with asyncio.timeout(timeout):
            # A domain's intake is one topic per agency: ``…alliance.firearms.intake`` means all of them.
            existing = await admin.list_topics()
            topics = [
                t
                for topic in topics
                for t in (
                    [topic] if not topic.endswith(".intake") else [e for e in existing if e.startswith(topic + ".")]
                )
            ]
            described = await admin.describe_topics(list(topics))
            partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
            while True:
                ends = await probe.end_offsets(partitions)
                committed = await admin.list_consumer_group_offsets(group)
                behind = [
                    tp
                    for tp, end in ends.items()
                    if end > 0 and (committed.get(tp) is None or committed[tp].offset < end)
                ]
                if not behind:
                    return
                await asyncio.sleep(0.2)  # committed offsets are state to observe, not an event
    except TimeoutError:
        raise AssertionError(f"group {group} did not catch up on {list(topics)} within {timeout}s") from None
    finally:
        await probe.stop()
        await admin.close()


async def wait_outboxes_empty(system: System, services: Sequence[str], timeout: float = 60) -> None:
    """Wait until each service's ``_outbox`` is empty: every event it committed has been published.

    Events the deadline clock raises, or that a restart or an outage left behind, are published by
    the relay and not by a consumer, so a drained consumer group does not cover them.
    """
    client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URI, tz_aware=True)
    try:
        async with asyncio.timeout(timeout):
            for service in services:
                while client[system.database(service)]["_outbox"].count_documents({}):
                    await asyncio.sleep(0.2)  # observing stored state, as wait_drained observes offsets
    except TimeoutError:
        raise AssertionError(f"outboxes of {list(services)} not empty within {timeout}s") from None
    finally:
        client.close()


async def wait_deadline_sweeps(services: Sequence[ServiceProcess], more: int = 4, timeout: float = 30) -> None:
    """Wait until each service's deadline clock has looked ``more`` further times (its health counter)."""
    marks = {id(s): s.health()["deadline_sweeps"] for s in services}
    try:
        async with asyncio.timeout(timeout):
            while any(s.health()["deadline_sweeps"] < marks[id(s)] + more for s in services):
                await asyncio.sleep(0.25)  # watching the clocks' own counters
    except TimeoutError:
        raise AssertionError(f"deadline clocks of {[s.name for s in services]} stalled") from None


SEIZURE_RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
FIREARMS_REQUEST_TYPES = {
    "org.alliance.firearms.trace_request.submitted.v1",
    "org.alliance.firearms.restoration.requested.v1",
}


async def recorded_seizure_id(system: System, reference: str, timeout: float = 60) -> str:
    """Wait for interdiction to record the agency's report ``reference``; its seizure id."""

    def mine(records: list[Record]) -> list[Record]:
        return [r for r in records if r.type == SEIZURE_RECORDED and r.json()["report_reference"] == reference]

    records = await read_until([system.topic("alliance.interdiction.events")], lambda rs: bool(mine(rs)), timeout)
    return str(mine(records)[0].json()["seizure_id"])


def firearms_events_for(seizure_id: str) -> Callable[[list[Record]], list[Record]]:
    """Selects the trace and restoration requests firearms opened for one seizure."""

    def matching(records: list[Record]) -> list[Record]:
        return [r for r in records if r.type in FIREARMS_REQUEST_TYPES and r.json()["seizure_id"] == seizure_id]

    return matching


def stack(*args: str) -> None:
    """Drive the local stack with the project's own script (e.g. ``stack("down", "--only", "ferretdb")``)."""
    subprocess.run([sys.executable, str(ROOT / "deploy" / "local" / "stack.py"), *args], check=True)


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


def forget_namespaces(namespaces: Sequence[str]) -> None:
    """Delete the topics and store databases of finished test namespaces (as the super users).

    Each session provisions a namespace of its own (a few hundred partitions); kept, they would pile up
    on a developer's stack until a broker restart takes minutes to load them all.
    """
    from confluent_kafka.admin import AdminClient

    if not namespaces:
        return
    prefixes = tuple(f"{n}." for n in namespaces)
    admin = AdminClient(security.confluent_config(BOOTSTRAP, "admin", security.password(STACK_HOME, "admin")))
    topics = [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefixes)]
    for future in admin.delete_topics(topics, request_timeout=60).values() if topics else ():
        future.result(timeout=60)
    client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URI)
    try:
        databases = tuple(f"{n.replace('-', '_')}_alliance_" for n in namespaces)
        for name in client.list_database_names():
            if name.startswith(databases):
                client.drop_database(name)
    finally:
        client.close()
