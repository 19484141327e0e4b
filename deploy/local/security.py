"""Kafka principals, credentials and ACLs of the local stack (SASL/SCRAM-SHA-512, StandardAuthorizer).

One principal per service (``svc-<service>``), per agency system (its registry id), plus ``operator``
(reads every stream, writes the registry) and the super users ``admin`` and ``controller``.
Passwords are generated on first use into ``credentials.json`` under the stack's home (mode 0600,
git-ignored, never printed). :func:`provision` makes one namespace's topics, users and ACLs; it is
idempotent and runs at every ``make up`` and at the start of every test session.

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

    p = f"{namespace}." if namespace else ""
    topics = [NewTopic(f"{p}alliance.registry", 1, 1, config={"cleanup.policy": "compact"})]
    topics.append(NewTopic(f"{p}alliance.audit", 3, 1, config={"retention.ms": str(AUDIT_RETENTION_MS)}))
    for operations in ("replay_requests", "replays"):
        topics.append(
            NewTopic(f"{p}alliance.operations.{operations}", 1, 1, config={"retention.ms": str(AUDIT_RETENTION_MS)})
        )
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
