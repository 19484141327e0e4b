"""Local Alliance stack without Docker: Apache Kafka (KRaft), PostgreSQL, FerretDB (MongoDB wire), and
the observability backends: Jaeger v2 (traces), VictoriaMetrics (metrics) and a consumer-lag exporter.

    python deploy/local/stack.py up [--services]     install on first use, start what is not running
    python deploy/local/stack.py down [--services]   stop (services only with --services)
    python deploy/local/stack.py status              what runs, and whether it answers
    python deploy/local/stack.py addresses           where to look: traces, metrics, services
    ... --only NAME                                  one component (kafka, ferretdb, jaeger, interdiction, …)

Everything it downloads, builds and writes lives under ``$ALLIANCE_HOME`` (default ``.local/`` in the
repository, git-ignored). ``up`` is idempotent: a component that answers is left alone, a dead one is
restarted, and it returns only when every component answers a real request (Kafka metadata, a
logged-in store request, service ``/health``). Ports come from ``ALLIANCE_KAFKA_PORT`` (9092),
``ALLIANCE_KAFKA_CONTROLLER_PORT`` (9093), ``ALLIANCE_KAFKA_TLS_PORT`` (9094, SASL_SSL with the
stack's own CA in ``.local/tls``), ``ALLIANCE_POSTGRES_PORT`` (5433) and ``ALLIANCE_MONGO_PORT``
(27017). Every principal's secret is a file of its own under ``.local/secrets`` (``kafka/<principal>``,
``store/<role>``); services are given the paths of theirs, never the values.
``ALLIANCE_STORE_BACKEND=sqlite`` runs FerretDB on SQLite instead of PostgreSQL (for comparisons,
without store logins; deploy/local/README.md says why PostgreSQL is the default).

Jaeger is built from the pinned tools module in ``deploy/local/jaeger`` (go.mod, go.sum) and
VictoriaMetrics with ``go install …@VICTORIAMETRICS_VERSION``; each binary is named after its version,
so it is rebuilt only when the pin changes. Their ports: ``ALLIANCE_JAEGER_OTLP_HTTP_PORT`` (4318),
``ALLIANCE_JAEGER_OTLP_GRPC_PORT`` (4317), ``ALLIANCE_JAEGER_QUERY_PORT`` (16686),
``ALLIANCE_JAEGER_QUERY_GRPC_PORT`` (16685), ``ALLIANCE_METRICS_PORT`` (8428),
``ALLIANCE_LAG_EXPORTER_PORT`` (8106) and ``ALLIANCE_CONSOLE_PORT`` (8100, the operator console).
Services started here export traces to that Jaeger unless
``ALLIANCE_OTLP_ENDPOINT`` says otherwise, and VictoriaMetrics scrapes their ``/metrics`` every
``ALLIANCE_METRICS_SCRAPE_INTERVAL`` (5s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import security  # noqa: E402 - beside this script

HOME = Path(os.environ.get("ALLIANCE_HOME", ROOT / ".local")).resolve()
KAFKA_VERSION = "4.1.1"  # keep in step with deploy/local/kafka/pom.xml
KAFKA_PORT = int(os.environ.get("ALLIANCE_KAFKA_PORT", "9092"))
CONTROLLER_PORT = int(os.environ.get("ALLIANCE_KAFKA_CONTROLLER_PORT", "9093"))
KAFKA_TLS_PORT = int(os.environ.get("ALLIANCE_KAFKA_TLS_PORT", "9094"))
MONGO_PORT = int(os.environ.get("ALLIANCE_MONGO_PORT", "27017"))
POSTGRES_PORT = int(os.environ.get("ALLIANCE_POSTGRES_PORT", "5433"))
STORE_BACKEND = os.environ.get("ALLIANCE_STORE_BACKEND", "postgresql")
STORE_POOL_PER_LOGIN = 40  # FerretDB's PostgreSQL connections per store login (pool_max_conns)
KAFKA_HEAP = os.environ.get("ALLIANCE_KAFKA_HEAP", "512m")
SERVICES = {"interdiction": 8101, "firearms": 8102, "chemicals": 8103, "money_laundering": 8104, "extradition": 8105}
VICTORIAMETRICS_VERSION = "v1.151.0"
JAEGER_OTLP_HTTP_PORT = int(os.environ.get("ALLIANCE_JAEGER_OTLP_HTTP_PORT", "4318"))
JAEGER_OTLP_GRPC_PORT = int(os.environ.get("ALLIANCE_JAEGER_OTLP_GRPC_PORT", "4317"))
JAEGER_QUERY_PORT = int(os.environ.get("ALLIANCE_JAEGER_QUERY_PORT", "16686"))
JAEGER_QUERY_GRPC_PORT = int(os.environ.get("ALLIANCE_JAEGER_QUERY_GRPC_PORT", "16685"))
JAEGER_MAX_TRACES = int(os.environ.get("ALLIANCE_JAEGER_MAX_TRACES", "20000"))
METRICS_PORT = int(os.environ.get("ALLIANCE_METRICS_PORT", "8428"))
SCRAPE_INTERVAL = os.environ.get("ALLIANCE_METRICS_SCRAPE_INTERVAL", "5s")
LAG_EXPORTER_PORT = int(os.environ.get("ALLIANCE_LAG_EXPORTER_PORT", "8106"))
CONSOLE_PORT = int(os.environ.get("ALLIANCE_CONSOLE_PORT", "8100"))
OTLP_ENDPOINT = os.environ.get("ALLIANCE_OTLP_ENDPOINT") or f"http://127.0.0.1:{JAEGER_OTLP_HTTP_PORT}"

RUN = HOME / "run"
LOGS = HOME / "logs"
TLS = HOME / "tls"


class StackError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def require(tool: str, purpose: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise StackError(f"'{tool}' is not installed or not on PATH; it is needed to {purpose}.")
    return path


# -- processes ---------------------------------------------------------------------------------


def pid_of(name: str) -> int | None:
    path = RUN / f"{name}.pid"
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    # A process that exited but was not reaped (our own child) is a zombie: treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid
    return None if state in {"Z", "X"} else pid


def spawn(
    name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, user: str | None = None
) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        user=user,
    )
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def stop(name: str, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
    pid = pid_of(name)
    if pid is None:
        (RUN / f"{name}.pid").unlink(missing_ok=True)
        return
    say(f"stopping {name} (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        say(f"{name} did not stop in {timeout:.0f}s; killing it")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    (RUN / f"{name}.pid").unlink(missing_ok=True)


def wait_until(check: Callable[[], bool], what: str, timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if pid_of(name) is None:
            raise StackError(f"{what} exited while starting; see {LOGS / (name + '.log')}")
        time.sleep(0.5)
    raise StackError(f"{what} did not answer within {timeout:.0f}s; see {LOGS / (name + '.log')}")


# -- probes ------------------------------------------------------------------------------------


def kafka_answers() -> bool:
    """A real, authenticated metadata request to the broker."""

    async def probe() -> bool:
        import logging

        from aiokafka import AIOKafkaClient

        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "unable to connect" is expected here

        client = AIOKafkaClient(
            bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}",
            request_timeout_ms=3000,
            **security.aiokafka_config("admin", security.password(HOME, "admin")),
        )
        try:
            await asyncio.wait_for(client.bootstrap(), 5)
            return bool(client.cluster.brokers())
        except Exception:
            return False
        finally:
            await client.close()

    return asyncio.run(probe())


def mongo_answers() -> bool:
    """A logged-in request that reaches the backend (FerretDB checks a login only there)."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{MONGO_PORT}/",
        serverSelectionTimeoutMS=1500,
        connectTimeoutMS=1500,
        **store_login(security.STORE_ADMIN),
    )
    try:
        return client.admin.command("listDatabases", nameOnly=True).get("ok") == 1
    except Exception:
        return False
    finally:
        client.close()


