"""Kubernetes manifests rendered with kustomize: every service deployable alone, with what it needs."""

from __future__ import annotations

import importlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from alliance.contracts.topics import TopicClass
from alliance.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUSTOMIZE_VERSION = "v5.7.1"
BIN = ROOT / ".local" / "bin"
SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]


def kustomize() -> Path:
    """kustomize from the Go module proxy, built once under .local/bin (pinned)."""
    binary = BIN / f"kustomize-{KUSTOMIZE_VERSION}"
    if not binary.exists():
        BIN.mkdir(parents=True, exist_ok=True)
        build = BIN / "build"
        env = {**os.environ, "GOBIN": str(build), "GOFLAGS": "-mod=mod"}
        subprocess.run(
            ["go", "install", f"sigs.k8s.io/kustomize/kustomize/v5@{KUSTOMIZE_VERSION}"],
            env=env,
            check=True,
            timeout=900,
        )
        (build / "kustomize").rename(binary)
    return binary


def render(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([str(kustomize()), "build", str(path)], capture_output=True, text=True, check=True)
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_renders_alone_with_probes_resources_credentials_and_lag_scaling(service: str) -> None:
    spec = importlib.import_module(f"{service}.app").SPEC
    name = service.replace("_", "-")
    docs = render(K8S / "base" / name)
    assert {d["kind"] for d in docs} == {
        "Deployment",
        "Service",
        "ScaledObject",
        "TriggerAuthentication",
        "NetworkPolicy",
    }

    container = one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith(f"alliance-{name}:")
    assert container["ports"] == [{"name": "http", "containerPort": spec.default_http_port}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert container["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in container["env"]}
    assert env["ALLIANCE_KAFKA_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == f"alliance-kafka-{name}"
    assert env["ALLIANCE_MONGO_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == f"alliance-store-{name}"
    assert not any("PASSWORD" in n and not n.endswith("_FILE") for n in env)  # no password in the environment
    # Each password is a file of the service's own Secret; the CA of Kafka's certificate likewise.
    pod = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    volumes = {v["name"]: v["secret"] for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for variable, secret in (
        ("ALLIANCE_KAFKA_PASSWORD_FILE", f"alliance-kafka-{name}"),
        ("ALLIANCE_MONGO_PASSWORD_FILE", f"alliance-store-{name}"),
        ("ALLIANCE_KAFKA_CA_FILE", "alliance-kafka-ca"),
    ):
        path = env[variable]["value"]
        folder, file = path.rsplit("/", 1)
        volume = volumes[mounts[folder]]
        assert volume["secretName"] == secret, variable
        assert [i["path"] for i in volume["items"]] == [file], variable
        if "PASSWORD" in variable:
            assert volume["defaultMode"] & 0o007 == 0, f"{variable}: readable by others"
    assert pod["securityContext"]["fsGroup"] == container["securityContext"]["runAsUser"]
    assert all(m.get("readOnly") for m in container["volumeMounts"])
    # The image listens on loopback; here the pod's address, for probes and the scraper (explicitly).
    assert {"name": "ALLIANCE_HTTP_HOST", "value": "0.0.0.0"} in container["env"]

    assert one(docs, "Service", name)["spec"]["ports"][0]["port"] == spec.default_http_port
    scaled = one(docs, "ScaledObject", name)["spec"]
    assert scaled["scaleTargetRef"]["name"] == name
    groups = {t["metadata"]["consumerGroup"] for t in scaled["triggers"]}
    assert groups == {f"alliance.{service}.{route.group}" for route in spec.routes}  # every group it reads with
    assert all(t["type"] == "kafka" and t["metadata"]["sasl"] == "scram_sha512" for t in scaled["triggers"])
    assert all(t["metadata"]["tls"] == "enable" for t in scaled["triggers"])
    auth = one(docs, "TriggerAuthentication", f"{name}-kafka")["spec"]["secretTargetRef"]
    assert {(a["parameter"], a["name"]) for a in auth} == {
        ("username", f"alliance-kafka-{name}"),
        ("password", f"alliance-kafka-{name}"),
        ("ca", "alliance-kafka-ca"),
    }


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_each_overlay_deploys_all_five_in_its_namespace_with_the_shared_settings(environment: str) -> None:
    docs = render(K8S / "overlays" / environment)
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    assert deployments == {s.replace("_", "-") for s in SERVICES}
    assert len({d["metadata"]["namespace"] for d in docs}) == 1
    config = one(docs, "ConfigMap", "alliance-config")["data"]
    assert config["ALLIANCE_KAFKA_BOOTSTRAP_SERVERS"].endswith(":9093")  # the brokers' SASL_SSL listener
    # three copies of every topic, a write acknowledged once two hold it
    settings = Settings(**{k.removeprefix("ALLIANCE_").lower(): v for k, v in config.items()})
    for kind in TopicClass:
        assert (settings.replication(kind), settings.min_insync(kind)) == (3, 2), kind


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_metrics_scraper_may_connect_to_a_service(service: str) -> None:
    """/health, /metrics and /asyncapi.json are not for everyone in the cluster: one policy per service
    admits the metrics scraper, on the HTTP port, and nothing else (kubelet probes come from the node,
    which network policies always allow)."""
    name = service.replace("_", "-")
    docs = render(K8S / "base" / name)
    policy = one(docs, "NetworkPolicy", name)["spec"]
    pods = one(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pods.items()
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name  # this service's pods only
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    [source] = rule["from"]
    assert source["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    [scraper] = source["podSelector"]["matchExpressions"]
    assert scraper["key"] == "app.kubernetes.io/name"
    assert set(scraper["values"]) == {"victoriametrics", "vmagent", "prometheus"}
    assert "matchLabels" not in source["podSelector"]  # not widened (nor narrowed) by the service's labels
