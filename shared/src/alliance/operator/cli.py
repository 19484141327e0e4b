"""``alliance``: the operators' command line (Typer, Rich).

    alliance audit who-saw RECORD_ID              every release decision about one record's facts
    alliance audit received AGENCY [--since D] [--until D] [--format table|csv|json]
                                                  what one agency received (the per-agency export)
    alliance dlq list [--service S]                dead letters: when, where, which event, why
    alliance dlq show EVENT_ID                    one dead letter whole (original headers and value)
    alliance dlq replay EVENT_ID                  put a dead letter back on its intake after a fix, once
    alliance dlq replays                          who replayed which dead letter, when
    alliance trace TRACE_ID                       one flow across services, as a timeline
    alliance case RECORD_ID                       every flow that touched one record
    alliance lag                                  records each consumer group has not committed yet
    alliance registry show                        the registry as the services fold it, and each change's fate
    alliance registry register ENTRY.json [--replaces N]
                                                  an agency's entry as the next version (compare-and-set),
                                                  once its topics exist; says whether it applied
    alliance registry export > FILE / restore FILE  the applied changes, to write back after a lost topic
    alliance stack up|down|status                 the local stack (a repository checkout's deploy/local)

Flows come from the trace backend (``ALLIANCE_TRACE_QUERY_URL``, the local Jaeger by default).
It reads the streams as the operators' principal: ``ALLIANCE_KAFKA_USERNAME`` /
``ALLIANCE_KAFKA_PASSWORD`` (or ``ALLIANCE_KAFKA_PASSWORD_FILE``); on the local stack it reads the
operator's own secret, ``.local/secrets/kafka/operator`` (``--password-file`` names another file). It never
reads another principal's secret.
The audit stream is read from its beginning: an operator's question, not a per-event cost.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress as RichProgress
from rich.table import Table

from alliance.contracts.disclosure import ReleaseDecided
from alliance.contracts.registry import Agency
from alliance.contracts.topics import AUDIT_TOPIC
from alliance.operator.flows import Flow, TraceBackend, TraceBackendError
from alliance.operator.lag import consumer_lag
from alliance.operator.operations import (
    RegistryRefused,
    ReplayRefused,
    dead_letter_rows,
    dead_letter_topics,
    export_registry,
    headers_of,
    outcome_rows,
    read_topics,
    register,
    registry_outcomes,
    replay,
    replays,
    restore_registry,
)
from alliance.runtime.settings import Settings, read_secret

Progress = Callable[[int, int], None]

app = typer.Typer(help="Alliance operators' tools.", no_args_is_help=True)
audit = typer.Typer(help="Who received what, under which rule (the audit stream).", no_args_is_help=True)
dlq = typer.Typer(help="Dead letters: what was refused, and why (operators only).", no_args_is_help=True)
app.add_typer(audit, name="audit")
app.add_typer(dlq, name="dlq")
registry = typer.Typer(help="The agency registry: its versions and changes (operators only).", no_args_is_help=True)
app.add_typer(registry, name="registry")
stack = typer.Typer(help="The local stack of a repository checkout (like make up / make down).", no_args_is_help=True)
app.add_typer(stack, name="stack")

Credentials = Annotated[
    Path | None,
    typer.Option("--password-file", help="the operator's secret file (default: the local stack's, if any)"),
]
OPERATOR = "operator"


def settings_for(password_file: Path | None) -> Settings:
    """The operators' principal: from the environment, or its secret file (the local stack's by default)."""
    settings = Settings()
    if password_file is None and not settings.kafka_username:
        default = Path(os.environ.get("ALLIANCE_HOME", ".local")) / "secrets" / "kafka" / OPERATOR
        password_file = default if default.exists() else None
    if password_file is not None:
        password = read_secret(password_file)
        settings = settings.model_copy(update={"kafka_username": OPERATOR, "kafka_password": password})
    return settings


async def read_audit(settings: Settings) -> list[ReleaseDecided]:
    """Every audit record up to the stream's current end."""
    records = await read_topics(settings, [settings.topic(AUDIT_TOPIC)], progress_bar("reading the audit stream"))
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


