"""``make bench``: how fast Alliance moves events, against the floor of a bare Kafka relay.

What is measured (every figure on the local stack, with the services as their own processes):

* **raw floor** — a two-hop aiokafka relay with Alliance's delivery semantics (an offset is committed
  only after the produced record is acknowledged): producer → A → relay 1 → B → relay 2 → C →
  collector. Each relay is its own process and consumer group. Run one record at a time
  (consume one, ``send_and_wait``, commit) and batched (``getmany``, send all, await all acks,
  commit). 3 Kafka hops.
* **seizure → trace request** — an agency publishes one-gun seizures on interdiction's intake; done
  when firearms publishes ``trace_request.submitted`` for that gun. 3 Kafka hops.
* **flow 4 → arrest** — fugitives are registered first; a seizure with a detained person matching a
  fugitive → ``seizure.recorded`` → extradition: ``fugitive.located`` and
  ``provisional_arrest.requested`` (published together, so flow 4 alone is 3 hops); extended the
  natural way: the requested country's authority reports the arrest (``request_step.reported``)
  and extradition publishes ``request.status_changed`` to ``arrested``. 5 Kafka hops.

Each Alliance scenario is a burst of N events sent as fast as the producer goes, at several amounts
of stored data (loaded through the real intake: seizures of many guns each). Per scenario: events/s
(N / first send → last effect seen), its ratio to the one-at-a-time floor, p50/p99 latency, and store
operations per event (sum over services of the ``store_operations`` delta in ``/health``, / N).
Per size: the stack's idle CPU (utime+stime of Kafka, FerretDB and every service over 10 s). At the
largest size, the seizure → trace burst runs again with two firearms instances, checking that no
trace request is lost and counting duplicate records.

    .venv/bin/python deploy/bench/bench.py [--sizes 1000,10000,50000] [--burst 200] [--quick]

Results: a table on the terminal, ``deploy/bench/results/latest.json`` and ``latest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import math
import os
import platform
import random
import signal
import string
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import MongoClient
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
RUN_DIR = ROOT / ".local" / "run"
LOGS = ROOT / ".local" / "logs"

# The tests' harness starts the services as processes in an isolated namespace; it lives in tests/.
sys.path.insert(0, str(ROOT / "tests"))
harness: Any = importlib.import_module("harness")
seizure_payloads: Any = importlib.import_module("payloads.interdiction")  # the tests' payloads, one module per domain
gun_payloads: Any = importlib.import_module("payloads.firearms")
Settings: Any = importlib.import_module("alliance.runtime.settings").Settings
BOOTSTRAP: str = harness.BOOTSTRAP
MONGO_URI: str = harness.MONGO_URI
# The bench's own clients (raw floor, observers, lag probes) log in as the stack's admin; agencies
# log in as themselves and write their own intake topics, as in production.
LOGIN: dict[str, Any] = harness.kafka_login("admin")

SERVICES = ("interdiction", "firearms", "chemicals", "money_laundering", "extradition")
# The harness shortens the outbox sweep for tests; the bench runs the services with their defaults.
SERVICE_ENV = {
    f"ALLIANCE_{name.upper()}": str(Settings.model_fields[name].default)
    for name in ("outbox_sweep_seconds", "deadline_scan_seconds")
}
# Who consumes what (service, purpose, topic): drained means every group committed every topic's end.
SUBSCRIPTIONS = (
    ("interdiction", "intake", "alliance.interdiction.intake"),
    ("firearms", "seizures", "alliance.interdiction.events"),
    ("firearms", "intake", "alliance.firearms.intake"),
    ("chemicals", "seizures", "alliance.interdiction.events"),
    ("chemicals", "intake", "alliance.chemicals.intake"),
    ("money_laundering", "seizures", "alliance.interdiction.events"),
    ("money_laundering", "diversion", "alliance.chemicals.events"),
    ("money_laundering", "traces", "alliance.firearms.events"),
    ("money_laundering", "intake", "alliance.money_laundering.intake"),
    ("extradition", "intake", "alliance.extradition.intake"),
    ("extradition", "seizures", "alliance.interdiction.events"),
    ("extradition", "traces", "alliance.firearms.events"),
)

SEIZURE_REPORTED = "org.alliance.interdiction.seizure.reported.v1"
TRACE_SUBMITTED = "org.alliance.firearms.trace_request.submitted.v1"
DEADLINE_BREACHED = "org.alliance.deadline.breached.v1"
X = "org.alliance.extradition."
FUGITIVE_REGISTERED = X + "fugitive.registered.v1"
FUGITIVE_RECORDED = X + "fugitive.recorded.v1"
PROVISIONAL_ARREST = X + "provisional_arrest.requested.v1"
STEP_REPORTED = X + "request_step.reported.v1"
STATUS_CHANGED = X + "request.status_changed.v1"

GUNS_PER_LOAD_SEIZURE = 20
RAW_HOPS = TRACE_HOPS = 3
FLOW4_HOPS = 5
IDLE_SECONDS = 10.0


# -- payloads ------------------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def seizure(
    reference: str,
    firearms: Sequence[dict[str, Any]] = (),
    detained: Sequence[dict[str, Any]] = (),
    seized_at: datetime | None = None,
) -> dict[str, Any]:
    """A tractor-trailer's load (the tests' payloads), seized an hour ago unless said otherwise: recent,
    so no deadline falls due."""
    when = _iso(seized_at or datetime.now(UTC) - timedelta(hours=1))
    contents: dict[str, Any] = {**seizure_payloads.TRACTOR_TRAILER, "seized_at": when}
    if firearms:
        contents["firearms"] = list(firearms)
    if detained:
        contents |= {"drugs": [seizure_payloads.METH], "detained_persons": list(detained)}
    result: dict[str, Any] = seizure_payloads.seizure_reported(reference, **contents)
    return result


def gun(serial: str, n: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = gun_payloads.gun(serial, n)
    return result


def fugitive_person(token: str) -> dict[str, Any]:
    """A person with two surnames of their own, so each detained person matches exactly one fugitive."""
    born = datetime(1960, 1, 1) + timedelta(days=int(token[:6], 36) % 14000)
    return {
        "given_names": "José Luis",
        "surnames": [f"Hernandez{token[:7]}", f"Garza{token[7:]}"],
        "date_of_birth": born.date().isoformat(),
        "nationality": "MX",
    }


def token() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=14))


# -- Kafka helpers -------------------------------------------------------------------------------------


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode(errors="replace")
    return None


async def partitions_of(topics: Sequence[str]) -> list[Any]:
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if not t.get("error_code")
        for p in t["partitions"]
    ]


class Observer:
    """Reads topics from their current end; hands each record and its arrival time to ``on_record``."""

    def __init__(self, topics: Sequence[str], on_record: Callable[[Any, float], None]) -> None:
        self.topics = list(topics)
        self.on_record = on_record
        self.consumer: Any = None
        self.partitions: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.partitions = await partitions_of(self.topics)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, enable_auto_commit=False, **LOGIN)
        await self.consumer.start()
        self.consumer.assign(self.partitions)
        for tp, end in (await self.consumer.end_offsets(self.partitions)).items():
            self.consumer.seek(tp, end)
        for tp in self.partitions:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for messages in batch.values():
                for message in messages:
                    self.on_record(message, now)

    async def caught_up(self, timeout: float = 120) -> None:
        """Wait until everything on the topics up to now has been handed over."""
        ends = await self.consumer.end_offsets(self.partitions)
        async with asyncio.timeout(timeout):
            for tp, end in ends.items():
                while await self.consumer.position(tp) < end:
                    await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.consumer is not None:
            await self.consumer.stop()


class Agency:
    """Publishes like an agency integration: raw aiokafka records with hand-written CloudEvents headers,
    as its own principal, to its own intake topics."""

    def __init__(self, agency: str, run: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=0, **harness.kafka_login(agency))
        self.agency = agency
        self.source = f"urn:agency:{agency}:bench-{run}"

    async def send(
        self, topic: str, data: dict[str, Any], event_type: str, key: str, at: datetime | None = None
    ) -> Any:
        """Hand the record to the producer; returns the future of its acknowledgement."""
        headers = {
            "ce_id": str(uuid.uuid4()),
            "ce_source": self.source,
            "ce_type": event_type,
            "ce_specversion": "1.0",
            "ce_time": _iso(at or datetime.now(UTC)),
            "content-type": "application/json",
            "ce_tlp": "AMBER",
            "ce_releasableto": "US,MX",
            "ce_originator": self.agency,
            "ce_orcon": "false",
        }
        return await self.producer.send(
            f"{topic}.{self.agency}" if topic.endswith(".intake") else topic,
            json.dumps(data).encode(),
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )


# -- measuring a burst ---------------------------------------------------------------------------------


class Stalled(RuntimeError):
    """Nothing progressed for too long."""


@dataclass
class Tracker:
    """When each event of a burst had its last effect observed, by the burst's own keys."""

    done: dict[str, float] = field(default_factory=dict)

    def complete(self, key: str, at: float) -> None:
        self.done.setdefault(key, at)


