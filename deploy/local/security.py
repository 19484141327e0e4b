"""Kafka principals, credentials and ACLs of the local stack (SASL/SCRAM-SHA-512, StandardAuthorizer).

One principal per service (``svc-<service>``), per agency system (its registry id), plus ``operator``
(reads every stream, writes the registry) and the super users ``admin`` and ``controller``.
Each principal's password is generated on first use into a file of its own,
``secrets/kafka/<principal>`` under the stack's home (mode 0600 in a 0700 directory, git-ignored,
never printed), so that a program is given exactly the secret of the principal it runs as: a service
its own, the operators' CLI the operator's. The store's roles have theirs in ``secrets/store/<role>``.
A home written by an older stack (every password in one ``kafka/credentials.json``) is migrated on
first use: the files are written from it (the old file is then the operator's to remove).
:func:`provision` makes one namespace's topics, users and ACLs; it is idempotent and runs at every
``make up`` and at the start of every test session. Topics get the partitions, replication and
configs of their class (``Settings.topic_spec``); the configs of topics that already exist are
brought in line.

Who may do what (each ``alliance.`` name is prefixed with the namespace, if any):

- ``svc-<s>``: read, write and create its events and dead-letter topics; read (and create, for a newly
  registered agency) the agencies' intake topics of its domain, never write them; its consumer
  groups; read the other services' events, the registry and the operators' replay requests; write
  deliveries, replies, the audit stream and the replay outcomes.
- agency ``<a>``: write its own intake topics ``alliance.<domain>.intake.<a>`` for the domains the
  registry lets it send to; read its own ``alliance.deliveries.<a>`` and ``alliance.replies.<a>``;
  nothing else (no events topic, no dead letters, no audit).
- ``operator``: read every ``alliance.`` topic (dead letters and audit included) and describe groups;
  write the registry and replay requests (a service replays its own dead letter); never an intake
  topic, so no operator can pose as an agency.

Provisioning removes the ACLs of a namespace that these rules no longer grant (an upgraded stack
loses the rights older versions gave).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]
SUPER_USERS = ["admin", "controller"]
OPERATOR = "operator"
STORE_ADMIN = "postgres"  # the store's superuser: the stack's own set-up, the index bridge, the tests' reads
Kind = Literal["kafka", "store"]
PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # also a file name: no separators, no dots


def service_principal(service: str) -> str:
    return f"svc-{service.replace('_', '-')}"


def agency_ids() -> list[str]:
    from alliance.contracts.registry import baseline_registry

    return [a.id for a in baseline_registry().agencies]


def secret_file(home: Path, principal: str, kind: Kind = "kafka") -> Path:
    """The file holding one principal's password, generated (random, 0600) on first use."""
    if not PRINCIPAL.match(principal):
        raise ValueError(f"{principal!r} cannot name a principal")
    migrate_credentials(home)
    folder = home / "secrets" / kind
    path = folder / principal
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(24))
    return path


def password(home: Path, principal: str, kind: Kind = "kafka") -> str:
    """One principal's password (read from its own file only)."""
    return secret_file(home, principal, kind).read_text().strip()


