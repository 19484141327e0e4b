"""Kafka principals, credentials and ACLs of the local stack (SASL/SCRAM-SHA-512, StandardAuthorizer).

One principal per service (``svc-<service>``), per agency system (its registry id), plus ``operator``
(reads every stream, writes the registry) and the super users ``admin`` and ``controller``.
Passwords are generated on first use into ``credentials.json`` under the stack's home (mode 0600,
git-ignored, never printed). :func:`provision` makes one namespace's topics, users and ACLs; it is
idempotent and runs at every ``make up`` and at the start of every test session.

Who may do what (each ``alliance.`` name is prefixed with the namespace, if any):

- ``svc-<s>``: everything on its own topics (``alliance.<s>.``: events, dead letters, agencies'
  intake topics) and consumer groups; read the other services' events; read the registry; write
  deliveries, replies and the audit stream.
- agency ``<a>``: write its own intake topics ``alliance.<domain>.intake.<a>`` for the domains the
  registry lets it send to; read its own ``alliance.deliveries.<a>`` and ``alliance.replies.<a>``;
  nothing else (no events topic, no dead letters, no audit).
- ``operator``: read every ``alliance.`` topic (dead letters and audit included) and describe groups;
  write the intake topics (to replay a dead letter) and the replays record;
  write the registry.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]
SUPER_USERS = ["admin", "controller"]
OPERATOR = "operator"
AUDIT_RETENTION_MS = 400 * 24 * 3600 * 1000  # a year and a month: an annual review of who received what


def service_principal(service: str) -> str:
    return f"svc-{service.replace('_', '-')}"


def agency_ids() -> list[str]:
    from alliance.contracts.registry import baseline_registry

    return [a.id for a in baseline_registry().agencies]


def credentials(home: Path, extra: Iterable[str] = ()) -> dict[str, str]:
    """Every principal's password, generated once and kept (0600) under the stack's home."""
    path = home / "kafka" / "credentials.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = [*SUPER_USERS, OPERATOR, *(service_principal(s) for s in SERVICES), *agency_ids(), *extra]
    missing = [p for p in wanted if p not in known]
    if missing:
        known.update({p: secrets.token_urlsafe(24) for p in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    return known


def confluent_config(bootstrap: str, principal: str, password: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": principal,
        "sasl.password": password,
        "log_level": 3,
    }


def aiokafka_config(principal: str, password: str) -> dict[str, Any]:
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": principal,
        "sasl_plain_password": password,
    }


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
        out += [
            Grant(who, "topic", f"{p}alliance.{service}.", True, ("ALL",)),
            Grant(who, "group", f"{p}alliance.{service}.", True, ("ALL",)),
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
        Grant(OPERATOR, "topic", f"{p}alliance.operations.replays", False, ("WRITE",)),
        Grant(OPERATOR, "group", f"{p}alliance.", True, ("DESCRIBE",)),
        Grant(OPERATOR, "group", f"{p}operator.", True, ("READ", "DESCRIBE")),
    ]
    # Replaying a dead letter puts the agency's own record back on the intake topic it came from
    # (alliance dlq replay); each replay is recorded on alliance.operations.replays.
    out += [Grant(OPERATOR, "topic", f"{p}alliance.{s}.intake.", True, ("WRITE",)) for s in SERVICES]
    return out


def sending_domains() -> dict[str, set[str]]:
    """Each registered agency and the domains whose intake it may write (from its ``sends`` patterns)."""
    from alliance.contracts.registry import baseline_registry

    return {
        a.id: {pattern.split(".")[2] for pattern in a.sends if pattern.startswith("org.alliance.")}
        for a in baseline_registry().agencies
    }


def provision(
    home: Path, bootstrap: str, namespace: str = "", extra_agencies: dict[str, set[str]] | None = None
) -> None:
    """Users, topics and ACLs of one namespace (idempotent)."""
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

    agencies = {**sending_domains(), **(extra_agencies or {})}
    passwords = credentials(home, extra=agencies)
    admin = AdminClient(confluent_config(bootstrap, "admin", passwords["admin"]))

    users = [p for p in passwords if p != "controller"]
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192)
    upserts = [UserScramCredentialUpsertion(u, info, passwords[u].encode()) for u in users]
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

    p = f"{namespace}." if namespace else ""
    topics = [NewTopic(f"{p}alliance.registry", 1, 1, config={"cleanup.policy": "compact"})]
    topics.append(NewTopic(f"{p}alliance.audit", 3, 1, config={"retention.ms": str(AUDIT_RETENTION_MS)}))
    topics.append(NewTopic(f"{p}alliance.operations.replays", 1, 1, config={"retention.ms": str(AUDIT_RETENTION_MS)}))
    # Every service's events topic exists before any service starts: a service subscribing to another's
    # facts must not need the right to create that topic.
    topics += [NewTopic(f"{p}alliance.{s}.events", 3, 1) for s in SERVICES]
    for agency, domains in agencies.items():
        topics += [NewTopic(f"{p}alliance.{d}.intake.{agency}", 3, 1) for d in domains]
        topics += [NewTopic(f"{p}alliance.deliveries.{agency}", 3, 1), NewTopic(f"{p}alliance.replies.{agency}", 3, 1)]
    for name, future in admin.create_topics(topics, request_timeout=30).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"topic {name}: {exc}") from exc
