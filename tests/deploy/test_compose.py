"""docker compose: every Kafka connection on TLS to three brokers with production durability, and a
MongoDB that requires a login, keeps each service to its own database and sits on an internal network.

This machine has no Docker engine: the files are checked as written, not run."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from alliance.contracts.topics import TopicClass
from alliance.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]
BROKERS = ["kafka-1", "kafka-2", "kafka-3"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def properties(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#") and "=" in line
    )


def test_three_brokers_every_listener_on_tls_and_production_durability(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {s for s in services if s.startswith("kafka")} == set(BROKERS)
    assert sorted(services[b]["environment"]["KAFKA_NODE_ID"] for b in BROKERS) == ["1", "2", "3"]
    for broker in BROKERS:
        assert all(p.startswith("127.0.0.1:") for p in services[broker]["ports"])
        assert "tls:/alliance/tls:ro" in services[broker]["volumes"]
        assert services[broker]["depends_on"]["tls"] == {"condition": "service_completed_successfully"}

    config = properties((DOCKER / "kafka" / "server.properties").read_text())
    protocols = dict(item.split(":") for item in config["listener.security.protocol.map"].split(","))
    assert set(protocols.values()) == {"SASL_SSL"}  # brokers, controllers and clients alike
    assert {n.split(":")[0] for n in config["listeners"].split(",")} == set(protocols)
    assert config["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert config["ssl.keystore.type"] == config["ssl.truststore.type"] == "PEM"
    assert config["default.replication.factor"] == "3"
    assert config["min.insync.replicas"] == "2"
    assert config["offsets.topic.replication.factor"] == config["transaction.state.log.replication.factor"] == "3"
    assert config["unclean.leader.election.enable"] == "false"
    # start.sh fills in every placeholder of the config
    start = (DOCKER / "kafka" / "start.sh").read_text()
    assert set(re.findall(r"@(\w+)@", (DOCKER / "kafka" / "server.properties").read_text())) == set(
        re.findall(r"s/@(\w+)@/", start)
    )


def test_every_kafka_client_uses_tls_with_the_compose_ca_and_three_copies_of_each_topic(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    clients = [s.replace("_", "-") for s in SERVICES] + ["consumer-lag", "provision"]
    for name in clients:
        env = services[name]["environment"]
        assert env["ALLIANCE_KAFKA_BOOTSTRAP_SERVERS"] == ",".join(f"{b}:9092" for b in BROKERS), name
        ca = Path(env["ALLIANCE_KAFKA_CA_FILE"])
        assert f"tls:{ca.parent}:ro" in services[name]["volumes"], name
        settings = Settings(**{k.removeprefix("ALLIANCE_").lower(): v for k, v in env.items() if "${" not in v})
        assert settings.kafka_security_protocol == "SASL_SSL", name
        for kind in TopicClass:
            assert (settings.replication(kind), settings.min_insync(kind)) == (3, 2), (name, kind)


def test_mongodb_requires_a_login_and_is_on_the_internal_network_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mongo = services["mongo"]
    assert "ports" not in mongo
    assert mongo["networks"] == ["store"]
    assert compose["networks"]["store"]["internal"] is True
    assert mongo["environment"]["MONGO_INITDB_ROOT_USERNAME"].startswith("${")
    assert mongo["environment"]["MONGO_INITDB_ROOT_PASSWORD"].startswith("${")
    on_store = {name for name, s in services.items() if "store" in s.get("networks", [])}
    assert on_store == {"mongo", *(s.replace("_", "-") for s in SERVICES)}  # nothing else reaches it

    init = (DOCKER / "mongo" / "users.js").read_text()
    assert '"readWrite", db: "alliance_" + service' in init  # its own database, nothing else
    assert set(re.findall(r'"(\w+)"', init.split("];")[0])) == set(SERVICES)
    for service in SERVICES:
        name = service.replace("_", "-")
        env = services[name]["environment"]
        role = f"svc-{name}"
        variable = "ALLIANCE_STORE_PW_" + role.upper().replace("-", "_")
        assert env["ALLIANCE_MONGO_USERNAME"] == role
        assert env["ALLIANCE_MONGO_PASSWORD"] == f"${{{variable}:?run make compose-env first}}"
        assert mongo["environment"][variable] == env["ALLIANCE_MONGO_PASSWORD"]  # the user made with it
        assert "@" not in env["ALLIANCE_MONGO_URI"]  # no credentials in the URI


def test_make_compose_env_keeps_passwords_and_cluster_id_and_writes_the_brokers_tls(tmp_path: Path) -> None:
    sys.path.insert(0, str(DOCKER))
    try:
        import compose_env
    finally:
        sys.path.remove(str(DOCKER))
    env = tmp_path / ".env"
    first = compose_env.environment(tmp_path, env)
    env.write_text("".join(f"{k}={v}\n" for k, v in first.items()))
    assert compose_env.environment(tmp_path, env) == first  # idempotent: nothing regenerated
    assert len(set(first.values())) == len(first)  # every secret its own
    tls = compose_env.security.make_tls(tmp_path / "tls", [*compose_env.BROKERS, "localhost", "127.0.0.1"])
    assert {f"DNS:{b}" for b in BROKERS} <= compose_env.security._alt_names(tls.keystore)
