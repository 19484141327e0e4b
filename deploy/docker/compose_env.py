"""Writes ``.env`` for ``docker compose`` and the brokers' TLS files. ``make compose-env`` runs it; it is
idempotent (passwords, the cluster id and the CA are generated once and kept).

- every principal's password, one file each under ``.local/compose/secrets`` (the local stack's layout:
  ``kafka/<principal>``, ``store/<role>``; an older ``.local/compose/kafka/credentials.json`` is
  migrated), copied into ``.env`` (mode 0600) as ``ALLIANCE_PW_<PRINCIPAL>`` (Kafka) and
  ``ALLIANCE_STORE_PW_<ROLE>`` (MongoDB: its root user and one user per service);
- a private CA and a certificate for the three brokers (``kafka-1..3``, and ``localhost`` / ``127.0.0.1``
  for clients on this machine) in ``.local/compose/tls``; compose's one-shot ``tls`` step copies them
  into a volume the brokers read (the key readable by the broker's user alone).

Both ``.env`` and ``.local/`` are git-ignored.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import security  # noqa: E402 - the same principals as the local stack

HOME = ROOT / ".local" / "compose"
BROKERS = ["kafka-1", "kafka-2", "kafka-3"]
STORE_ROOT = "alliance-root"  # MongoDB's root user: creates the services' users, nothing else uses it


def variable(principal: str) -> str:
    return "ALLIANCE_PW_" + principal.upper().replace("-", "_")


def store_variable(role: str) -> str:
    return "ALLIANCE_STORE_PW_" + role.upper().replace("-", "_")


def store_roles() -> list[str]:
    return [STORE_ROOT, *(security.store_role(s) for s in security.SERVICES)]


def environment(home: Path = HOME, env: Path = ROOT / ".env") -> dict[str, str]:
    """Every variable ``docker-compose.yml`` asks for, from the per-principal secret files."""
    found = {variable(p): security.password(home, p) for p in security.kafka_principals()}
    found |= {store_variable(r): security.password(home, r, "store") for r in store_roles()}
    found["ALLIANCE_STORE_ROOT_USER"] = STORE_ROOT
    # A broker's storage is formatted with the cluster id once: keep it across runs.
    kept = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line) if env.exists() else {}
    found["ALLIANCE_KAFKA_CLUSTER_ID"] = kept.get("ALLIANCE_KAFKA_CLUSTER_ID") or uuid.uuid4().hex[:22]
    return found


def main() -> None:
    security.make_tls(HOME / "tls", [*BROKERS, "localhost", "127.0.0.1"], ca_name="Alliance compose CA")
    env = ROOT / ".env"
    values = environment(HOME, env)
    partial = env.with_suffix(".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{k}={v}\n" for k, v in sorted(values.items())))
    partial.replace(env)
    print(f"wrote {env} ({len(values)} settings) and the brokers' TLS files in {HOME / 'tls'}")


if __name__ == "__main__":
    main()
