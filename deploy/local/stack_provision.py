"""Provision users, topics and ACLs of the default namespace (used by docker compose's `provision` step)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import security

if __name__ == "__main__":
    home = Path(os.environ.get("ALLIANCE_HOME", ".local")).resolve()
    ca = os.environ.get("ALLIANCE_KAFKA_CA_FILE")  # SASL_SSL when given (compose)
    bootstrap = os.environ.get("ALLIANCE_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    security.provision(home, bootstrap, ca_file=Path(ca) if ca else None)
    print("users, topics and ACLs in place")