@dataclass
class Measured:
    n: int
    seconds: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float


def percentile(ordered: Sequence[float], q: float) -> float:
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def progress_bar(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


async def wait_for(
    what: str,
    count: Callable[[], int],
    total: int,
    console: Console,
    *,
    stall: float,
    deadline: float,
) -> None:
    """Show progress until ``count()`` reaches ``total``; fail when stalled or past the deadline."""
    started = last_change = time.monotonic()
    seen = -1
    with progress_bar(console) as bar:
        task = bar.add_task(what, total=total)
        while (now := count()) < total:
            if now != seen:
                seen, last_change = now, time.monotonic()
                bar.update(task, completed=now)
            if time.monotonic() - last_change > stall:
                raise Stalled(f"{what}: no progress for {stall:.0f}s at {now}/{total}")
            if time.monotonic() - started > deadline:
                raise Stalled(f"{what}: not done within {deadline:.0f}s ({now}/{total})")
            await asyncio.sleep(0.1)
        bar.update(task, completed=total)


async def burst(
    what: str,
    keys: Sequence[str],
    send: Callable[[str], Awaitable[Any]],
    tracker: Tracker,
    console: Console,
    stall: float,
) -> Measured:
    """Send one event per key as fast as the producer goes; wait until each one's effect is seen."""
    sent: dict[str, float] = {}
    acks = []
    first = time.perf_counter()
    for key in keys:
        sent[key] = time.perf_counter()
        acks.append(await send(key))
    await asyncio.gather(*acks)
    await wait_for(
        what,
        lambda: sum(1 for k in keys if k in tracker.done),
        len(keys),
        console,
        stall=stall,
        deadline=300 + 10 * len(keys),
    )
    last = max(tracker.done[k] for k in keys)
    seconds = last - first
    latencies = sorted((tracker.done[k] - sent[k]) * 1000 for k in keys)
    return Measured(
        n=len(keys),
        seconds=seconds,
        events_per_s=len(keys) / seconds,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        mean_ms=sum(latencies) / len(latencies),
        max_ms=latencies[-1],
    )


# -- the raw floor -------------------------------------------------------------------------------------


async def relay(source: str, destination: str, group: str, mode: str) -> None:
    """One hop: consume from ``source``, produce to ``destination``, commit only after the ack."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=BOOTSTRAP,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **LOGIN,
    )
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, enable_idempotence=True, **LOGIN)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=1 if mode == "single" else None)
            if not batch:
                continue
            if mode == "single":
                [message] = [m for messages in batch.values() for m in messages]
                await producer.send_and_wait(destination, message.value, key=message.key, headers=list(message.headers))
            else:
                acks = [
                    await producer.send(destination, m.value, key=m.key, headers=list(m.headers))
                    for messages in batch.values()
                    for m in messages
                ]
                await asyncio.gather(*acks)
            await consumer.commit({tp: messages[-1].offset + 1 for tp, messages in batch.items()})
    finally:
        await consumer.stop()
        await producer.stop()


@contextlib.contextmanager
def relay_processes(ns: str, topics: Sequence[str], mode: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    LOGS.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        for hop in (1, 2):
            log = open(LOGS / f"{ns}-relay-{mode}-{hop}.log", "ab")  # noqa: SIM115 - the child keeps it
            group = f"{ns}.raw.{mode}.relay{hop}"
            args = [str(Path(__file__).resolve()), "--relay", topics[hop - 1], topics[hop], group, mode]
            processes.append(subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT))
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def raw_floor(ns: str, mode: str, n: int, console: Console, stall: float) -> Measured:
    topics = [f"{ns}.raw.{mode}.{name}" for name in "abc"]
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 3, 1) for t in topics])
        async with asyncio.timeout(30):  # every partition has its leader before anyone asks for offsets
            while True:
                described = await admin.describe_topics(topics)
                if all(not t["error_code"] and all(p["leader"] >= 0 for p in t["partitions"]) for t in described):
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(1)  # the leader is announced before its log is ready to answer offset requests
    finally:
        await admin.close()
    payload = json.dumps(seizure("RAW-0", [gun("RAW-SERIAL-0")])).encode()  # the size of a one-gun seizure
    tracker = Tracker()
    collector = Observer([topics[2]], lambda record, at: tracker.complete(record.key.decode(), at))
    # A producer of its own, stopped before the topics are deleted (a producer that still knows a
    # topic would create it again through the broker's auto-creation).
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=0, **LOGIN)

    async def send(key: str) -> Any:
        return await producer.send(topics[0], payload, key=key.encode())

    try:
        await producer.start()
        with relay_processes(ns, topics, mode) as processes:
            await collector.start()
            try:
                await burst(f"raw {mode}: warm-up", ["w0", "w1", "w2"], send, tracker, console, stall)
                measured = await burst(f"raw {mode}", [f"e{i}" for i in range(n)], send, tracker, console, stall)
            finally:
                await collector.stop()
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a relay exited early; see {LOGS}/{ns}-relay-{mode}-*.log")
    finally:
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
        await admin.start()
        try:
            with contextlib.suppress(Exception):
                await admin.delete_topics(topics)
        finally:
            await admin.close()
    return measured


# -- CPU -----------------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in ticks) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _tree_ticks(roots: dict[str, int]) -> dict[str, dict[int, int]]:
    """Per component, the ticks of its root process and all of its descendants."""
    stats = {int(p.name): s for p in Path("/proc").iterdir() if p.name.isdigit() if (s := _stat(int(p.name)))}
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    result: dict[str, dict[int, int]] = {}
    for name, root in roots.items():
        found: dict[int, int] = {}
        todo = [root] if root in stats else []
        while todo:
            pid = todo.pop()
            found[pid] = stats[pid][1]
            todo.extend(children.get(pid, []))
        result[name] = found
    return result


async def idle_cpu(roots: dict[str, int], seconds: float = IDLE_SECONDS) -> dict[str, float]:
    """% of one core used by each component (and ``total``) over ``seconds`` of doing nothing."""
    tick = os.sysconf("SC_CLK_TCK")
    before, start = _tree_ticks(roots), time.monotonic()
    await asyncio.sleep(seconds)
    after, elapsed = _tree_ticks(roots), time.monotonic() - start
    usage = {
        name: sum(ticks - before[name].get(pid, ticks) for pid, ticks in after[name].items()) / tick / elapsed * 100
        for name in roots
    }
    return {**usage, "total": sum(usage.values())}


def stack_pids() -> dict[str, int]:
    """The stack's components as ``make up`` started them (Kafka, FerretDB, and PostgreSQL when it is
    FerretDB's backend); services that ``make demo`` started are not the bench's."""
    pids = {}
    for path in sorted(RUN_DIR.glob("*.pid")):
        if path.stem not in SERVICES:
            with contextlib.suppress(OSError, ValueError):
                pids[path.stem] = int(path.read_text().strip())
    return pids


# -- Alliance ------------------------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    hops: int
    stored_records: int | None
    n: int
    seconds: float
    events_per_s: float
    ratio_to_raw_floor: float | None
    p50_ms: float
    p99_ms: float
    store_ops_per_event: float | None
    idle_cpu_pct: float | None
    extra: dict[str, Any] = field(default_factory=dict)


class Bench:
    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.ns = f"bench-{uuid.uuid4().hex[:8]}"
        self.run = uuid.uuid4().hex[:6]
        self.rows: list[Row] = []
        self.idle: dict[str, dict[str, float]] = {}
        self.idle_ops: dict[str, float] = {}
        self.stored_check: dict[str, dict[str, int]] = {}
        self.system: Any = None
        self.agencies: dict[str, Agency] = {}
        self.seizures_stored = 0
        self.traces_stored = 0
        self.loaded_serials = 0
        self.raw_single: float | None = None

    @property
    def stored(self) -> int:
        return self.seizures_stored + self.traces_stored

    def topic(self, name: str) -> str:
        return f"{self.ns}.{name}"

    def say(self, text: str) -> None:
        self.console.print(text)

    @property
    def customs(self) -> Agency:
        return self.agencies["us-cbp"]

    @property
    def fgr(self) -> Agency:
        return self.agencies["mx-fgr"]

    @property
    def marshals(self) -> Agency:
        """The requesting country's central authority reports the steps of its extradition requests."""
        return self.agencies["mx-fgr"]

    # -- orchestration ---------------------------------------------------------------------------------

    async def main(self) -> None:
        otlp = harness.OtlpReceiver()
        otlp._collect = lambda request: None  # spans are exported as in production, then dropped
        try:
            await self.raw()
            self.start_services(otlp)
            self.agencies = {a: Agency(a, self.run) for a in ("us-cbp", "mx-fgr")}
            for agency in self.agencies.values():
                await agency.producer.start()
            sizes = self.args.sizes
            for size in sizes:
                await self.at_size(size)
            if self.args.storm:
                await self.storm(self.args.storm)
            await self.scale_out(sizes[-1])
        finally:
            if self.system is not None:
                self.say("[dim]stopping the services[/dim]")
                await asyncio.to_thread(self.system.stop_all)
            for agency in self.agencies.values():
                await agency.producer.stop()
            otlp.close()
            if not self.args.keep:
                await self.drop_namespace()

    async def raw(self) -> None:
        burst_size, stall = self.args.burst, self.args.stall_timeout
        self.say(f"[bold]raw floor[/bold] (namespace {self.ns}): two relays, commit after ack")
        for mode, label in (("single", "one at a time"), ("batch", "batched")):
            m = await raw_floor(self.ns, mode, burst_size, self.console, stall)
            if mode == "single":
                self.raw_single = m.events_per_s
            self.add_row(f"raw floor, {label}", RAW_HOPS, None, m, None, None, {"mean_ms": m.mean_ms})

    def start_services(self, otlp: Any) -> None:
        self.system = harness.System(namespace=self.ns, otlp=otlp)
        for name in SERVICES:
            self.say(f"[dim]starting {name}[/dim]")
            self.system.start(name, dict(SERVICE_ENV))

    async def at_size(self, size: int) -> None:
        self.say(f"\n[bold]stored records ≥ {size:,}[/bold]")
        await self.load(size)
        await self.check_stored(size)
        cpu = await self.idle_sample(str(size))
        ops = self.idle_ops.get(str(size), math.nan)
        self.say(f"idle CPU: {cpu['total']:.1f}% of one core; the services send {ops:.1f} store ops/s meanwhile")
        await self.seizure_to_trace(f"seizure → trace request ({TRACE_HOPS} hops)", cpu["total"])
        await self.flow4(cpu["total"])

    async def storm(self, traces: int) -> None:
        """A late batch: seizures reported two days after the fact, so each of their ``traces`` trace
        requests is past its reply deadline when stored and the clock raises its escalations at once.
        Timed from the first report to the last trace request's breach escalation."""
        count = math.ceil(traces / GUNS_PER_LOAD_SEIZURE)
        traces = count * GUNS_PER_LOAD_SEIZURE
        late = datetime.now(UTC) - timedelta(days=2)
        prefix = f"ST-{self.run}-"
        breached: dict[str, float] = {}
        started: dict[str, float] = {}

        def on_record(record: Any, at: float) -> None:
            kind = header(record, "ce_type")
            if kind not in (TRACE_SUBMITTED, DEADLINE_BREACHED):
                return
            data = json.loads(record.value)
            if kind == TRACE_SUBMITTED and str(data.get("serial_number", "")).startswith(prefix):
                started.setdefault(data["trace_request_id"], at)
            elif kind == DEADLINE_BREACHED and data.get("record_id") in started:
                breached.setdefault(data["record_id"], at)

        self.say(f"\n[bold]escalation storm[/bold]: {traces:,} trace requests reported two days late")
        observer = Observer([self.topic("alliance.firearms.events")], on_record)
        await observer.start()
        intake = self.topic("alliance.interdiction.intake")
        stored, pids, cpu = self.stored, stack_pids(), math.nan
        try:
            begin = time.monotonic()
            acks = []
            for s in range(count):
                reference = f"ST-{self.run}-{s}"
                firearms = [gun(f"{prefix}{s}-{g}", g) for g in range(GUNS_PER_LOAD_SEIZURE)]
                body = seizure(reference, firearms, seized_at=late)
                acks.append(await self.customs.send(intake, body, SEIZURE_REPORTED, reference, at=late))
            await asyncio.gather(*acks)
            await wait_for(
                "trace requests stored and breached",
                lambda: len(breached),
                traces,
                self.console,
                stall=self.args.stall_timeout,
                deadline=600 + 5 * traces,
            )
            seconds = time.monotonic() - begin
        finally:
            await observer.stop()
        self.seizures_stored += count
        self.traces_stored += traces
        latencies = sorted(breached[t] - started[t] for t in breached)
        m = Measured(
            n=traces,
            seconds=seconds,
            events_per_s=traces / seconds,
            p50_ms=percentile(latencies, 0.5) * 1000,
            p99_ms=percentile(latencies, 0.99) * 1000,
            mean_ms=sum(latencies) / len(latencies) * 1000,
            max_ms=latencies[-1] * 1000,
        )
        seizure_rate = next(
            (r.events_per_s for r in reversed(self.rows) if r.scenario.startswith("seizure → trace request (")), None
        )
        extra: dict[str, Any] = {
            "latency": "trace request stored → its breach escalation published",
            "escalations_per_s": m.events_per_s,
            "ratio_to_seizure_rate": m.events_per_s / seizure_rate if seizure_rate else None,
        }
        restarted = sorted(name for name, pid in stack_pids().items() if pids.get(name) != pid)
        if restarted:
            extra["stack_restarted"] = restarted
        await self.drain()
        self.add_row(f"escalation storm, {traces:,} late trace requests", TRACE_HOPS, stored, m, None, cpu, extra)
        if seizure_rate:
            self.say(f"  drains at {m.events_per_s / seizure_rate:.2f} times the seizure rate (target: at least 0.5)")

    async def scale_out(self, size: int) -> None:
        self.say("\n[bold]scale-out[/bold]: a second firearms instance")
        await asyncio.to_thread(self.system.start, "firearms", dict(SERVICE_ENV), instance="firearms-2")
        await self.wait_group_members(self.system.group("firearms", "seizures"), 2)
        cpu = await self.idle_sample(f"{size} (2 firearms)")
        await self.seizure_to_trace(f"seizure → trace request, 2 firearms ({TRACE_HOPS} hops)", cpu["total"], warm=6)

    async def idle_sample(self, label: str) -> dict[str, float]:
        """CPU of the drained stack over 10 s, and the store operations the services send meanwhile."""
        await asyncio.sleep(1)  # let the last commits and acknowledgements settle
        before, start = await self.store_ops(), time.monotonic()
        cpu = await idle_cpu(self.roots())
        after = await self.store_ops()
        self.idle[label] = cpu
        if before is not None and after is not None:
            self.idle_ops[label] = (after - before) / (time.monotonic() - start)
        return cpu

    def roots(self) -> dict[str, int]:
        roots = stack_pids()
        for key, service in self.system.services.items():
            if service.process is not None and service.process.poll() is None:
                roots[key] = service.process.pid
        return roots

    def add_row(
        self,
        scenario: str,
        hops: int,
        stored: int | None,
        m: Measured,
        ops: float | None,
        cpu: float | None,
        extra: dict[str, Any],
    ) -> None:
        ratio = m.events_per_s / self.raw_single if self.raw_single else None
        row = Row(scenario, hops, stored, m.n, m.seconds, m.events_per_s, ratio, m.p50_ms, m.p99_ms, ops, cpu, extra)
        self.rows.append(row)
        ops_text = f", {ops:.1f} store ops/event" if ops is not None else ""
        self.say(
            f"  {scenario}: [bold]{m.events_per_s:.1f} events/s[/bold] "
            f"(p50 {m.p50_ms:.0f} ms, p99 {m.p99_ms:.0f} ms{ops_text})"
        )

    # -- stored data -----------------------------------------------------------------------------------

    async def load(self, size: int) -> None:
        """Bring the stored records up to ``size``: seizures of many guns each, through the real intake."""
        need = size - self.stored
        if need <= 0:
            self.say(f"already {self.stored:,} stored records")
            return
        count = math.ceil(need / (GUNS_PER_LOAD_SEIZURE + 1))
        first = self.loaded_serials
        prefix = f"LD-{self.run}-"
        seen: set[str] = set()

        def on_record(record: Any, at: float) -> None:
            if header(record, "ce_type") == TRACE_SUBMITTED:
                serial = json.loads(record.value)["serial_number"]
                if serial.startswith(prefix):
                    seen.add(serial)

        observer = Observer([self.topic("alliance.firearms.events")], on_record)
        await observer.start()
        intake = self.topic("alliance.interdiction.intake")
        try:
            guns = count * GUNS_PER_LOAD_SEIZURE

            async def send_all() -> None:
                acks = []
                for s in range(first, first + count):
                    firearms = [gun(f"{prefix}{s}-{g}", g) for g in range(GUNS_PER_LOAD_SEIZURE)]
                    reference = f"LD-{self.run}-{s}"
                    acks.append(
                        await self.customs.send(intake, seizure(reference, firearms), SEIZURE_REPORTED, reference)
                    )
                await asyncio.gather(*acks)

            sender = asyncio.create_task(send_all())
            await wait_for(
                f"loading {count:,} seizures of {GUNS_PER_LOAD_SEIZURE} guns",
                lambda: len(seen),
                guns,
                self.console,
                stall=self.args.stall_timeout,
                deadline=600 + 5 * guns,
            )
            await sender
        finally:
            await observer.stop()
        self.loaded_serials += count
        self.seizures_stored += count
        self.traces_stored += count * GUNS_PER_LOAD_SEIZURE
        await self.drain()

    async def check_stored(self, size: int) -> None:
        """Count what the store holds, beside the bench's own tally (informative; not a table figure)."""

        def count() -> dict[str, int]:
            client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000)
            try:
                return {
                    "trace_requests": client[self.system.database("firearms")].trace_requests.count_documents({}),
                    "seizures": client[self.system.database("interdiction")].seizures.count_documents({}),
                }
            finally:
                client.close()

        try:
            counted = await asyncio.wait_for(asyncio.to_thread(count), timeout=120)
        except Exception as exc:  # informative only
            self.say(f"[yellow]could not count the stored records: {exc}[/yellow]")
            return
        self.stored_check[str(size)] = {**counted, "tally": self.stored}
        total = counted["trace_requests"] + counted["seizures"]
        self.say(f"{total:,} stored records (trace requests {counted['trace_requests']:,} + seizures)")
        if total != self.stored:
            self.say(f"[yellow]the bench counted {self.stored:,}[/yellow]")

    async def drain(self) -> None:
        """Wait until every consumer group has committed the end of every topic it reads (as
        ``harness.wait_drained``, for all groups at once), failing only when nothing moves."""
        # A domain's intake is one topic per agency: the group must have committed all of them.
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
        await admin.start()
        try:
            existing = await admin.list_topics()
        finally:
            await admin.close()
        groups = [
            (self.system.group(s, p), name)
            for s, p, t in SUBSCRIPTIONS
            for name in (
                [self.topic(t)]
                if not t.endswith(".intake")
                else [e for e in existing if e.startswith(self.topic(t) + ".")]
            )
        ]
        topics = sorted({t for _, t in groups})
        by_topic: dict[str, list[Any]] = {}
        for tp in await partitions_of(topics):
            by_topic.setdefault(tp.topic, []).append(tp)
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
        probe = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, **LOGIN)
        await admin.start()
        await probe.start()
        try:
            best, last_change = math.inf, time.monotonic()
            with self.console.status("draining: waiting for every consumer group to commit") as status:
                while True:
                    ends = await probe.end_offsets([tp for tps in by_topic.values() for tp in tps])
                    behind: dict[str, int] = {}
                    for group, topic in groups:
                        committed = await admin.list_consumer_group_offsets(group)
                        lag = 0
                        for tp in by_topic.get(topic, []):
                            end = ends[tp]
                            offset = committed[tp].offset if tp in committed else 0
                            lag += max(0, end - offset) if end > 0 else 0
                        if lag:
                            behind[group.removeprefix(f"{self.ns}.alliance.")] = lag
                    if not behind:
                        return
                    status.update(f"draining: {sum(behind.values())} records behind ({behind})")
                    if sum(behind.values()) < best:
                        best, last_change = sum(behind.values()), time.monotonic()
                    elif time.monotonic() - last_change > self.args.stall_timeout:
                        raise Stalled(f"draining: no progress for {self.args.stall_timeout:.0f}s; behind: {behind}")
                    await asyncio.sleep(0.5)  # committed offsets are state to observe, not an event
        finally:
            await probe.stop()
            await admin.close()

    async def store_ops(self) -> int | None:
        total = 0
        for service in list(self.system.services.values()):
            report = await asyncio.to_thread(service.health)
            if not isinstance(report.get("store_operations"), int):
                return None
            total += report["store_operations"]
        return total

    def start_profiles(self, scenario: str, stored: int) -> list[subprocess.Popen[bytes]]:
        """With ``--profile DIR``: py-spy samples each service during the burst (flame graph input, one
        file a service: ``DIR/<scenario>-<stored>-<service>.txt``, collapsed stacks)."""
        if not self.args.profile:
            return []
        folder = Path(self.args.profile)
        folder.mkdir(parents=True, exist_ok=True)
        slug = "".join(c if c.isalnum() else "-" for c in scenario.split("(")[0].strip()).strip("-")
        py_spy = Path(sys.executable).with_name("py-spy")
        return [
            subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--pid",
                    str(service.process.pid),
                    "--format",
                    "raw",
                    "--rate",
                    "50",
                    "--nonblocking",
                    "--subprocesses",
                    "--output",
                    str(folder / f"{slug}-{stored}-{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, service in self.system.services.items()
        ]

    @staticmethod
    def stop_profiles(profilers: list[subprocess.Popen[bytes]]) -> None:
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT
        for profiler in profilers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)

    async def store_targets(self) -> Counter[str]:
        """Store commands so far per "<service> <command> <collection>": where a scenario's ops go."""
        targets: Counter[str] = Counter()
        for name, service in list(self.system.services.items()):
            report = await asyncio.to_thread(service.health)
            for target, count in (report.get("store_operations_by_target") or {}).items():
                targets[f"{name} {target}"] += count
        return targets

    async def wait_group_members(self, group: str, members: int, timeout: float = 120) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
        await admin.start()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    [response] = await admin.describe_consumer_groups([group])
                    [(_, _, state, _, _, listed, *_)] = response.groups
                    if state == "Stable" and len(listed) >= members:
                        return
                    await asyncio.sleep(0.5)
        except TimeoutError:
            self.say(f"[yellow]{group} did not show {members} stable members within {timeout:.0f}s[/yellow]")
        finally:
            await admin.close()

    # -- scenarios -------------------------------------------------------------------------------------

    async def measured(
        self, scenario: str, hops: int, cpu: float, run: Callable[[], Awaitable[Measured]], extra: dict[str, Any]
    ) -> None:
        stored, pids = self.stored, stack_pids()
        before, targets_before = await self.store_ops(), await self.store_targets()
        profilers = self.start_profiles(scenario, stored)
        try:
            m = await run()
        finally:
            self.stop_profiles(profilers)
        await self.drain()
        after, targets_after = await self.store_ops(), await self.store_targets()
        ops = (after - before) / m.n if before is not None and after is not None else None
        per_event = {t: round(c / m.n, 2) for t, c in (targets_after - targets_before).most_common()}
        if per_event:
            extra["store_ops_per_event_by_target"] = per_event
            top = list(per_event.items())[:8]
            self.say("  store ops/event, most sent: " + ", ".join(f"{t} {c}" for t, c in top))
        restarted = sorted(name for name, pid in stack_pids().items() if pids.get(name) != pid)
        if restarted:  # someone restarted the shared stack meanwhile: the figures include the outage
            extra["stack_restarted"] = restarted
        self.add_row(scenario, hops, stored, m, ops, cpu, extra)
        if restarted:
            self.say(f"  [yellow]{', '.join(restarted)} restarted during this measurement[/yellow]")

    async def seizure_to_trace(self, scenario: str, cpu: float, warm: int = 1) -> None:
        label = uuid.uuid4().hex[:4]
        serials: dict[str, str] = {}  # serial → burst key
        ce_ids: dict[str, list[str]] = {}
        tracker = Tracker()

        def on_record(record: Any, at: float) -> None:
            if header(record, "ce_type") != TRACE_SUBMITTED:
                return
            key = serials.get(json.loads(record.value)["serial_number"])
            if key is not None:
                tracker.complete(key, at)
                ce_ids.setdefault(key, []).append(header(record, "ce_id") or "")

        intake = self.topic("alliance.interdiction.intake")

        async def send(key: str) -> Any:
            serial = f"SN-{self.run}-{label}-{key}"
            serials[serial] = key  # before the record goes out, so its trace request is recognised
            reference = f"BT-{self.run}-{label}-{key}"
            return await self.customs.send(intake, seizure(reference, [gun(serial)]), SEIZURE_REPORTED, reference)

        observer = Observer([self.topic("alliance.firearms.events")], on_record)
        await observer.start()
        n = self.args.burst
        try:
            await burst("warm-up", [f"w{i}" for i in range(warm)], send, tracker, self.console, self.args.stall_timeout)
            await self.drain()
            keys = [f"e{i}" for i in range(n)]
            extra: dict[str, Any] = {}

            async def run() -> Measured:
                return await burst(scenario, keys, send, tracker, self.console, self.args.stall_timeout)

            await self.measured(scenario, TRACE_HOPS, cpu, run, extra)
            await observer.caught_up()
            records = [i for k in keys for i in ce_ids.get(k, [])]
            extra.update(
                {
                    "trace_request_records": len(records),
                    "distinct_event_ids": len(set(records)),
                    "duplicate_records": len(records) - len(set(records)),
                    "expected": n,
                }
            )
        finally:
            await observer.stop()
        self.seizures_stored += warm + n
        self.traces_stored += warm + n
        if extra["distinct_event_ids"] != n or extra["duplicate_records"]:
            self.say(
                f"  [yellow]{extra['distinct_event_ids']} distinct trace_request.submitted ids for {n} seizures, "
                f"{extra['duplicate_records']} duplicate records[/yellow]"
            )
        else:
            self.say(f"  {n} distinct trace_request.submitted ids for {n} seizures, no duplicate record")

    async def flow4(self, cpu: float) -> None:
        scenario = f"flow 4 → provisional arrest → arrested ({FLOW4_HOPS} hops)"
        n = self.args.burst
        keys = ["w0", *(f"e{i}" for i in range(n))]
        people = {key: fugitive_person(token()) for key in keys}
        label = uuid.uuid4().hex[:4]
        fugitive_key: dict[str, str] = {}  # fugitive id → key
        request_key: dict[str, str] = {}  # extradition request id → key
        recorded, located, arrested = Tracker(), Tracker(), Tracker()
        pending: set[asyncio.Task[Any]] = set()
        intake = self.topic("alliance.extradition.intake")

        async def report_arrest(request_id: str) -> None:
            step = {
                "extradition_request_id": request_id,
                "step": "arrested",
                "on": datetime.now(UTC).date().isoformat(),
            }
            await (await self.marshals.send(intake, step, STEP_REPORTED, request_id))

        def on_record(record: Any, at: float) -> None:
            kind = header(record, "ce_type")
            if kind not in {FUGITIVE_RECORDED, PROVISIONAL_ARREST, STATUS_CHANGED}:
                return
            data = json.loads(record.value)
            if kind == FUGITIVE_RECORDED:
                reference = data["fugitive_reference"]
                if reference.startswith(f"FGR-{self.run}-{label}-"):
                    key = reference.rsplit("-", 1)[1]
                    fugitive_key[data["fugitive_id"]] = key
                    recorded.complete(key, at)
            elif kind == PROVISIONAL_ARREST:
                key = fugitive_key.get(data["fugitive_id"])
                if key is not None and data["extradition_request_id"] not in request_key:
                    request_key[data["extradition_request_id"]] = key
                    located.complete(key, at)
                    task = asyncio.create_task(report_arrest(data["extradition_request_id"]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            elif data.get("status") == "arrested" and (key := request_key.get(data["extradition_request_id"])):
                arrested.complete(key, at)

        async def register(key: str) -> Any:
            reference = f"FGR-{self.run}-{label}-{key}"
            fugitive = {
                "fugitive_reference": reference,
                "wanted_by": "MX",
                "priority": True,
                "person": people[key],
                "charges": ["delincuencia organizada", "contra la salud"],
            }
            return await self.fgr.send(intake, fugitive, FUGITIVE_REGISTERED, reference)

        seizures = self.topic("alliance.interdiction.intake")

        async def send(key: str) -> Any:
            reference = f"F4-{self.run}-{label}-{key}"
            detained = {k: v for k, v in people[key].items() if k != "nationality"}
            return await self.customs.send(
                seizures, seizure(reference, detained=[detained]), SEIZURE_REPORTED, reference
            )

        observer = Observer([self.topic("alliance.extradition.events")], on_record)
        await observer.start()
        stall = self.args.stall_timeout
        try:
            await burst(f"registering {len(keys)} fugitives", keys, register, recorded, self.console, stall)
            await burst("warm-up", ["w0"], send, arrested, self.console, stall)
            await self.drain()
            extra: dict[str, Any] = {}

            async def run() -> Measured:
                started = time.perf_counter()
                m = await burst(scenario, keys[1:], send, arrested, self.console, stall)
                # flow 4 proper ends at the provisional arrest request (3 hops); record it beside
                first_sent = started
                to_arrest = sorted((located.done[k] - first_sent) for k in keys[1:])
                extra["provisional_arrest_requested_after_s"] = to_arrest[-1]
                extra["provisional_arrest_events_per_s"] = n / to_arrest[-1]
                return m

            await self.measured(scenario, FLOW4_HOPS, cpu, run, extra)
            if pending:
                await asyncio.gather(*pending)
        finally:
            await observer.stop()
        self.seizures_stored += len(keys)
        self.say(
            f"  (flow 4 alone, to provisional_arrest.requested, 3 hops: "
            f"{extra.get('provisional_arrest_events_per_s', math.nan):.1f} events/s)"
        )

    # -- cleanup ---------------------------------------------------------------------------------------

    async def drop_namespace(self) -> None:
        """Remove the bench's topics and databases (``--keep`` leaves them)."""
        with contextlib.suppress(Exception):
            admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, **LOGIN)
            await admin.start()
            try:
                mine = [t for t in await admin.list_topics() if t.startswith(f"{self.ns}.")]
                if mine:
                    await admin.delete_topics(mine)
            finally:
                await admin.close()

        def drop() -> None:
            client: MongoClient[dict[str, Any]] = MongoClient(MONGO_URI, serverSelectionTimeoutMS=5000)
            try:
                prefix = f"{self.ns.replace('-', '_')}_alliance_"
                for name in client.list_database_names():
                    if name.startswith(prefix):
                        client.drop_database(name)
            finally:
                client.close()

        with contextlib.suppress(Exception):
            await asyncio.to_thread(drop)


# -- report --------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        with contextlib.suppress(OSError):
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        return "?"

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    mem_kib = first("/proc/meminfo", "MemTotal").split()[0]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory_gib": round(int(mem_kib) / 1024**2, 1) if mem_kib.isdigit() else None,
        "cpu_model": first("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "work_tree_changed": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


COLUMNS = (
    "scenario",
    "stored records",
    "events/s",
    "ratio to raw floor",
    "p50 ms",
    "p99 ms",
    "store ops/event",
    "idle CPU %",
)


def cells(row: Row) -> list[str]:
    def num(value: float | None, digits: int = 1) -> str:
        return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"

    return [
        row.scenario,
        "—" if row.stored_records is None else f"{row.stored_records:,}",
        num(row.events_per_s),
        "—" if row.ratio_to_raw_floor is None else f"{row.ratio_to_raw_floor:.3f}",
        num(row.p50_ms, 0),
        num(row.p99_ms, 0),
        num(row.store_ops_per_event),
        num(row.idle_cpu_pct),
    ]


def table(rows: Sequence[Row], title: str) -> Table:
    out = Table(title=title)
    for i, column in enumerate(COLUMNS):
        out.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*cells(row))
    return out


def idle_rows(bench: Bench) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the idle-stack figures: CPU per component, and the store operations per second."""
    components = sorted({c for cpu in bench.idle.values() for c in cpu if c != "total"})
    rows = []
    for label, cpu in bench.idle.items():
        ops = bench.idle_ops.get(label)
        rows.append(
            [
                label,
                f"{cpu['total']:.1f}",
                *(f"{cpu[c]:.1f}" if c in cpu else "—" for c in components),
                "—" if ops is None else f"{ops:.1f}",
            ]
        )
    return ["stored records", "total CPU %", *components, "store ops/s"], rows


def notes(bench: Bench) -> list[str]:
    lines = [
        "events/s: N / (first send → last effect observed); latency: send → effect seen by the bench's consumer.",
        "ratio: events/s over the raw floor one record at a time; store ops/event: sum of the services' "
        "`store_operations` deltas over the burst and its drain, / N (background sweeps included).",
        f"hops = Kafka topics crossed. Flow 4 alone is {TRACE_HOPS} hops (fugitive.located and "
        "provisional_arrest.requested are published together), so it is extended by the arrest report "
        f"(request_step.reported → request.status_changed = arrested): {FLOW4_HOPS} hops.",
    ]
    for row in bench.rows:
        if row.extra.get("stack_restarted"):
            lines.append(
                f"{row.scenario} at {row.stored_records:,} stored records: "
                f"{', '.join(row.extra['stack_restarted'])} restarted during the measurement (figures include it)."
            )
        if "duplicate_records" in row.extra and "2 firearms" in row.scenario:
            e = row.extra
            verdict = "ok" if e["distinct_event_ids"] == e["expected"] else "MISMATCH"
            lines.append(
                f"scale-out check: {e['distinct_event_ids']} distinct trace_request.submitted ids for "
                f"{e['expected']} seizures ({verdict}); {e['duplicate_records']} duplicate records (same ce_id)."
            )
    return lines


def markdown(bench: Bench, facts: dict[str, Any], error: str | None) -> str:
    out = [f"# Alliance bench — {facts['date']}", ""]
    out.append(
        f"Machine: {facts['nproc']} CPUs ({facts['cpu_model']}), {facts['memory_gib']} GiB, "
        f"Linux {facts['kernel']}, Python {facts['python']}; commit {facts['commit']}"
        + (" (work tree changed)" if facts["work_tree_changed"] else "")
        + f". Burst {bench.args.burst}, sizes {', '.join(map(str, bench.args.sizes))}."
    )
    out += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" + "---:|" * (len(COLUMNS) - 1)]
    out += ["| " + " | ".join(cells(row)) + " |" for row in bench.rows]
    if bench.idle:
        head, rows = idle_rows(bench)
        out += ["", "Idle (drained) stack: CPU in % of one core per component, and store operations per second:", ""]
        out += ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    out += ["", *(f"- {line}" for line in notes(bench))]
    if error:
        out += ["", f"**Incomplete run**: {error}"]
    return "\n".join(out) + "\n"


def write_results(bench: Bench, facts: dict[str, Any], error: str | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {
        "machine": facts,
        "options": {
            "sizes": bench.args.sizes,
            "burst": bench.args.burst,
            "storm": bench.args.storm,
            "quick": bench.args.quick,
        },
        "namespace": bench.ns,
        "rows": [asdict(row) for row in bench.rows],
        "idle_cpu_pct": bench.idle,
        "idle_store_ops_per_s": bench.idle_ops,
        "stored_check": bench.stored_check,
        "notes": notes(bench),
        "error": error,
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (RESULTS / "latest.md").write_text(markdown(bench, facts, error))


# -- entry point ---------------------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,50000", help="stored records to measure at (cumulative)")
    parser.add_argument("--burst", type=int, default=200, help="events per measured burst")
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes 200,1000 and bursts of 50")
    parser.add_argument("--stall-timeout", type=float, default=300, help="give up after this long without progress")
    parser.add_argument(
        "--storm", type=int, default=5000, help="trace requests reported late at once after the last size (0: none)"
    )
    parser.add_argument("--profile", metavar="DIR", help="sample each service with py-spy during every burst")
    parser.add_argument("--keep", action="store_true", help="keep the bench's topics and databases")
    parser.add_argument("--relay", nargs=4, metavar=("SRC", "DST", "GROUP", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.burst, args.storm = "200,1000", 50, min(args.storm, 200)
    args.sizes = sorted(int(s) for s in str(args.sizes).split(",") if s.strip())
    if not args.sizes or args.burst < 1:
        parser.error("--sizes needs at least one size and --burst at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.relay:
        source, destination, group, mode = args.relay
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(relay(source, destination, group, mode))
        return 0
    console = Console() if sys.stdout.isatty() else Console(width=160)  # the table's width when piped
    facts = machine()
    bench = Bench(args, console)
    error: str | None = None
    try:
        asyncio.run(bench.main())
    except (Exception, KeyboardInterrupt) as exc:
        error = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]bench stopped: {error}[/red]")
    console.print()
    console.print(table(bench.rows, f"Alliance bench — {facts['nproc']} CPUs, burst {args.burst}"))
    if bench.idle:
        head, rows = idle_rows(bench)
        idle = Table(title="Idle (drained) stack: CPU in % of one core, and store operations per second")
        for i, column in enumerate(head):
            idle.add_column(column, justify="left" if i == 0 else "right")
        for row in rows:
            idle.add_row(*row)
        console.print(idle)
    for line in notes(bench):
        console.print(f"[dim]{line}[/dim]")
    write_results(bench, facts, error)
    console.print(f"written: {RESULTS / 'latest.json'}, {RESULTS / 'latest.md'}")
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