def write_secret(path: Path, value: str) -> None:
    """Create a secret file readable by its owner alone; an existing one is never overwritten."""
    for folder in (path.parent.parent, path.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # written meanwhile by another process: theirs stands
    with os.fdopen(fd, "w") as out:
        out.write(value)


def old_credentials(home: Path) -> Path:
    """Where an older stack kept every password in one file."""
    return home / "kafka" / "credentials.json"


def migrate_credentials(home: Path) -> None:
    """An older stack kept every password in ``kafka/credentials.json``: one file per principal instead.

    The passwords are kept (the broker's users and running services still use them). The old file is
    left for the operator to remove (``stack.py up`` says so while it exists): a checkout of the older
    code using the same stack would otherwise make new passwords for every principal and set them
    on the broker. Nothing of this code reads it once a principal has its own file.
    """
    old = old_credentials(home)
    if not old.exists():
        return
    for principal, value in json.loads(old.read_text()).items():
        if PRINCIPAL.match(principal):
            write_secret(home / "secrets" / "kafka" / principal, value)


def kafka_principals(extra: Iterable[str] = ()) -> list[str]:
    """Every Kafka principal of the stack: super users, operator, services, agencies (and ``extra``)."""
    wanted = [*SUPER_USERS, OPERATOR, *(service_principal(s) for s in SERVICES), *agency_ids(), *extra]
    return list(dict.fromkeys(wanted))


def client_tls(ca_file: Path | None) -> ssl.SSLContext | None:
    """A TLS context trusting ``ca_file`` (SASL_SSL), or None for the plaintext loopback listener."""
    if ca_file is None:
        return None
    return ssl.create_default_context(cafile=str(ca_file))  # checks the certificate and the host name


def confluent_config(bootstrap: str, principal: str, password: str, ca_file: Path | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_SSL" if ca_file else "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": principal,
        "sasl.password": password,
        "log_level": 3,
    }
    if ca_file:
        config["ssl.ca.location"] = str(ca_file)
    return config


def aiokafka_config(principal: str, password: str, ca_file: Path | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "security_protocol": "SASL_SSL" if ca_file else "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": principal,
        "sasl_plain_password": password,
    }
    if ca_file:
        config["ssl_context"] = client_tls(ca_file)
    return config


@dataclass(frozen=True)
class Grant:
    principal: str
    resource: str  # "topic" or "group"
    name: str
    prefixed: bool
    operations: tuple[str, ...]


def grants(namespace: str, agencies: dict[str, set[str]]) -> list[Grant]:
    """Every ACL of a namespace. ``agencies`` maps each agency to the domains it may send to."""
    p = f"{namespace}." if namespace else ""
    out: list[Grant] = []
    for service in SERVICES:
        who = service_principal(service)
        own = ("READ", "WRITE", "DESCRIBE", "CREATE", "DESCRIBE_CONFIGS")
        out += [
            Grant(who, "topic", f"{p}alliance.{service}.events", False, own),
            Grant(who, "topic", f"{p}alliance.{service}.deadletter", False, own),
            # The topic proves the sender: a service reads its agencies' intake and never writes it.
            Grant(who, "topic", f"{p}alliance.{service}.intake.", True, ("READ", "DESCRIBE", "CREATE")),
            Grant(who, "group", f"{p}alliance.{service}.", True, ("ALL",)),
            Grant(who, "topic", f"{p}alliance.operations.replay_requests", False, ("READ", "DESCRIBE")),
            Grant(who, "topic", f"{p}alliance.operations.replays", False, ("WRITE", "DESCRIBE")),
            Grant(who, "topic", f"{p}alliance.registry", False, ("READ", "DESCRIBE")),
            Grant(who, "topic", f"{p}alliance.audit", False, ("WRITE", "DESCRIBE")),
            Grant(who, "topic", f"{p}alliance.deliveries.", True, ("WRITE", "DESCRIBE")),
            Grant(who, "topic", f"{p}alliance.replies.", True, ("WRITE", "DESCRIBE")),
        ]
        out += [
            Grant(who, "topic", f"{p}alliance.{other}.events", False, ("READ", "DESCRIBE"))
            for other in SERVICES
            if other != service
        ]
    for agency, domains in agencies.items():
        out += [
            Grant(agency, "topic", f"{p}alliance.{d}.intake.{agency}", False, ("WRITE", "DESCRIBE")) for d in domains
        ]
        out += [
            Grant(agency, "topic", f"{p}alliance.deliveries.{agency}", False, ("READ", "DESCRIBE")),
            Grant(agency, "topic", f"{p}alliance.replies.{agency}", False, ("READ", "DESCRIBE")),
            Grant(agency, "group", f"{p}agency.{agency}.", True, ("READ", "DESCRIBE")),
        ]
    out += [
        Grant(OPERATOR, "topic", f"{p}alliance.", True, ("READ", "DESCRIBE", "DESCRIBE_CONFIGS")),
        Grant(OPERATOR, "topic", f"{p}alliance.registry", False, ("WRITE",)),
        Grant(OPERATOR, "topic", f"{p}alliance.operations.replay_requests", False, ("WRITE",)),
        Grant(OPERATOR, "group", f"{p}alliance.", True, ("DESCRIBE",)),
        Grant(OPERATOR, "group", f"{p}operator.", True, ("READ", "DESCRIBE")),
    ]
    return out


def sending_domains() -> dict[str, set[str]]:
    """Each registered agency and the domains whose intake it may write (from its ``sends`` patterns)."""
    from alliance.contracts.registry import baseline_registry

    return {
        a.id: {pattern.split(".")[2] for pattern in a.sends if pattern.startswith("org.alliance.")}
        for a in baseline_registry().agencies
    }


def provision(
    home: Path,
    bootstrap: str,
    namespace: str = "",
    extra_agencies: dict[str, set[str]] | None = None,
    ca_file: Path | None = None,
) -> None:
    """Users, topics and ACLs of one namespace (idempotent); over TLS when ``ca_file`` is given."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        NewTopic,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    from alliance.runtime.settings import Settings

    agencies = {**sending_domains(), **(extra_agencies or {})}
    admin = AdminClient(confluent_config(bootstrap, "admin", password(home, "admin"), ca_file))

    users = [u for u in kafka_principals(agencies) if u != "controller"]
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upserts = [UserScramCredentialUpsertion(u, info, password(home, u).encode()) for u in users]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout=30)

    # ACLs first, then topics: a topic that exists had its ACLs made before it, so an agency whose
    # topics exist is fully provisioned (what `alliance registry register` checks before the change).
    kinds = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
    bindings = [
        AclBinding(
            kinds[g.resource],
            g.name,
            ResourcePatternType.PREFIXED if g.prefixed else ResourcePatternType.LITERAL,
            f"User:{g.principal}",
            "*",
            getattr(AclOperation, op),
            AclPermissionType.ALLOW,
        )
        for g in grants(namespace, agencies)
        for op in g.operations
    ]
    for future in admin.create_acls(bindings, request_timeout=30).values():
        future.result(timeout=30)
    _remove_stale(admin, namespace, bindings)

    settings = Settings()

    def topic(name: str) -> NewTopic:
        spec = settings.topic_spec(name)  # partitions, replication and configs of its class
        return NewTopic(name, spec.partitions, spec.replication, config=spec.configs)

    p = f"{namespace}." if namespace else ""
    topics = [topic(f"{p}alliance.registry"), topic(f"{p}alliance.audit")]
    topics += [topic(f"{p}alliance.operations.replay_requests"), topic(f"{p}alliance.operations.replays")]
    # Every service's events topic exists before any service starts: a service subscribing to another's
    # facts must not need the right to create that topic.
    topics += [topic(f"{p}alliance.{s}.events") for s in SERVICES]
    for agency, domains in agencies.items():
        topics += [topic(f"{p}alliance.{d}.intake.{agency}") for d in domains]
        topics += [topic(f"{p}alliance.deliveries.{agency}"), topic(f"{p}alliance.replies.{agency}")]
    existing = []
    for name, future in admin.create_topics(topics, request_timeout=30).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"topic {name}: {exc}") from exc
            existing.append(name)
    align_topic_configs(admin, [t for t in topics if t.topic in existing])


def _remove_stale(admin: Any, namespace: str, wanted: list[Any]) -> None:
    """Delete the namespace's ACLs that the grants no longer give (rights of an older version)."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    everything = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    p = f"{namespace}." if namespace else ""
    ours = (f"{p}alliance.", f"{p}agency.", f"{p}operator.")
    keep = {_acl_key(b) for b in wanted}
    current = admin.describe_acls(everything, request_timeout=30).result(timeout=30)
    # Only the principals provisioned now: agencies added by other provisioning runs keep theirs.
    principals = {binding.principal for binding in wanted}
    stale = [b for b in current if b.name.startswith(ours) and b.principal in principals and _acl_key(b) not in keep]
    if not stale:
        return
    filters = [
        AclBindingFilter(
            b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation, b.permission_type
        )
        for b in stale
    ]
    for future in admin.delete_acls(filters, request_timeout=30).values():
        future.result(timeout=30)


def _acl_key(binding: Any) -> tuple[Any, ...]:
    return (
        binding.restype,
        binding.name,
        binding.resource_pattern_type,
        binding.principal,
        binding.operation,
        binding.permission_type,
    )


def align_topic_configs(admin: Any, topics: Iterable[Any]) -> None:
    """Set the class configs (retention, min.insync.replicas…) on topics created before they were chosen.

    Only the named configs are set (incrementally); a replication factor is not changed here (that
    is a partition reassignment, an operator's decision).
    """
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    resources = [
        ConfigResource(
            ResourceType.TOPIC,
            t.topic,
            incremental_configs=[
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in t.config.items()
            ],
        )
        for t in topics
    ]
    if resources:
        for future in admin.incremental_alter_configs(resources, request_timeout=30).values():
            future.result(timeout=30)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate clients trust (public)
    keystore: Path  # the broker's private key and certificate chain, PEM (0600)


def make_tls(folder: Path, hosts: Iterable[str], ca_name: str = "Alliance local CA") -> TlsFiles:
    """A private CA and a broker certificate for ``hosts`` (IPs or DNS names), with the openssl CLI.

    Idempotent: kept while the certificate names every host and stays valid for another month;
    otherwise issued again by the same CA. The CA's key stays in ``folder`` (0700).
    """
    hosts = list(hosts)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    ca_key, ca, keystore = folder / "ca.key", folder / "ca.crt", folder / "broker.pem"
    if not (ca.exists() and ca_key.exists()):
        _openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", ca_key, "-out", ca, "-days", "3650", "-subj", f"/CN={ca_name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        os.chmod(ca_key, 0o600)
        keystore.unlink(missing_ok=True)  # a new CA: the broker's certificate is issued again
    names = [f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in hosts]
    if keystore.exists() and set(names) <= _alt_names(keystore) and _valid_for(keystore, 30 * 24 * 3600):
        return TlsFiles(ca, keystore)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        key, csr, crt, ext = (Path(work) / n for n in ("broker.key", "broker.csr", "broker.crt", "ext.cnf"))
        ext.write_text(
            f"subjectAltName={','.join(names)}\nextendedKeyUsage=serverAuth\n"
            "keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n"
        )
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={hosts[0]}",
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "397", "-extfile", ext,
        )  # fmt: skip
        partial = keystore.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.read_bytes() + crt.read_bytes())  # Kafka's PEM keystore: PKCS#8 key, then the chain
        partial.replace(keystore)
    return TlsFiles(ca, keystore)