def store_login(role: str) -> dict[str, Any]:
    """PyMongo arguments to log in to FerretDB as a store role (PLAIN: FerretDB v1 hands the login to
    PostgreSQL, which checks it with SCRAM; loopback only)."""
    return {
        "username": role,
        "password": security.password(HOME, role, "store"),
        "authMechanism": "PLAIN",
    }


def http_ok(port: int, path: str = "/health") -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return bool(response.status == 200)
    except Exception:
        return False


def go_build(what: str, binary: Path, argv: list[str], cwd: Path | None = None, gobin: bool = False) -> None:
    """Build a Go binary into ``binary`` atomically: an interrupted build leaves no half-written binary."""
    go = require("go", f"build {what}")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".partial")
    env = dict(os.environ)
    started = time.monotonic()
    if gobin:  # `go install pkg@version`: into a directory of its own, then renamed
        staging = binary.parent / (binary.name + ".gobin")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run([go, *argv], cwd=cwd or ROOT, check=True, env={**env, "GOBIN": str(staging)})
        [built] = list(staging.iterdir())
        built.rename(partial)
        shutil.rmtree(staging)
    else:
        subprocess.run([go, argv[0], "-o", str(partial), *argv[1:]], cwd=cwd or ROOT, check=True, env=env)
    partial.rename(binary)
    say(f"{what}: built in {time.monotonic() - started:.0f}s")


