"""Settings: secrets read from files, Kafka over TLS, and each topic's settings from its class."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from alliance.contracts.topics import DAY_MS, TOPIC_CLASSES, TopicClass, topic_class
from alliance.runtime.settings import Settings, TopicClassSettings


@pytest.fixture(autouse=True)
def no_alliance_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read only what they set (a developer's ALLIANCE_* environment does not leak in)."""
    import os

    for name in list(os.environ):
        if name.startswith("ALLIANCE_"):
            monkeypatch.delenv(name)


def test_passwords_come_from_files_without_their_final_newline(tmp_path: Path) -> None:
    kafka, store = tmp_path / "kafka", tmp_path / "store"
    kafka.write_text("s3cret-kafka\n")
    store.write_text("s3cret-store")
    settings = Settings(
        kafka_username="svc-firearms",
        kafka_password_file=kafka,
        mongo_username="svc-firearms",
        mongo_password_file=store,
        mongo_auth_mechanism="PLAIN",
    )
    assert settings.kafka_security()["sasl_plain_password"] == "s3cret-kafka"
    assert settings.mongo_auth() == {"username": "svc-firearms", "password": "s3cret-store", "authMechanism": "PLAIN"}
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())


def test_a_password_given_directly_wins_over_a_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("from-file")
    settings = Settings(kafka_username="x", kafka_password="direct", kafka_password_file=tmp_path / "pw")
    assert settings.kafka_security()["sasl_plain_password"] == "direct"


def test_no_store_login_is_sent_unless_a_role_is_configured() -> None:
    assert Settings().mongo_auth() == {}


def test_a_ca_file_means_sasl_ssl_checking_the_broker_against_that_ca(tmp_path: Path) -> None:
    assert Settings(kafka_username="x", kafka_password="y").kafka_security()["security_protocol"] == "SASL_PLAINTEXT"
    ca = Path(__file__).resolve().parent / "data" / "ca.crt"  # a CA certificate (its key was thrown away)
    settings = Settings(kafka_username="x", kafka_password="y", kafka_ca_file=ca)
    found = settings.kafka_security()
    assert found["security_protocol"] == "SASL_SSL"
    context = found["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "Alliance test CA"),),)]
    with pytest.raises(ValidationError, match="SASL_SSL"):
        Settings(kafka_ca_file=ca, kafka_security_protocol="SASL_PLAINTEXT")


def test_every_alliance_topic_has_a_class_with_or_without_a_namespace() -> None:
    expected = {
        "alliance.firearms.intake.us-atf-ntc": TopicClass.INTAKE,
        "alliance.money_laundering.events": TopicClass.EVENTS,
        "alliance.deliveries.mx-semar": TopicClass.DELIVERIES,
        "alliance.replies.us-cbp": TopicClass.REPLIES,
        "alliance.extradition.deadletter": TopicClass.DEAD_LETTERS,
        "alliance.audit": TopicClass.AUDIT,
        "alliance.registry": TopicClass.REGISTRY,
        "alliance.operations.replays": TopicClass.OPERATIONS,
    }
    for topic, kind in expected.items():
        assert topic_class(topic) == kind
        assert topic_class(f"t1a2b3c.{topic}") == kind
        assert topic_class(f"alliance.{topic}") == kind  # a namespace may itself be called "alliance"
    with pytest.raises(ValueError, match="not an Alliance topic"):
        topic_class("alliance.somethingelse")
    with pytest.raises(ValueError, match="not an Alliance topic"):
        topic_class("__consumer_offsets")


def test_topic_specs_follow_the_class_and_the_deployment_s_replication() -> None:
    local = Settings()
    deliveries = local.topic_spec("ns.alliance.deliveries.us-cbp")
    assert (deliveries.partitions, deliveries.replication) == (3, 1)
    assert deliveries.configs == {
        "min.insync.replicas": "1",
        "cleanup.policy": "delete",
        "retention.ms": str(30 * DAY_MS),
    }
    assert local.topic_spec("alliance.registry").configs["cleanup.policy"] == "compact"
    assert local.topic_spec("alliance.registry").partitions == 1
    assert local.topic_spec("alliance.firearms.deadletter").configs["max.message.bytes"] == str(2 * 1024 * 1024)

    production = Settings(
        topic_replication=3,
        topic_min_insync=2,
        topic_classes={TopicClass.DELIVERIES: TopicClassSettings(retention_days=60)},
    )
    for kind in TopicClass:
        assert production.replication(kind) == 3
        assert production.min_insync(kind) == 2
    spec = production.topic_spec("alliance.deliveries.us-cbp")
    assert spec.replication == 3
    assert spec.configs["min.insync.replicas"] == "2"
    assert spec.configs["retention.ms"] == str(60 * DAY_MS)
    assert production.topic_spec("alliance.replies.us-cbp").configs["retention.ms"] == str(30 * DAY_MS)


def test_class_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLIANCE_TOPIC_REPLICATION", "3")
    monkeypatch.setenv("ALLIANCE_TOPIC_MIN_INSYNC", "2")
    monkeypatch.setenv("ALLIANCE_TOPIC_CLASSES", '{"audit": {"replication": 5, "min_insync": 3}}')
    settings = Settings()
    assert settings.topic_spec("alliance.audit").replication == 5
    assert settings.topic_spec("alliance.audit").configs["min.insync.replicas"] == "3"
    assert settings.topic_spec("alliance.registry").replication == 3


def test_a_min_insync_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"min\.insync"):
        Settings(topic_replication=1, topic_min_insync=2)
    with pytest.raises(ValidationError, match="audit"):
        Settings(topic_replication=3, topic_classes={TopicClass.AUDIT: TopicClassSettings(min_insync=4)})


def test_no_class_keeps_records_less_than_an_outage_or_an_absence_lasts() -> None:
    """The stated promises (docs/operations.md): deliveries and replies outlive an agency's month away,
    intake and events a service's two weeks down."""
    days = {kind: d.retention_days for kind, d in TOPIC_CLASSES.items()}
    assert days[TopicClass.DELIVERIES]
    assert days[TopicClass.DELIVERIES] >= 30
    assert days[TopicClass.REPLIES]
    assert days[TopicClass.REPLIES] >= 30
    assert days[TopicClass.INTAKE]
    assert days[TopicClass.INTAKE] >= 14
    assert days[TopicClass.EVENTS]
    assert days[TopicClass.EVENTS] >= 14
    assert days[TopicClass.REGISTRY] is None
    assert TOPIC_CLASSES[TopicClass.REGISTRY].compacted
