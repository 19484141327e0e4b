"""``alliance``: the operators' command line (Typer, Rich).

    alliance audit who-saw RECORD_ID              every release decision about one record's facts
    alliance audit received AGENCY [--since D] [--until D] [--format table|csv|json]
                                                  what one agency received (the per-agency export)
    alliance dlq list [--service S]                dead letters: when, where, which event, why
    alliance dlq show EVENT_ID                    one dead letter whole (original headers and value)
    alliance lag                                  records each consumer group has not committed yet

It reads the audit stream as the operators' principal: ``ALLIANCE_KAFKA_USERNAME`` /
``ALLIANCE_KAFKA_PASSWORD``, or on the local stack ``--credentials .local/kafka/credentials.json``.
The audit stream is read from its beginning: an operator's question, not a per-event cost.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from alliance.contracts.disclosure import ReleaseDecided
from alliance.contracts.topics import AUDIT_TOPIC, dead_letter_topic
from alliance.runtime.metrics import consumer_lag
from alliance.runtime.settings import Settings

app = typer.Typer(help="Alliance operators' tools.", no_args_is_help=True)
audit = typer.Typer(help="Who received what, under which rule (the audit stream).", no_args_is_help=True)
dlq = typer.Typer(help="Dead letters: what was refused, and why (operators only).", no_args_is_help=True)
app.add_typer(audit, name="audit")
app.add_typer(dlq, name="dlq")

SERVICES = ("interdiction", "firearms", "chemicals", "money_laundering", "extradition")

Credentials = Annotated[
    Path | None, typer.Option(help="the local stack's credentials file (its 'operator' entry is used)")
]


def settings_for(credentials: Path | None) -> Settings:
    settings = Settings()
    if credentials is None:
        default = Path(".local/kafka/credentials.json")
        credentials = default if default.exists() and not settings.kafka_username else None
    if credentials is not None:
        password = json.loads(credentials.read_text())["operator"]
        settings = settings.model_copy(update={"kafka_username": "operator", "kafka_password": SecretStr(password)})
    return settings


async def read_topics(settings: Settings, topics: list[str]) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topics`` up to their current ends (topics that do not exist are skipped)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **settings.kafka_security())
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if not t.get("error_code")
        for p in t["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None, **settings.kafka_security()
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        if not partitions:
            return records
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


async def read_audit(settings: Settings) -> list[ReleaseDecided]:
    """Every audit record up to the stream's current end."""
    records = await read_topics(settings, [settings.topic(AUDIT_TOPIC)])
    return [ReleaseDecided.model_validate(json.loads(m.value or b"{}")) for m in records]


def rows_for_record(records: list[ReleaseDecided], record_id: str) -> list[dict[str, Any]]:
    return [
        {
            "decided_at": r.decided_at.isoformat(),
            "service": r.service,
            "fact_type": r.fact_type,
            "fact_id": r.fact_id,
            "recipient": d.recipient,
            "decision": "allowed" if d.allowed else "denied",
            "rule": d.rule,
            "registry_version": r.registry_version,
            "markings_digest": r.markings_digest,
        }
        for r in records
        if r.record_id == record_id
        for d in r.decisions
    ]


def rows_for_agency(
    records: list[ReleaseDecided], agency: str, since: date | None, until: date | None
) -> list[dict[str, Any]]:
    start = datetime.combine(since, time.min, UTC) if since else datetime.min.replace(tzinfo=UTC)
    end = datetime.combine(until, time.max, UTC) if until else datetime.max.replace(tzinfo=UTC)
    return [
        {
            "decided_at": r.decided_at.isoformat(),
            "service": r.service,
            "fact_type": r.fact_type,
            "fact_id": r.fact_id,
            "record_id": r.record_id,
            "rule": d.rule,
            "registry_version": r.registry_version,
            "markings_digest": r.markings_digest,
        }
        for r in records
        if start <= r.decided_at <= end
        for d in r.decisions
        if d.recipient == agency and d.allowed
    ]


def show(rows: list[dict[str, Any]], fmt: str, title: str) -> None:
    if fmt == "json":
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["none"])
        writer.writeheader()
        writer.writerows(rows)
    else:
        table = Table(title=title)
        for column in rows[0] if rows else ["none"]:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(v) for v in row.values()))
        Console().print(table)


Format = Annotated[str, typer.Option("--format", help="table, csv or json")]


@audit.command("who-saw")
def who_saw(record_id: str, credentials: Credentials = None, fmt: Format = "table") -> None:
    """Every decision, allowed and denied, about the facts of one record."""
    rows = rows_for_record(asyncio.run(read_audit(settings_for(credentials))), record_id)
    show(rows, fmt, f"release decisions for {record_id}")


@audit.command("received")
def received(
    agency: str,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"])] = None,
    credentials: Credentials = None,
    fmt: Format = "table",
) -> None:
    """What one agency received (allowed deliveries) between two dates: the per-agency export."""
    records = asyncio.run(read_audit(settings_for(credentials)))
    rows = rows_for_agency(records, agency, since.date() if since else None, until.date() if until else None)
    show(rows, fmt, f"facts delivered to {agency}")


def _headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {k: (v or b"").decode("utf-8", "replace") for k, v in record.headers or ()}


def dead_letter_rows(records: list[ConsumerRecord[bytes, bytes]]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        h = _headers(r)
        rows.append(
            {
                "at": h.get("alliance_dlq_time", ""),
                "service": h.get("alliance_dlq_service", ""),
                "topic": h.get("alliance_dlq_topic", ""),
                "event_id": h.get("ce_id", ""),
                "event_type": h.get("ce_type", ""),
                "reason": h.get("alliance_dlq_reason", "")[:300],
                "letter": f"{r.topic}:{r.partition}:{r.offset}",
            }
        )
    return rows


def dead_letter_topics(settings: Settings, service: str | None) -> list[str]:
    return [settings.topic(dead_letter_topic(s)) for s in SERVICES if service in (None, s)]


@dlq.command("list")
def dlq_list(
    service: Annotated[str | None, typer.Option(help="one service's dead letters")] = None,
    credentials: Credentials = None,
    fmt: Format = "table",
) -> None:
    """Every dead letter kept (14 days): when, which service and intake topic, the event, the reason."""
    settings = settings_for(credentials)
    rows = dead_letter_rows(asyncio.run(read_topics(settings, dead_letter_topics(settings, service))))
    show(rows, fmt, "dead letters")


@dlq.command("show")
def dlq_show(event_id: str, credentials: Credentials = None) -> None:
    """One dead letter whole: its reason, its original headers and value (it may hold personal data)."""
    settings = settings_for(credentials)
    for r in asyncio.run(read_topics(settings, dead_letter_topics(settings, None))):
        if _headers(r).get("ce_id") == event_id:
            value = (r.value or b"").decode("utf-8", "replace")
            json.dump({"headers": _headers(r), "value": value}, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
    raise typer.Exit(code=1)


@app.command("lag")
def lag(credentials: Credentials = None, fmt: Format = "table") -> None:
    """Records each consumer group has not committed yet, per topic."""
    found = asyncio.run(consumer_lag(settings_for(credentials)))
    rows = [{"group": g, "topic": t, "lag": n} for (g, t), n in sorted(found.items())]
    show(rows, fmt, "consumer lag")


def main() -> None:
    app()