# -- components --------------------------------------------------------------------------------


@dataclass
class Component:
    name: str
    answers: Callable[[], bool]

    def install(self) -> None: ...

    def launch(self) -> None: ...

    startup_timeout: float = 90.0

    def up(self) -> None:
        if self.answers():
            say(f"{self.name}: already running")
            return
        if pid_of(self.name) is not None:
            # Running but not answering: maybe still starting (a broker loads every partition first, which
            # takes minutes on a busy machine). Give it as long as a start may take, then restart.
            try:
                wait_until(self.answers, self.name, self.startup_timeout, self.name)
                say(f"{self.name}: running")
                return
            except StackError:
                stop(self.name)
        self.install()
        say(f"{self.name}: starting")
        self.launch()
        wait_until(self.answers, self.name, self.startup_timeout, self.name)
        say(f"{self.name}: ready")


def new_cluster_id() -> str:
    """A KRaft cluster id (base64url of 16 bytes); never starting with '-', which CLIs read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cluster_id[0].isalnum():
            return cluster_id


class Kafka(Component):
    def __init__(self) -> None:
        super().__init__("kafka", kafka_answers)
        self.startup_timeout = 300.0  # thousands of partitions load slowly on 2 busy cores
        self.home = HOME / "kafka"
        self.libs = self.home / f"libs-{KAFKA_VERSION}"
        self.data = self.home / "data"

    def install(self) -> None:
        java = require("java", "run the Kafka broker (Java 17+)")
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
        if '"1.' in out or any(f'"{v}.' in out for v in range(9, 17)):
            raise StackError(f"Kafka {KAFKA_VERSION} needs Java 17 or newer; found: {out.splitlines()[0]}")
        marker = self.libs / ".complete"
        if not marker.exists():
            mvn = require("mvn", "download the Kafka broker jars from Maven Central")
            say(f"kafka: downloading Apache Kafka {KAFKA_VERSION} jars (first run only)")
            self.libs.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(HERE / "kafka" / "pom.xml"),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={self.libs}",
                    "-DincludeScope=runtime",
                ],
                check=True,
            )
            marker.touch()
        self._configure()

    def properties(self) -> str:
        """server.properties as this stack wants it (passwords included: written 0600, never printed)."""
        tls = security.make_tls(TLS, ["127.0.0.1", "localhost"])
        return (
            (HERE / "kafka" / "server.properties")
            .read_text()
            .replace("@KAFKA_PORT@", str(KAFKA_PORT))
            .replace("@CONTROLLER_PORT@", str(CONTROLLER_PORT))
            .replace("@TLS_PORT@", str(KAFKA_TLS_PORT))
            .replace("@TLS_KEYSTORE@", str(tls.keystore))
            .replace("@DATA_DIR@", str(self.data))
            .replace("@ADMIN_PASSWORD@", security.password(HOME, "admin"))
            .replace("@CONTROLLER_PASSWORD@", security.password(HOME, "controller"))
        )

    def fingerprint(self) -> str:
        """The config and the broker's certificate: a change of either restarts the broker."""
        return digest(self.properties(), (TLS / "broker.pem").read_bytes().hex(), self.libs)

    def _configure(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        config = self.home / "server.properties"
        config.touch(mode=0o600)
        os.chmod(config, 0o600)
        config.write_text(self.properties())
        cluster_file = self.home / "cluster-id"
        if not cluster_file.exists():
            cluster_file.write_text(new_cluster_id())
        secured = self.data / ".authenticated"
        if (self.data / "meta.properties").exists() and not secured.exists():
            # Formatted by an older stack without users: its data is local test data; start afresh.
            say("kafka: storage predates authentication; formatting it again")
            shutil.rmtree(self.data)
        if not (self.data / "meta.properties").exists():
            say("kafka: formatting storage (first run only)")
            subprocess.run(
                [
                    *self._java(),
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "--ignore-formatted",
                    f"--cluster-id={cluster_file.read_text().strip()}",
                    "--add-scram",
                    f"SCRAM-SHA-512=[name=admin,password={security.password(HOME, 'admin')}]",
                    "-c",
                    str(self.home / "server.properties"),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            secured.touch()

    def _java(self) -> list[str]:
        return [
            "java",
            f"-Xmx{KAFKA_HEAP}",
            "-Xms128m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={LOGS}",
            "-cp",
            f"{self.libs}/*",
        ]

    def launch(self) -> None:
        spawn(self.name, [*self._java(), "kafka.Kafka", str(self.home / "server.properties")])
        launched(self.name, self.fingerprint())

    def up(self) -> None:
        restart_if_changed(self.name, self.fingerprint())  # e.g. the TLS listener added to an older stack
        super().up()
        # Users, topics and ACLs of the default namespace; every `up` (idempotent).
        security.provision(HOME, f"127.0.0.1:{KAFKA_PORT}")
        say("kafka: users, topics and ACLs in place")


def postgres_answers() -> bool:
    return (
        subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT)], stdout=subprocess.DEVNULL
        ).returncode
        == 0
        if shutil.which("pg_isready")
        else False
    )


