"""Every topic the stack creates has the replication, min.insync.replicas and retention of its class,
as the broker itself describes them (provisioning and the services' own topics alike)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from alliance.contracts.topics import TopicClass, topic_class
from alliance.runtime.settings import Settings
from harness import BOOTSTRAP, STACK_HOME, OtlpReceiver, System, security

pytestmark = pytest.mark.e2e

ONE_OF_EACH = {
    TopicClass.INTAKE: "alliance.interdiction.intake.us-cbp",
    TopicClass.EVENTS: "alliance.interdiction.events",
    TopicClass.DELIVERIES: "alliance.deliveries.mx-semar",
    TopicClass.REPLIES: "alliance.replies.us-cbp",
    TopicClass.DEAD_LETTERS: "alliance.interdiction.deadletter",  # made by the service, not provisioning
    TopicClass.AUDIT: "alliance.audit",
    TopicClass.REGISTRY: "alliance.registry",
    TopicClass.OPERATIONS: "alliance.operations.replays",
}


def admin() -> AdminClient:
    return AdminClient(security.confluent_config(BOOTSTRAP, "admin", security.password(STACK_HOME, "admin")))


def described(client: AdminClient, topics: list[str]) -> dict[str, dict[str, Any]]:
    """Per topic: partitions, replication factor and the configs the broker reports."""
    metadata = client.list_topics(timeout=30).topics
    resources = [ConfigResource(ResourceType.TOPIC, t) for t in topics]
    found: dict[str, dict[str, Any]] = {}
    for resource, future in client.describe_configs(resources, request_timeout=30).items():
        partitions = metadata[resource.name].partitions
        found[resource.name] = {
            "partitions": len(partitions),
            "replication": len(partitions[0].replicas),
            "configs": {name: entry.value for name, entry in future.result(timeout=30).items()},
        }
    return found


@pytest.fixture
def provisioned(stack: None, otlp: OtlpReceiver) -> Iterator[System]:
    system = System(namespace=f"tc{uuid.uuid4().hex[:8]}", otlp=otlp)
    # A topic made before its class was settled (as an older stack did): default retention, 7 days.
    client = admin()
    early = system.topic("alliance.deliveries.mx-semar")
    for future in client.create_topics([NewTopic(early, 3, 1)], request_timeout=30).values():
        future.result(timeout=30)
    try:
        system.start("interdiction")  # provisions the namespace, then makes its own topics
        yield system
    finally:
        system.stop_all()


def test_each_class_of_topic_has_its_replication_durability_and_retention(provisioned: System) -> None:
    settings = Settings()
    topics = {kind: provisioned.topic(name) for kind, name in ONE_OF_EACH.items()}
    assert {topic_class(t) for t in topics.values()} == set(TopicClass)  # one of every class, classified
    found = described(admin(), list(topics.values()))
    for kind, topic in topics.items():
        spec = settings.topic_spec(topic)
        got = found[topic]
        assert (got["partitions"], got["replication"]) == (spec.partitions, spec.replication), kind
        assert {k: got["configs"][k] for k in spec.configs} == spec.configs, kind
    # the promises the docs state for the local stack's defaults
    day = 24 * 3600 * 1000
    retention = {kind: int(found[t]["configs"]["retention.ms"]) for kind, t in topics.items()}
    assert retention[TopicClass.DELIVERIES] >= 30 * day  # the early topic was brought in line too
    assert retention[TopicClass.REPLIES] >= 30 * day
    assert retention[TopicClass.INTAKE] >= 14 * day
    assert retention[TopicClass.EVENTS] >= 14 * day
    assert retention[TopicClass.AUDIT] >= 365 * day
    assert found[topics[TopicClass.REGISTRY]]["configs"]["cleanup.policy"] == "compact"
    assert all(found[t]["configs"]["min.insync.replicas"] == "1" for t in topics.values())  # local: one broker
