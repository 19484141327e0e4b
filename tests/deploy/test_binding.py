"""Where /health, /metrics, /asyncapi.json and the console listen: loopback, unless a deployment says
otherwise explicitly (compose and Kubernetes, each with something in front). The running check is in
tests/e2e/test_metrics_hygiene.py (a service started without the setting is not reachable from outside)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alliance.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["interdiction", "firearms", "chemicals", "money-laundering", "extradition"]


def test_the_default_is_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALLIANCE_HTTP_HOST", raising=False)
    assert Settings().http_host == "127.0.0.1"  # services, the lag exporter and the console alike


def test_the_image_does_not_choose_an_address() -> None:
    assert "ALLIANCE_HTTP_HOST=" not in (ROOT / "deploy/docker/Dockerfile").read_text()


def test_compose_listens_inside_its_network_and_publishes_on_loopback_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in [*SERVICES, "consumer-lag"]:
        service = compose["services"][name]
        assert service["environment"]["ALLIANCE_HTTP_HOST"] == "0.0.0.0", name
        for published in service.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), (name, published)