def _openssl(*args: str | Path) -> str:
    if not shutil.which("openssl"):
        raise RuntimeError("the openssl CLI is needed to make the broker's TLS certificate; install it")
    done = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def _alt_names(pem: Path) -> set[str]:
    """The subjectAltName entries of the certificate in ``pem``, as ``IP:…`` / ``DNS:…``."""
    text = _openssl("x509", "-in", pem, "-noout", "-ext", "subjectAltName")
    entries = text.splitlines()[-1].replace("IP Address:", "IP:").split(",") if text.strip() else []
    return {e.strip() for e in entries}


def _valid_for(pem: Path, seconds: int) -> bool:
    return (
        subprocess.run(
            ["openssl", "x509", "-in", str(pem), "-noout", "-checkend", str(seconds)], capture_output=True
        ).returncode
        == 0
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def scram_verifier(secret: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of a password (RFC 5802, RFC 7677), computed here so that
    the password itself is never sent to the server, nor can appear in its logs (as psql's
    ``\\password`` does). The secrets are ASCII, which SASLprep leaves unchanged."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


# -- the store (PostgreSQL behind FerretDB) ------------------------------------------------------------

STORE_SERVICES_ROLE = "alliance-services"  # every service's store role is a member
STORE_ANONYMOUS = "alliance-anonymous"  # FerretDB's login for a client that gave none: may not log in
STORE_DATABASE = "ferretdb"  # FerretDB keeps every MongoDB database as a schema of this one
# [<namespace>_]alliance_<service>; its one capture group is the service (regex of PostgreSQL's substring)
_SERVICE_SCHEMA = r"^(?:[a-z0-9_]+_)?alliance_(" + "|".join(SERVICES) + ")$"


def store_role(service: str) -> str:
    """A service's store role: the same name as its Kafka principal, with a password of its own."""
    return service_principal(service)


def service_logins(home: Path, service: str) -> dict[str, str]:
    """A service's environment for its two logins: the paths of its own secret files, never the values."""
    principal, role = service_principal(service), store_role(service)
    return {
        "ALLIANCE_KAFKA_USERNAME": principal,
        "ALLIANCE_KAFKA_PASSWORD_FILE": str(secret_file(home, principal)),
        "ALLIANCE_MONGO_USERNAME": role,
        "ALLIANCE_MONGO_PASSWORD_FILE": str(secret_file(home, role, "store")),
        "ALLIANCE_MONGO_AUTH_MECHANISM": "PLAIN",  # FerretDB v1 hands the login to PostgreSQL
    }


def store_roles_sql(home: Path) -> str:
    """Roles of the store (cluster-wide), idempotent: one per service with its own password, a NOLOGIN
    group for what every service may see, and the NOLOGIN role FerretDB uses for anonymous clients."""

    def ensure(role: str, login: bool) -> str:
        kind = "LOGIN" if login else "NOLOGIN"
        return (
            f"SELECT 'CREATE ROLE \"{role}\" {kind}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_roles WHERE rolname = '{role}') \\gexec\n"
        )

    lines = [ensure(STORE_SERVICES_ROLE, False), ensure(STORE_ANONYMOUS, False)]
    lines.append(f'ALTER ROLE "{STORE_ANONYMOUS}" NOLOGIN;\n')
    for service in SERVICES:
        role = store_role(service)
        verifier = scram_verifier(password(home, role, "store"))
        lines += [
            ensure(role, True),
            f"ALTER ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{verifier}';\n",
            f'GRANT "{STORE_SERVICES_ROLE}" TO "{role}";\n',
        ]
    lines.append(
        f"SELECT 'CREATE DATABASE {STORE_DATABASE}' WHERE NOT EXISTS "
        f"(SELECT FROM pg_database WHERE datname = '{STORE_DATABASE}') \\gexec\n"
    )
    return "".join(lines)


def store_database_sql() -> str:
    """Inside FerretDB's database, idempotent: who may connect and create, and the guard.

    Each service creates its own database (a schema) and so owns it; no other service role has any
    right on its tables. FerretDB v1 loads its catalogue of every database once, as whichever client
    comes first, so every service role may read the catalogue tables (``_ferretdb_database_metadata``:
    collection and table names, no documents): otherwise the first client's view would hide the other
    databases from FerretDB. An event trigger grants that on each new database, and refuses a
    service role a database that is not its own (``[<namespace>_]alliance_<service>``). Databases made
    by an older stack (owned by the superuser) are given to their service once.
    """
    services = STORE_SERVICES_ROLE
    return f"""
REVOKE ALL ON DATABASE {STORE_DATABASE} FROM PUBLIC;
GRANT CONNECT, CREATE ON DATABASE {STORE_DATABASE} TO "{services}";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE OR REPLACE FUNCTION alliance_store_guard() RETURNS event_trigger LANGUAGE plpgsql AS $guard$
DECLARE
  c record;
  service text;
  creator_is_superuser boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
  table_name text;
  table_owner text;
  schema_owner text;
BEGIN
  FOR c IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF c.command_tag = 'CREATE SCHEMA' THEN
      service := substring(c.object_identity from '{_SERVICE_SCHEMA}');
      IF creator_is_superuser THEN
        IF service IS NOT NULL THEN  -- a service's database made by the superuser is still the service's
          EXECUTE format('ALTER SCHEMA %I OWNER TO %I', c.object_identity, 'svc-' || replace(service, '_', '-'));
        END IF;
      ELSIF pg_has_role(current_user, '{services}', 'MEMBER')
            AND service IS DISTINCT FROM replace(substr(current_user, 5), '-', '_') THEN
        RAISE EXCEPTION 'store role % may create only its own database, not %', current_user, c.object_identity
          USING ERRCODE = 'insufficient_privilege';
      END IF;
    ELSIF c.command_tag = 'CREATE TABLE' THEN
      SELECT t.relname, pg_get_userbyid(t.relowner), pg_get_userbyid(n.nspowner)
        INTO table_name, table_owner, schema_owner
        FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace WHERE t.oid = c.objid;
      IF creator_is_superuser AND table_owner <> schema_owner THEN  -- e.g. a test writing a service's store
        EXECUTE format('ALTER TABLE %s OWNER TO %I', c.objid::regclass, schema_owner);
      END IF;
      IF table_name = '_ferretdb_database_metadata' THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO "{services}"', c.schema_name);
        EXECUTE format('GRANT SELECT ON %s TO "{services}"', c.objid::regclass);
      END IF;
    END IF;
  END LOOP;
END
$guard$;

SELECT 'CREATE EVENT TRIGGER alliance_store_guard ON ddl_command_end WHEN TAG IN (''CREATE SCHEMA'', ''CREATE TABLE'')
        EXECUTE FUNCTION alliance_store_guard()'
WHERE NOT EXISTS (SELECT FROM pg_event_trigger WHERE evtname = 'alliance_store_guard') \\gexec

DO $migrate$
DECLARE
  s record;
  t record;
  owner text;
BEGIN
  FOR s IN SELECT n.oid, n.nspname, pg_get_userbyid(n.nspowner) AS current FROM pg_namespace n
           WHERE n.nspname ~ '{_SERVICE_SCHEMA}' LOOP
    owner := 'svc-' || replace(substring(s.nspname from '{_SERVICE_SCHEMA}'), '_', '-');
    IF s.current <> owner THEN
      EXECUTE format('ALTER SCHEMA %I OWNER TO %I', s.nspname, owner);
    END IF;
    FOR t IN SELECT c.oid::regclass AS rel FROM pg_class c
             WHERE c.relnamespace = s.oid AND c.relkind IN ('r', 'p') AND pg_get_userbyid(c.relowner) <> owner LOOP
      EXECUTE format('ALTER TABLE %s OWNER TO %I', t.rel, owner);
    END LOOP;
  END LOOP;
  FOR t IN SELECT c.oid::regclass AS rel, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relname = '_ferretdb_database_metadata'
             AND NOT has_table_privilege('{services}', c.oid, 'SELECT') LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO "{services}"', t.nspname);
    EXECUTE format('GRANT SELECT ON %s TO "{services}"', t.rel);
  END LOOP;
END
$migrate$;
"""
