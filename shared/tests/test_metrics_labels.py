"""Metrics labels come from a closed vocabulary, and consumer lag is measured on one kept connection.

A label value a sender or a record chooses (a made-up ``ce_type``, a deadline kind's date and amount)
would make a new series per value: the number of series must be fixed by the code.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alliance.contracts.markings import TLP, Markings
from alliance.contracts.money_laundering import FinancialReportSubmitted
from alliance.runtime import kafka_admin
from alliance.runtime.kafka_admin import KafkaAdmin
from alliance.runtime.metrics import OTHER, UNREADABLE, ServiceMetrics, measure_consumer_lag
from alliance.runtime.service import ServiceSpec, service_metrics
from alliance.runtime.settings import Settings

SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]


def spec_of(service: str) -> ServiceSpec:
    spec = importlib.import_module(f"{service}.app").SPEC
    assert isinstance(spec, ServiceSpec)
    return spec


def label_values(metrics: ServiceMetrics, sample: str, label: str) -> set[str]:
    text = generate_latest(metrics.registry).decode()
    return {
        s.labels[label]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == sample and label in s.labels
    }


def currency_report_deadline_kind() -> str:
    """The kind money laundering gives a large cash transaction's CTR deadline: it names a date and amount."""
    from money_laundering.domain import CashActivity, FinancialReport

    party = {"kind": "person", "person": {"given_names": "Ana", "surnames": ["Ruiz"]}}
    body: dict[str, Any] = {
        "report_reference": "R-1",
        "report_code": "STR",
        "reporting_entity": "Banco del Norte",
        "reporting_country": "MX",
        "report_date": "2026-11-20",
        "indicators": ["structuring"],
        "subjects": [party],
        "transactions": [
            {"date": "2026-11-10", "amount": 15000, "currency": "USD", "mode": "cash", "from_party": party}
        ],
    }
    markings = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-uif",))
    report = FinancialReport.submit(FinancialReportSubmitted.model_validate(body), "urn:agency:mx-uif", markings)
    [(found, transactions)] = report.cash_by_party().values()
    activity = CashActivity(id=CashActivity.id_for(found), markings=markings, party=found)
    activity.record(report, transactions, markings)
    [deadline] = activity.deadlines
    return deadline.kind


def test_a_deadline_kind_s_date_and_amount_never_become_a_label() -> None:
    kind = currency_report_deadline_kind()
    assert "15000" in kind  # the record's own figures are in the kind ...
    metrics = service_metrics(spec_of("money_laundering"))
    metrics.escalated(kind, "approaching")
    metrics.escalated(kind, "breached")
    metrics.escalated("made_up_kind:2026-01-01:1.00", "breached")
    # ... but only the kind's name, from the domain's closed set, is a label
    assert label_values(metrics, "alliance_deadline_escalations_total", "kind") == {"currency_report_filing", OTHER}


@pytest.mark.parametrize("service", SERVICES)
def test_every_deadline_kind_label_is_one_its_domain_declares(service: str) -> None:
    spec = spec_of(service)
    assert bool(spec.deadline_kinds) == any(r.deadlines for r in spec.repositories)
    metrics = service_metrics(spec)
    for kind in spec.deadline_kinds:
        metrics.escalated(f"{kind}:qualifier-{kind}", "breached")
    assert label_values(metrics, "alliance_deadline_escalations_total", "kind") == set(spec.deadline_kinds)


@pytest.mark.parametrize("service", SERVICES)
def test_a_refusal_is_labelled_only_with_a_type_the_service_handles(service: str) -> None:
    spec = spec_of(service)
    metrics = service_metrics(spec)
    known = sorted({r.event.EVENT_TYPE for r in spec.routes})
    for n in range(50):  # a sender inventing types makes no new series
        metrics.refused("unknown event type", f"org.alliance.made.up.{n}.v1")
    metrics.refused("data does not match", known[0])
    metrics.refused("invalid envelope: no ce_type", None)
    metrics.refused("a reason nobody foresaw", known[0])
    assert label_values(metrics, "alliance_refusals_total", "event_type") == {OTHER, known[0], UNREADABLE}
    assert label_values(metrics, "alliance_dead_letters_total", "reason") == {
        "unknown event type",
        "data does not match",
        "invalid envelope",
        OTHER,
    }


class FakeAdmin:
    made = 0

    def __init__(self, **_: Any) -> None:
        FakeAdmin.made += 1
        self.fail = False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def describe_topics(self, topics: list[str]) -> list[dict[str, Any]]:
        return [{"topic": t, "error_code": 0, "partitions": [{"partition": 0}]} for t in topics]

    async def list_consumer_group_offsets(self, group: str) -> dict[TopicPartition, Any]:
        if FakeProbe.failing:
            raise ConnectionError("broker gone")
        return {}


class FakeProbe:
    made = 0
    failing = False

    def __init__(self, **_: Any) -> None:
        FakeProbe.made += 1

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 3)


async def test_lag_is_measured_on_one_kept_connection_reopened_only_after_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_admin, "AIOKafkaAdminClient", FakeAdmin)
    monkeypatch.setattr(kafka_admin, "AIOKafkaConsumer", FakeProbe)
    FakeAdmin.made = FakeProbe.made = 0
    metrics = ServiceMetrics("interdiction")
    kafka = KafkaAdmin(Settings())
    groups = {"alliance.interdiction.intake": ["alliance.interdiction.intake.us-cbp"]}
    for _ in range(20):
        await metrics.measure_lag(kafka, groups)
    assert (FakeAdmin.made, FakeProbe.made, kafka.opened) == (1, 1, 2)
    assert label_values(metrics, "alliance_consumer_lag", "topic") == {"alliance.interdiction.intake.us-cbp"}

    FakeProbe.failing = True
    with pytest.raises(ConnectionError):
        await measure_consumer_lag(kafka, groups)
    FakeProbe.failing = False
    for _ in range(5):
        await metrics.measure_lag(kafka, groups)
    assert (FakeAdmin.made, FakeProbe.made) == (2, 2)  # reopened once after the failure, then kept
    await kafka.close()


async def test_a_scrape_never_touches_the_broker_or_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_kafka(**_: Any) -> None:
        raise AssertionError("a scrape opened a Kafka connection")

    monkeypatch.setattr(kafka_admin, "AIOKafkaAdminClient", no_kafka)
    monkeypatch.setattr(kafka_admin, "AIOKafkaConsumer", no_kafka)
    metrics = ServiceMetrics("interdiction")
    metrics.records_at_start({"seizures": 40, "trace_requests": -1})  # -1: the store has no estimate yet
    metrics.stored("seizures", 2)
    for _ in range(10):
        metrics.refresh(outbox_lag=1.5)  # takes no store, no broker: figures kept in memory
    assert label_values(metrics, "alliance_records", "collection") == {"seizures", "trace_requests"}
    assert metrics.records.labels("interdiction", "seizures")._value.get() == 42
    assert metrics.records.labels("interdiction", "trace_requests")._value.get() == 0
    assert metrics.records_stored.labels("interdiction", "seizures")._value.get() == 2
