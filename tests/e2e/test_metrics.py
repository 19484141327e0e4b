"""Every service serves Prometheus metrics: FastStream's Kafka metrics and Alliance's own."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import Agency, System, operator_cli, wait_drained, wait_outboxes_empty

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"


def scrape(system: System, service: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    port = system.services[service].port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


async def test_metrics_count_what_happened_and_lag_returns_to_zero_once_drained(system: System, agency: Agency) -> None:
    reference = f"MET-{uuid.uuid4().hex[:6]}"
    before = scrape(system, "interdiction")
    seizure = {
        "mode": "land",
        "seized_at": "2026-11-20T10:00:00-06:00",
        "place": {"description": "Laredo", "country": "US"},
        "drugs": [{"drug": "cocaine", "quantity": 1, "unit": "kg"}],
    }
    intake = system.topic("alliance.interdiction.intake")
    await agency.send(intake, {"report_reference": reference, "seizure": seizure}, event_type=REPORTED)
    bad = await agency.send(intake, {"report_reference": reference + "-bad", "seizure": {}}, event_type=REPORTED)
    await wait_drained(system.group("interdiction", "intake"), [intake])
    await wait_outboxes_empty(system, ["interdiction"])

    after = scrape(system, "interdiction")
    refused = "alliance_refusals_total"
    assert total(after, refused, event_type=REPORTED) == total(before, refused, event_type=REPORTED) + 1
    dead = "alliance_dead_letters_total"
    reason = "data does not match"
    assert total(after, dead, reason=reason) == total(before, dead, reason=reason) + 1
    assert total(after, "alliance_records", collection="seizures") >= 1
    assert total(after, "alliance_outbox_lag_seconds") == 0  # nothing left unpublished

    def intake_lag() -> list[float]:
        return [
            v
            for (name, labels), v in scrape(system, "interdiction").items()
            if name == "alliance_consumer_lag" and "intake" in dict(labels)["group"]
        ]

    # Lag is measured in the background (every ALLIANCE_LAG_REFRESH_SECONDS): the next measurement
    # after the drain says zero.
    async with asyncio.timeout(30):
        while not (lag := intake_lag()) or sum(lag) != 0:
            await asyncio.sleep(0.25)  # watching the service's own figures
    received = [v for (name, _), v in after.items() if name.startswith("faststream_received_messages_total")]
    assert received
    assert sum(received) > sum(
        v for (name, _), v in before.items() if name.startswith("faststream_received_messages_total")
    )

    # The operators' CLI sees the same: the dead letter with its reason, and no lag once drained.
    letters = [r for r in operator_cli(system, "dlq", "list", "--format", "json") if r["event_id"] == bad]
    assert len(letters) == 1
    assert letters[0]["service"] == "interdiction"
    assert letters[0]["reason"].startswith("data does not match")
    shown = operator_cli(system, "dlq", "show", bad)
    assert shown["headers"]["ce_id"] == bad
    assert reference + "-bad" in shown["value"]
    lags = operator_cli(system, "lag", "--format", "json")
    intake_lag = [r["lag"] for r in lags if r["group"] == system.group("interdiction", "intake")]
    assert intake_lag
    assert sum(intake_lag) == 0