@dlq.command("list")
def dlq_list(
    service: Annotated[str | None, typer.Option(help="one service's dead letters")] = None,
    credentials: Credentials = None,
    fmt: Format = "table",
) -> None:
    """Every dead letter kept (14 days): when, which service and intake topic, the event, the reason."""
    settings = settings_for(credentials)
    letters = read_topics(settings, dead_letter_topics(settings, service), progress_bar("reading dead letters"))
    rows = dead_letter_rows(asyncio.run(letters))
    show(rows, fmt, "dead letters")


@dlq.command("show")
def dlq_show(event_id: str, credentials: Credentials = None) -> None:
    """One dead letter whole: its reason, its original headers and value (it may hold personal data)."""
    settings = settings_for(credentials)
    for r in asyncio.run(read_topics(settings, dead_letter_topics(settings), progress_bar("reading dead letters"))):
        if headers_of(r).get("ce_id") == event_id:
            value = (r.value or b"").decode("utf-8", "replace")
            json.dump({"headers": headers_of(r), "value": value}, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return
    raise typer.Exit(code=1)


@dlq.command("replay")
def dlq_replay(event_id: str, credentials: Credentials = None, fmt: Format = "table") -> None:
    """Put the dead letter of EVENT_ID back on the intake topic it came from (original key, value and
    headers), once, after its cause was fixed; who replayed it is recorded on the replays stream."""
    try:
        done = asyncio.run(replay(settings_for(credentials), event_id))
    except ReplayRefused as exc:
        Console(stderr=True).print(f"[red]not replayed:[/red] {exc}")
        raise typer.Exit(code=1) from exc
    show([done.to_data()], fmt, "replayed")


@dlq.command("replays")
def dlq_replays(credentials: Credentials = None, fmt: Format = "table") -> None:
    """Every replay: which dead letter, to where, by whom, when."""
    show([r.to_data() for r in asyncio.run(replays(settings_for(credentials)))], fmt, "dead-letter replays")


def flow_rows(flow: Flow) -> list[dict[str, Any]]:
    return [
        {
            "at": s.at.isoformat(timespec="milliseconds"),
            "+ms": round(s.offset_ms, 1),
            "service": s.service,
            "step": s.step,
            "event_type": s.event_type,
            "event_id": s.event_id,
            "record_id": s.record_id,
            "markings": s.markings,
        }
        for s in flow.steps
    ]


def show_flows(flows: list[Flow], fmt: str) -> None:
    if fmt == "json":
        doc = [
            {
                "trace_id": f.trace_id,
                "services": f.services,
                "roots": f.roots,
                "outside_parents": f.missing_parents,
                "steps": flow_rows(f),
            }
            for f in flows
        ]
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    for f in flows:
        show(flow_rows(f), fmt, f"trace {f.trace_id}: {' → '.join(f.services)} ({f.span_count} spans)")


TraceUrl = Annotated[str | None, typer.Option("--traces", help="the trace backend's query URL")]


def trace_backend(url: str | None) -> TraceBackend:
    return TraceBackend(url or Settings().trace_query_url)


def print_flows(found: Coroutine[Any, Any, list[Flow]], fmt: str, none: str) -> None:
    """Flows from the trace backend, or why there are none (exit 2: no backend; 1: nothing found)."""
    try:
        flows = asyncio.run(found)
    except TraceBackendError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from exc
    if not flows:
        Console(stderr=True).print(none)
        raise typer.Exit(code=1)
    show_flows(flows, fmt)


async def _one_flow(backend: TraceBackend, trace_id: str) -> list[Flow]:
    found = await backend.flow(trace_id)
    return [found] if found else []


@app.command("trace")
def trace_command(trace_id: str, traces: TraceUrl = None, fmt: Format = "table") -> None:
    """One flow: every event published, handled or refused in one trace, by service, in time order."""
    print_flows(_one_flow(trace_backend(traces), trace_id), fmt, f"no trace {trace_id} in the trace backend")


@app.command("case")
def case_command(record_id: str, traces: TraceUrl = None, fmt: Format = "table") -> None:
    """Every flow that touched one record (a seizure, a trace request, a case…), oldest first."""
    print_flows(trace_backend(traces).case(record_id), fmt, f"no flow names record {record_id} in the trace backend")


@app.command("lag")
def lag(credentials: Credentials = None, fmt: Format = "table") -> None:
    """Records each consumer group has not committed yet, per topic."""
    found = asyncio.run(consumer_lag(settings_for(credentials)))
    rows = [{"group": g, "topic": t, "lag": n} for (g, t), n in sorted(found.items())]
    show(rows, fmt, "consumer lag")


@registry.command("show")
def registry_show(credentials: Credentials = None, fmt: Format = "table") -> None:
    """Every change on the registry topic: applied or refused (and why), and the version it makes."""
    current, outcomes = asyncio.run(registry_outcomes(settings_for(credentials)))
    show(outcome_rows(outcomes), fmt, f"registry version {current.version}, {len(current.agencies)} agencies")


def refused(exc: Exception, fmt: str) -> typer.Exit:
    """A refusal: said on stderr (and as JSON on stdout with --format json), exit code 1."""
    Console(stderr=True).print(f"[red]refused:[/red] {exc}")
    if fmt == "json":
        json.dump({"outcome": "refused", "reason": str(exc)}, sys.stdout)
        sys.stdout.write("\n")
    return typer.Exit(code=1)


@registry.command("register")
def registry_register(
    entry: Annotated[Path, typer.Argument(help="the agency's whole entry (JSON, as in agencies.json)")],
    replaces: Annotated[int | None, typer.Option(help="the version you read (default: the current one)")] = None,
    credentials: Credentials = None,
    fmt: Format = "table",
) -> None:
    """Make ENTRY the next registry version. Provision the agency first: refused while any of its
    topics is missing, or when the registry moved past the version you read."""
    agency = Agency.model_validate_json(entry.read_text())
    try:
        done = asyncio.run(register(settings_for(credentials), agency, replaces))
    except RegistryRefused as exc:
        raise refused(exc, fmt) from exc
    show([done], fmt, "registry changed")


@registry.command("export")
def registry_export(credentials: Credentials = None, fmt: Format = "json") -> None:
    """The applied changes, in order (JSON): keep it with the backups, to restore a lost registry topic."""
    exported = asyncio.run(export_registry(settings_for(credentials)))
    if fmt == "json":
        json.dump(exported, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        rows = [{"change_id": e["change_id"], **e["change"], "agency": e["change"]["agency"]["id"]} for e in exported]
        show(rows, fmt, "applied registry changes")


@registry.command("restore")
def registry_restore(
    exported: Annotated[Path, typer.Argument(help="the output of `alliance registry export`")],
    credentials: Credentials = None,
    fmt: Format = "table",
) -> None:
    """Write the exported changes back into a registry topic that lost them (deleted or emptied)."""
    try:
        done = asyncio.run(restore_registry(settings_for(credentials), json.loads(exported.read_text())))
    except RegistryRefused as exc:
        raise refused(exc, fmt) from exc
    show([done], fmt, "registry restored")


def progress_bar(what: str) -> Progress | None:
    """A Rich progress bar on a terminal's stderr (none when piped: the output stays clean)."""
    if not sys.stderr.isatty():
        return None
    console = Console(stderr=True)
    bar = RichProgress(console=console, transient=True)
    task = bar.add_task(what, total=None)
    bar.start()

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)
        if done >= total:
            bar.stop()

    return advance


def repository_root() -> Path:
    """The checkout whose local stack ``alliance stack`` drives: ``ALLIANCE_ROOT``, or up from here."""
    here = Path(os.environ.get("ALLIANCE_ROOT", Path.cwd())).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "deploy" / "local" / "stack.py").exists():
            return candidate
    raise typer.BadParameter("not inside an Alliance checkout (set ALLIANCE_ROOT)")


@stack.command("up")
def stack_up(services: Annotated[bool, typer.Option(help="also start the five services")] = True) -> None:
    """Start the local stack (installs it the first time): Kafka, the store, the backends, the services."""
    raise typer.Exit(run_stack("up", *(["--services"] if services else [])))


@stack.command("down")
def stack_down() -> None:
    """Stop the services and the local stack (data is kept under .local/)."""
    raise typer.Exit(run_stack("down", "--services"))


@stack.command("status")
def stack_status() -> None:
    """What runs, and whether it answers."""
    raise typer.Exit(run_stack("status"))


def run_stack(*args: str) -> int:
    root = repository_root()
    return subprocess.run([sys.executable, str(root / "deploy" / "local" / "stack.py"), *args], cwd=root).returncode


def main() -> None:
    app()
