"""Writes ``.env`` for ``docker compose``: every principal's password (generated once, kept in
``.local/compose/kafka/credentials.json``, mode 0600). ``make compose-env`` runs it; both files are
git-ignored."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import security  # noqa: E402 - the same principals as the local stack


def variable(principal: str) -> str:
    return "ALLIANCE_PW_" + principal.upper().replace("-", "_")


def main() -> None:
    passwords = security.credentials(ROOT / ".local" / "compose")
    lines = [f"{variable(p)}={pw}" for p, pw in sorted(passwords.items())]
    lines.append(f"ALLIANCE_KAFKA_CLUSTER_ID={uuid.uuid4().hex[:22]}")
    env = ROOT / ".env"
    env.write_text("\n".join(lines) + "\n")
    os.chmod(env, 0o600)
    print(f"wrote {env} ({len(passwords)} principals)")


if __name__ == "__main__":
    main()
