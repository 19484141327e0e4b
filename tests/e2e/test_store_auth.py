"""The store authenticates every client and keeps each service to its own database (FerretDB v1 on
PostgreSQL: FerretDB hands each login to PostgreSQL, which checks it with SCRAM-SHA-256)."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from harness import BOOTSTRAP, LOGS, MONGO_PORT, MONGO_URI, STACK_HOME, VENV_BIN, security

pytestmark = pytest.mark.e2e

STORE = f"mongodb://127.0.0.1:{MONGO_PORT}/"


def login(role: str | None, secret: str | None = None) -> MongoClient[dict[str, Any]]:
    """A client as ``role`` (its own secret unless ``secret`` says otherwise), or with no login at all."""
    if role is None:
        return MongoClient(STORE, serverSelectionTimeoutMS=5000)
    secret = secret if secret is not None else security.password(STACK_HOME, role, "store")
    return MongoClient(STORE, serverSelectionTimeoutMS=5000, username=role, password=secret, authMechanism="PLAIN")


def refused(action: Callable[[], Any]) -> str:
    with pytest.raises(OperationFailure) as caught:
        action()
    return str(caught.value)


@pytest.fixture
def databases(stack: None) -> Iterator[dict[str, str]]:
    """Two services' databases of a fresh namespace, each made by its own service role."""
    namespace = f"st{uuid.uuid4().hex[:8]}"
    names = {"interdiction": f"{namespace}_alliance_interdiction", "firearms": f"{namespace}_alliance_firearms"}
    for service, name in names.items():
        with login(security.store_role(service)) as client:
            client[name]["records"].insert_one({"_id": f"{service}-1", "secret": "canary"})
    yield names
    with MongoClient(MONGO_URI) as admin:
        for name in names.values():
            admin.drop_database(name)


def test_a_client_without_a_login_or_with_a_wrong_password_is_refused(databases: dict[str, str]) -> None:
    interdiction = databases["interdiction"]
    with login(None) as anonymous:
        assert "password authentication failed" in refused(lambda: anonymous[interdiction]["records"].find_one())
        refused(lambda: anonymous[interdiction]["records"].insert_one({"_id": "x"}))
    with login("svc-interdiction", "not-the-password") as impostor:
        assert "password authentication failed" in refused(lambda: impostor[interdiction]["records"].find_one())
    with login("svc-interdiction") as owner:  # and the genuine login works
        assert owner[interdiction]["records"].find_one({"_id": "interdiction-1"}) is not None


def test_a_service_reaches_only_its_own_database(databases: dict[str, str]) -> None:
    interdiction, firearms = databases["interdiction"], databases["firearms"]
    namespace = interdiction.removesuffix("_alliance_interdiction")
    with login("svc-firearms") as other:
        assert other[firearms]["records"].find_one({"_id": "firearms-1"}) is not None  # its own
        assert "permission denied" in refused(lambda: other[interdiction]["records"].find_one())
        assert "permission denied" in refused(lambda: other[interdiction]["records"].insert_one({"_id": "forged"}))
        assert "permission denied" in refused(lambda: other[interdiction]["forged"].insert_one({"_id": "forged"}))
        refused(lambda: other[interdiction]["records"].delete_many({}))
        refused(lambda: other.drop_database(interdiction))
        # Nor can it take a database name that is another service's before that service does.
        chemicals = f"{namespace}_alliance_chemicals"
        assert "may create only its own database" in refused(lambda: other[chemicals]["x"].insert_one({"_id": 1}))
    with login("svc-interdiction") as owner:  # nothing was changed by the refused attempts
        assert [d["_id"] for d in owner[interdiction]["records"].find()] == ["interdiction-1"]
        assert owner[interdiction].list_collection_names() == ["records"]


def test_a_service_with_a_wrong_store_password_stops_at_once_and_says_why(tmp_path: Any, stack: None) -> None:
    wrong = tmp_path / "wrong-store-password"
    wrong.write_text("not-the-password\n")
    namespace = f"sp{uuid.uuid4().hex[:8]}"  # it stops before it makes anything of its namespace
    env = {
        **os.environ,
        "ALLIANCE_NAMESPACE": namespace,
        "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "ALLIANCE_KAFKA_USERNAME": "svc-firearms",
        "ALLIANCE_KAFKA_PASSWORD_FILE": str(security.secret_file(STACK_HOME, "svc-firearms")),
        "ALLIANCE_MONGO_URI": STORE,
        "ALLIANCE_MONGO_USERNAME": "svc-firearms",
        "ALLIANCE_MONGO_PASSWORD_FILE": str(wrong),
        "ALLIANCE_MONGO_AUTH_MECHANISM": "PLAIN",
        "ALLIANCE_HTTP_PORT": "0",
    }
    log = LOGS / f"test-{namespace}-wrong-store-password.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([str(VENV_BIN / "alliance-firearms")], env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
    assert code != 0
    text = log.read_text()
    assert "the store refused role 'svc-firearms'" in text
    assert "not-the-password" not in text
    assert security.password(STACK_HOME, "svc-firearms", "store") not in text


def test_a_service_s_database_written_first_by_the_superuser_stays_the_service_s(stack: None) -> None:
    """Tests (and operators) may write a service's store as the superuser, even before the service has
    made its database or a collection: what they create still belongs to the service alone."""
    name = f"sw{uuid.uuid4().hex[:8]}_alliance_firearms"
    try:
        with MongoClient(MONGO_URI) as admin:
            admin[name]["_outbox"].insert_one({"_id": "left-over"})
        with login("svc-firearms") as owner:
            assert owner[name]["_outbox"].find_one({"_id": "left-over"}) is not None
            owner[name]["_outbox"].delete_one({"_id": "left-over"})
            owner[name]["records"].insert_one({"_id": "own"})
        with MongoClient(MONGO_URI) as admin:
            admin[name]["_deadlines"].insert_one({"_id": "due"})  # a new collection in its existing database
        with login("svc-firearms") as owner:
            assert owner[name]["_deadlines"].find_one({"_id": "due"}) is not None
        with login("svc-interdiction") as other:
            assert "permission denied" in refused(lambda: other[name]["_outbox"].find_one())
    finally:
        with MongoClient(MONGO_URI) as admin:
            admin.drop_database(name)