class PostgreSQL(Component):
    """A private PostgreSQL cluster under .local/ for FerretDB (Debian's package, installed when missing)."""

    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client to leave

    def __init__(self) -> None:
        super().__init__("postgres", postgres_answers)
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
        self.home = self._cluster_home()
        self.data = self.home / "data"

    def _cluster_home(self) -> Path:
        """Under .local/, unless the postgres user cannot reach it (a checkout in a private directory):
        then in /var/tmp, named after the checkout, so that two checkouts never share a cluster."""
        inside = HOME / "postgres"
        if self.user and any(not parent.stat().st_mode & 0o001 for parent in HOME.parents):
            digest = hashlib.sha1(str(HOME).encode()).hexdigest()[:10]
            return Path("/var/tmp") / f"alliance-postgres-{digest}"
        return inside

    def bin(self, tool: str) -> str:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{tool}"))
        if not found:
            raise StackError(f"PostgreSQL's {tool} is missing")
        return str(found[-1])

    def install(self) -> None:
        if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
            if os.geteuid() != 0 or not shutil.which("apt-get"):
                raise StackError("PostgreSQL server binaries are needed: install Debian's 'postgresql' package")
            say("postgres: installing Debian's postgresql package (first run only)")
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql"],
                check=True,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
        if (self.data / "PG_VERSION").exists():
            return
        say(f"postgres: creating a private cluster in {self.home} (first run only)")
        self.home.mkdir(parents=True, exist_ok=True)
        if self.user:
            HOME.chmod(HOME.stat().st_mode | 0o011)  # let the postgres user reach its directory
            shutil.chown(self.home, self.user, self.user)
        # The superuser's password, for initdb only: a file the postgres user can read, removed at once.
        pwfile = self.home / ".initdb-password"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(security.password(HOME, security.STORE_ADMIN, "store") + "\n")
        if self.user:
            shutil.chown(pwfile, self.user, self.user)
        try:
            subprocess.run(
                [
                    self.bin("initdb"),
                    *("-D", str(self.data), "-U", security.STORE_ADMIN, "-E", "UTF8", "--locale=C"),
                    *("--auth=scram-sha-256", f"--pwfile={pwfile}"),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                user=self.user,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.write_hba()

    def launch(self) -> None:
        spawn(
            self.name,
            [
                self.bin("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(POSTGRES_PORT),
                "-k",
                str(self.home),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=128MB",
            ],
            user=self.user,
        )

    HBA = (
        "# Written by deploy/local/stack.py on every `up`: every connection logs in with a password.\n"
        "local all all scram-sha-256\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host all all ::1/128 scram-sha-256\n"
    )

    def up(self) -> None:
        super().up()
        self.require_passwords()
        self.psql(security.store_roles_sql(HOME), "postgres")
        self.psql(security.store_database_sql(), security.STORE_DATABASE)

    def require_passwords(self) -> None:
        """Password authentication (SCRAM-SHA-256) for every connection. A cluster made by an older stack
        trusted every local connection: its superuser gets its password while it still trusts, then
        the rules are replaced and reloaded (idempotent)."""
        hba = self.data / "pg_hba.conf"
        if hba.read_text() == self.HBA:
            return
        say("postgres: requiring passwords (SCRAM-SHA-256) for every connection")
        verifier = security.scram_verifier(security.password(HOME, security.STORE_ADMIN, "store"))
        self.psql(f"ALTER ROLE {security.STORE_ADMIN} PASSWORD '{verifier}';\n", "postgres")
        self.write_hba()
        self.psql("SELECT pg_reload_conf();\n", "postgres")

    def write_hba(self) -> None:
        hba = self.data / "pg_hba.conf"
        hba.write_text(self.HBA)
        if self.user:
            shutil.chown(hba, self.user, self.user)

    def psql(self, script: str, database: str) -> None:
        """Run SQL as the superuser; the script on stdin (never on a command line), output kept quiet."""
        done = subprocess.run(
            [
                self.bin("psql"),
                *("-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", security.STORE_ADMIN, "-d", database),
                *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"),
            ],
            input=script,
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": security.password(HOME, security.STORE_ADMIN, "store")},
        )
        if done.returncode != 0:
            raise StackError(f"postgres: setting up roles and rights failed: {done.stderr.strip()[:500]}")


class FerretDB(Component):
    def __init__(self) -> None:
        super().__init__("ferretdb", mongo_answers)
        self.binary = HOME / "bin" / "ferretdb"
        self.data = HOME / "ferretdb" / "data"

    def sources(self) -> str:
        """A digest of the Go main, its pins and the patches to FerretDB: the binary is rebuilt (and
        restarted) when they change."""
        files = [HERE / "ferretdb" / n for n in ("main.go", "go.mod", "go.sum")] + self.patches()
        return digest(*(f"{f.name}\n{f.read_text()}" for f in files))

    @staticmethod
    def patches() -> list[Path]:
        return sorted((HERE / "ferretdb" / "patches").glob("*.patch"))

    def patched(self, go: str) -> Path:
        """A copy of the pinned FerretDB module with deploy/local/ferretdb/patches applied, and a go.mod
        for ``go build -modfile`` that replaces the module with it (see deploy/local/README.md for what
        each patch fixes). The module cache itself stays as downloaded (it is read-only)."""
        patch = require("patch", "apply the project's patches to FerretDB v1")
        found = subprocess.run(
            [go, "mod", "download", "-json", "github.com/FerretDB/FerretDB"],
            cwd=HERE / "ferretdb",
            check=True,
            capture_output=True,
            text=True,
        )
        module = json.loads(found.stdout)
        build = HOME / "build"
        copy = build / f"ferretdb-{module['Version']}-patched"
        shutil.rmtree(copy, ignore_errors=True)
        build.mkdir(parents=True, exist_ok=True)
        shutil.copytree(module["Dir"], copy, copy_function=shutil.copyfile)  # files without the cache's modes
        for folder, _, _ in os.walk(copy):
            os.chmod(folder, 0o755)  # the cache's folders are read-only: patch writes beside its files
        for patch_file in self.patches():
            subprocess.run([patch, "--quiet", "--forward", "-p1", "-d", str(copy), "-i", str(patch_file)], check=True)
        modfile = build / "ferretdb.mod"
        modfile.write_text(
            (HERE / "ferretdb" / "go.mod").read_text() + f"\nreplace github.com/FerretDB/FerretDB => {copy}\n"
        )
        shutil.copyfile(HERE / "ferretdb" / "go.sum", modfile.with_suffix(".sum"))
        return modfile

    def install(self) -> None:
        stamp = self.binary.with_name("ferretdb.sources")
        if self.binary.exists() and stamp.exists() and stamp.read_text() == self.sources():
            return
        go = require("go", "build FerretDB (the MongoDB-wire store)")
        say("ferretdb: building FerretDB v1 with its patches and index bridge (first run, or its sources changed)")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [go, "build", "-modfile", str(self.patched(go)), "-o", str(self.binary), "."],
            cwd=HERE / "ferretdb",
            check=True,
            env={**os.environ, "CGO_ENABLED": "0"},
        )
        stamp.write_text(self.sources())

    def argv(self) -> list[str]:
        # A client that gives no login reaches PostgreSQL as a role that may not log in: refused. Each
        # client's own login (a service's store role) is checked by PostgreSQL. The index bridge logs in
        # as the superuser, its password read from its file. FerretDB keeps a pool per login (default
        # 50 connections): six logins of 40 stay below PostgreSQL's max_connections (300). Unpatched,
        # FerretDB v1 wedged a login whose requests held its whole pool (patches/, README "One login
        # never wedges the store"); each service process also keeps at most ALLIANCE_MONGO_MAX_CONNECTIONS
        # (10) commands in flight, so three instances of a service stay within their pool.
        url = (
            f"postgres://{security.STORE_ANONYMOUS}@127.0.0.1:{POSTGRES_PORT}/{security.STORE_DATABASE}"
            f"?pool_max_conns={STORE_POOL_PER_LOGIN}"
        )
        admin = security.secret_file(HOME, security.STORE_ADMIN, "store")
        backend = (
            [
                *("-handler", "postgresql", "-postgresql-url", url),
                *("-bridge-user", security.STORE_ADMIN, "-bridge-password-file", str(admin)),
            ]
            if STORE_BACKEND == "postgresql"
            else ["-handler", "sqlite", "-data", str(self.data)]
        )
        return [str(self.binary), "-listen", f"127.0.0.1:{MONGO_PORT}", *backend]

    def up(self) -> None:
        restart_if_changed(self.name, digest(self.sources(), *self.argv()))
        super().up()

    def launch(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        spawn(self.name, self.argv())
        launched(self.name, digest(self.sources(), *self.argv()))


def digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()


def restart_if_changed(name: str, fingerprint: str) -> None:
    """Stop a running component this stack started with other settings (ports, config, binary, …);
    ``up`` then starts it as wanted. One started by an older stack.py (no record) is restarted too."""
    marker = RUN / f"{name}.launched"
    if pid_of(name) is not None and (not marker.exists() or marker.read_text() != fingerprint):
        say(f"{name}: started with other settings; restarting it")
        stop(name)


def launched(name: str, fingerprint: str) -> None:
    (RUN / f"{name}.launched").write_text(fingerprint)


def jaeger_version() -> str:
    """The Jaeger module version pinned in deploy/local/jaeger/go.mod (v1.76.0 is Jaeger v2.13.0)."""
    found = re.search(r"github\.com/jaegertracing/jaeger (v\S+)", (HERE / "jaeger" / "go.mod").read_text())
    if not found:
        raise StackError("deploy/local/jaeger/go.mod does not pin github.com/jaegertracing/jaeger")
    return found.group(1)


class Jaeger(Component):
    """Jaeger v2 (the trace backend): OTLP in, an in-memory store of at most JAEGER_MAX_TRACES traces,
    the query API (/api/services, /api/traces, /api/v3/traces/{id}) on the query port."""

    def __init__(self) -> None:
        super().__init__("jaeger", lambda: http_ok(JAEGER_QUERY_PORT, "/api/services"))
        self.home = HOME / "jaeger"
        self.binary = self.home / f"jaeger-{jaeger_version()}"

    def install(self) -> None:
        if not self.binary.exists():
            say(f"jaeger: building Jaeger {jaeger_version()} from deploy/local/jaeger (first run only; ~7 min cold)")
            go_build(
                "jaeger",
                self.binary,
                ["build", "github.com/jaegertracing/jaeger/cmd/jaeger"],
                cwd=HERE / "jaeger",
            )
            for old in self.home.glob("jaeger-v*"):
                if old != self.binary and not old.name.endswith(".partial"):
                    old.unlink()

    def config(self) -> str:
        return (
            (HERE / "jaeger" / "config.yaml")
            .read_text()
            .replace("@OTLP_HTTP_PORT@", str(JAEGER_OTLP_HTTP_PORT))
            .replace("@OTLP_GRPC_PORT@", str(JAEGER_OTLP_GRPC_PORT))
            .replace("@QUERY_PORT@", str(JAEGER_QUERY_PORT))
            .replace("@QUERY_GRPC_PORT@", str(JAEGER_QUERY_GRPC_PORT))
            .replace("@MAX_TRACES@", str(JAEGER_MAX_TRACES))
        )

    def up(self) -> None:
        restart_if_changed(self.name, digest(self.binary, self.config()))
        super().up()

    def launch(self) -> None:
        config = self.config()
        (self.home / "config.yaml").write_text(config)
        # A soft heap limit keeps the in-memory store's process small; max_traces bounds what it keeps.
        spawn(self.name, [str(self.binary), "--config", str(self.home / "config.yaml")], env={"GOMEMLIMIT": "256MiB"})
        launched(self.name, digest(self.binary, config))


def scrape_config() -> str:
    """VictoriaMetrics' scrape targets: each service's /metrics (job = service) and the lag exporter."""
    jobs = [(name, port) for name, port in SERVICES.items()] + [("consumer_lag", LAG_EXPORTER_PORT)]
    lines = [
        "# Written by deploy/local/stack.py on every `up`; edits are overwritten.",
        "global:",
        f"  scrape_interval: {SCRAPE_INTERVAL}",
        f"  scrape_timeout: {SCRAPE_INTERVAL}",
        "scrape_configs:",
    ]
    for job, port in jobs:
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: ['127.0.0.1:{port}']"]
    return "\n".join(lines) + "\n"


class VictoriaMetrics(Component):
    """VictoriaMetrics single-node (the metrics backend): scrapes the services, Prometheus query API."""

    def __init__(self) -> None:
        super().__init__("victoriametrics", lambda: http_ok(METRICS_PORT, "/health"))
        self.home = HOME / "victoriametrics"
        self.binary = self.home / f"victoria-metrics-{VICTORIAMETRICS_VERSION}"
        self.config = self.home / "scrape.yaml"

    def write_config(self) -> bool:
        """Write the scrape config; whether it changed."""
        self.home.mkdir(parents=True, exist_ok=True)
        wanted = scrape_config()
        if self.config.exists() and self.config.read_text() == wanted:
            return False
        self.config.write_text(wanted)
        return True

    def install(self) -> None:
        if not self.binary.exists():
            say(f"victoriametrics: building VictoriaMetrics {VICTORIAMETRICS_VERSION} (first run only)")
            module = "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics"
            go_build(
                "victoriametrics",
                self.binary,
                ["install", f"{module}@{VICTORIAMETRICS_VERSION}"],
                gobin=True,
            )
            for old in self.home.glob("victoria-metrics-v*"):
                if old != self.binary and not old.name.endswith(".partial"):
                    old.unlink()

    def argv(self) -> list[str]:
        return [
            str(self.binary),
            f"-httpListenAddr=127.0.0.1:{METRICS_PORT}",
            f"-storageDataPath={self.home / 'data'}",
            "-retentionPeriod=14d",
            f"-promscrape.config={self.config}",
            f"-vmui.customDashboardsPath={HERE / 'victoriametrics' / 'dashboards'}",
            "-search.latencyOffset=1s",  # recent samples are queryable at once (default 30s)
            "-memory.allowedBytes=128MiB",
            "-loggerLevel=WARN",
        ]

    def launch(self) -> None:
        spawn(self.name, self.argv())
        launched(self.name, digest(*self.argv()))

    def up(self) -> None:
        restart_if_changed(self.name, digest(*self.argv()))
        changed = self.write_config()
        pid = pid_of(self.name)
        if changed and pid is not None:
            say("victoriametrics: scrape targets changed; reloading them")
            os.kill(pid, signal.SIGHUP)
        super().up()


class LagExporter(Component):
    """Consumer lag of every Alliance consumer group, measured from outside the consumers (as the
    operators' principal), so a stopped or stuck service's backlog is still visible on /metrics."""

    def __init__(self) -> None:
        super().__init__("lag-exporter", lambda: http_ok(LAG_EXPORTER_PORT))
        self.startup_timeout = 30.0

    def launch(self) -> None:
        env = {
            "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{KAFKA_PORT}",
            "ALLIANCE_KAFKA_USERNAME": security.OPERATOR,
            "ALLIANCE_KAFKA_PASSWORD_FILE": str(security.secret_file(HOME, security.OPERATOR)),
            "ALLIANCE_HTTP_PORT": str(LAG_EXPORTER_PORT),
        }
        spawn(self.name, [sys.executable, "-m", "alliance.operator.lag_exporter"], env=env)


class Console(Component):
    """The operators' read-only web console, on the trace and metrics backends above."""

    def __init__(self) -> None:
        super().__init__("console", lambda: http_ok(CONSOLE_PORT))
        self.startup_timeout = 30.0

    def environment(self) -> dict[str, str]:
        return {
            "ALLIANCE_HTTP_PORT": str(CONSOLE_PORT),
            "ALLIANCE_TRACE_QUERY_URL": f"http://127.0.0.1:{JAEGER_QUERY_PORT}",
            "ALLIANCE_METRICS_QUERY_URL": f"http://127.0.0.1:{METRICS_PORT}",
        }

    def up(self) -> None:
        restart_if_changed(self.name, digest(sorted(self.environment().items())))
        super().up()

    def launch(self) -> None:
        spawn(self.name, [str(Path(sys.executable).parent / "alliance-console")], env=self.environment())
        launched(self.name, digest(sorted(self.environment().items())))


class ServiceProcess(Component):
    def __init__(self, service: str, port: int) -> None:
        super().__init__(service, lambda: http_ok(port))
        self.service = service
        self.port = port
        self.startup_timeout = 60.0

    def environment(self) -> dict[str, str]:
        return {
            "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{KAFKA_PORT}",
            **security.service_logins(HOME, self.service),
            "ALLIANCE_MONGO_URI": f"mongodb://127.0.0.1:{MONGO_PORT}/",
            "ALLIANCE_HTTP_PORT": str(self.port),
            "ALLIANCE_OTLP_ENDPOINT": OTLP_ENDPOINT,
        }

    def fingerprint(self) -> str:
        """What the service is started with (paths of its secrets, never their values)."""
        return digest(sorted(self.environment().items()))

    def up(self) -> None:
        restart_if_changed(self.name, self.fingerprint())
        super().up()

    def launch(self) -> None:
        script = Path(sys.executable).parent / f"alliance-{self.service.replace('_', '-')}"
        spawn(self.name, [str(script)], env=self.environment())
        launched(self.name, self.fingerprint())


def observability() -> list[Component]:
    return [Jaeger(), VictoriaMetrics(), LagExporter(), Console()]


def infrastructure() -> list[Component]:
    store: list[Component] = [PostgreSQL(), FerretDB()] if STORE_BACKEND == "postgresql" else [FerretDB()]
    return [Kafka(), *store, *observability()]


def addresses() -> list[str]:
    """Where an operator looks, one line each (printed by `make demo` after the scenario)."""
    lines = [
        f"Traces   Jaeger v2 (module {jaeger_version()})  http://127.0.0.1:{JAEGER_QUERY_PORT}/api/services · "
        f"/api/traces?service=alliance-interdiction · /api/v3/traces/<trace id>  "
        f"(OTLP in: http {JAEGER_OTLP_HTTP_PORT}, grpc {JAEGER_OTLP_GRPC_PORT})",
        f"Metrics  VictoriaMetrics {VICTORIAMETRICS_VERSION}  http://127.0.0.1:{METRICS_PORT}/vmui/#/dashboards · "
        f"targets /targets · Prometheus API /api/v1/query?query=up",
        f"Lag      http://127.0.0.1:{LAG_EXPORTER_PORT}/metrics (alliance_consumer_lag of every consumer group)",
        "Services "
        + " · ".join(f"{name} http://127.0.0.1:{port}" for name, port in SERVICES.items())
        + "  (/health, /metrics, /asyncapi.json)",
    ]
    lines.insert(0, f"Console  http://127.0.0.1:{CONSOLE_PORT} (overview) · /flow?id=<record or trace id>")
    return lines


def services() -> list[Component]:
    return [ServiceProcess(name, port) for name, port in SERVICES.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "provision", "addresses"])
    parser.add_argument("--namespace", default="", help="with provision: the namespace to make topics and ACLs for")
    parser.add_argument(
        "--agency", action="append", default=[], metavar="ID:DOMAIN,…", help="with provision: an extra agency"
    )
    parser.add_argument("--services", action="store_true", help="also start/stop the Alliance services")
    parser.add_argument(
        "--only",
        metavar="NAME",
        help="act on one component (kafka, postgres, ferretdb, jaeger, victoriametrics, lag-exporter, a service)",
    )
    args = parser.parse_args()
    try:
        if args.command == "provision":
            extra = {
                a.split(":")[0]: {d for d in a.split(":")[1].split(",") if d} for a in args.agency
            }  # none: receives only
            security.provision(HOME, f"127.0.0.1:{KAFKA_PORT}", args.namespace, extra)
            return 0
        if args.command == "addresses":
            print("\n".join(addresses()))
            return 0
        if args.command == "up" and security.old_credentials(HOME).exists():
            security.migrate_credentials(HOME)
            say(
                f"note: {security.old_credentials(HOME)} (an older layout) still holds every principal's password; "
                f"this stack reads {HOME / 'secrets'} only: remove it once no older checkout uses this stack"
            )
        chosen = [c for c in infrastructure() + services() if args.only in (None, c.name)]
        if not chosen:
            raise StackError(f"unknown component {args.only!r}")
        if args.command == "up":
            for component in chosen:
                if args.services or args.only or component.name not in SERVICES:
                    component.up()
        elif args.command == "down":
            for component in reversed(chosen):
                if args.services or args.only or component.name not in SERVICES:
                    stop(component.name, sig=getattr(component, "stop_signal", signal.SIGTERM))
        else:
            healthy = True
            for component in chosen:
                pid = pid_of(component.name)
                answers = component.answers()
                healthy &= answers or component.name in SERVICES
                print(
                    f"{component.name:16} {'answers' if answers else 'DOWN':8} "
                    f"{'pid ' + str(pid) if pid else '(not started by this stack)'}"
                )
            return 0 if healthy else 1
    except StackError as exc:
        print(f"[stack] error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"[stack] error: {' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
