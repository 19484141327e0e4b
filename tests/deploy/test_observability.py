"""docker compose's observability: Jaeger, VictoriaMetrics scraping the five services, Grafana with its
data sources and dashboards provisioned -- and dashboards built only on metrics the services export.

No Docker here: the compose file and the provisioning are checked as data. The metrics the services
export are read from the services themselves: each one is assembled in a separate process (no broker
or store is contacted), every labelled metric of its registry is given one child so that it renders,
and ``/metrics``' text (``generate_latest``) is parsed back into sample names and their labels.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]
SCRAPER_LABELS = {"job", "instance"}  # added by the scraper to every sample
SCRAPER_METRICS = {"up": {"job", "instance"}}  # written by the scraper for each target

_EXPORTED = """
import importlib, json, sys
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from alliance.runtime.service import Service

exported = {}
for name in sys.argv[1:]:
    service = Service.assemble(importlib.import_module(f"{name}.app").SPEC)
    registry = service.metrics.registry
    for collector in list(registry._collector_to_names):
        labels = getattr(collector, "_labelnames", ())
        if labels:
            collector.labels(*["x"] * len(labels))
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            exported.setdefault(sample.name, set()).update(sample.labels)
print(json.dumps({k: sorted(v) for k, v in exported.items()}))
"""


@pytest.fixture(scope="module")
def exported() -> dict[str, set[str]]:
    """Sample name → label names, as the five services render them at /metrics."""
    env = {k: v for k, v in os.environ.items() if k != "ALLIANCE_OTLP_ENDPOINT"}
    done = subprocess.run(
        [sys.executable, "-c", _EXPORTED, *SERVICES], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    names = {k: set(v) for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}
    assert "alliance_dead_letters_total" in names
    assert "faststream_received_messages_total" in names
    return names


# -- PromQL, as far as dashboards use it -----------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def promql(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """The metric names of an expression with the labels each selector matches on, and the grouping labels."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # strings (may hold $variables, regexes)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors ([$__rate_interval], [5m])
    grouping = {label.strip() for labels in _GROUPING.findall(expr) for label in labels.split(",") if label.strip()}
    expr = _GROUPING.sub(" ", expr)
    metrics: dict[str, set[str]] = {}
    for match in re.finditer(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        labels = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", match.group(2)))
        metrics.setdefault(match.group(1), set()).update(labels)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][\w:]*", expr):
        is_function = expr[match.end() :].lstrip().startswith("(")
        if not is_function and match.group().lower() not in _KEYWORDS:
            metrics.setdefault(match.group(), set())
    return metrics, grouping


def test_the_promql_reader_finds_metrics_and_labels() -> None:
    metrics, grouping = promql(
        'histogram_quantile(0.95, sum by (app_name, le) (rate(a_bucket{app_name=~"$service", x!="y"}[$__rate_interval]'
        "))) / on (job) b + max(c) > bool 2"
    )
    assert metrics == {"a_bucket": {"app_name", "x"}, "b": set(), "c": set()}
    assert grouping == {"app_name", "le", "job"}


# -- the dashboards ----------------------------------------------------------------------------------


def dashboards() -> dict[Path, dict[str, Any]]:
    files = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert files, "no dashboards in deploy/grafana/dashboards"
    return {path: json.loads(path.read_text()) for path in files}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return found


def expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(dashboard) for t in p.get("targets", []) if "expr" in t]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        found = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query or "")
        if found:  # label_values(<selector>, <label>): the selector must have the label
            exprs.append(f"sum by ({found.group(2)}) ({found.group(1)})")
        elif query:
            exprs.append(re.sub(r"^query_result\((.*)\)$", r"\1", query))
    return exprs


def provisioned_datasources() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "alliance.yml").read_text())
    return {d["uid"]: d for d in config["datasources"]}


def test_every_dashboard_is_a_grafana_dashboard_with_queries_on_provisioned_data_sources() -> None:
    sources = provisioned_datasources()
    uids = set()
    for path, dashboard in dashboards().items():
        assert dashboard["title"], path
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dashboard["uid"]), path
        assert isinstance(dashboard["schemaVersion"], int)
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path}: panel ids repeat"
        queried = [p for p in panels(dashboard) if p["type"] not in ("row", "text")]
        assert len(queried) >= 10
        for panel in panels(dashboard):
            assert panel.get("title"), panel
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
            assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        for panel in queried:
            assert panel["targets"], f"{path}: {panel['title']} has no query"
            for target in panel["targets"]:
                source = target.get("datasource") or panel["datasource"]
                assert source["uid"] in sources, f"{panel['title']}: data source {source} is not provisioned"
                assert sources[source["uid"]]["type"] == source["type"]
                assert target["refId"]
                assert target["expr"].strip()
    assert len(uids) == len(dashboards())


def test_every_metric_a_dashboard_queries_is_one_the_services_export(exported: dict[str, set[str]]) -> None:
    known = {**exported, **SCRAPER_METRICS}
    for path, dashboard in dashboards().items():
        for expr in expressions(dashboard):
            metrics, grouping = promql(expr)
            assert metrics, expr
            for name, labels in metrics.items():
                assert name in known, f"{path.name}: {name} is not exported by the services ({expr})"
                assert labels <= known[name] | SCRAPER_LABELS, f"{path.name}: {name} has no {labels - known[name]}"
            available = set().union(*(known[n] for n in metrics)) | SCRAPER_LABELS
            assert grouping <= available, f"{path.name}: no label {grouping - available} in {expr}"


def test_the_overview_shows_what_operators_ask_for(exported: dict[str, set[str]]) -> None:
    overview = next(d for d in dashboards().values() if d["uid"] == "alliance-overview")
    used = {name for expr in expressions(overview) for name in promql(expr)[0]}
    alliance = {name for name in exported if name.startswith("alliance_") and not name.endswith("_created")}
    assert alliance <= used, f"Alliance metrics not on the overview: {alliance - used}"
    assert {
        "faststream_received_messages_total",  # throughput
        "faststream_received_processed_messages_total",  # outcomes, errors
        "faststream_received_processed_messages_exceptions_total",
        "faststream_published_messages_total",
    } <= used


# -- the compose file ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _host_path(volume: str) -> tuple[Path, str]:
    source, target = volume.split(":")[:2]
    return (ROOT / source).resolve(), target


def test_compose_runs_jaeger_victoriametrics_and_grafana_pinned(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["jaeger"]["image"] == "jaegertracing/jaeger:2.13.0"
    ports = {p.rsplit(":", 1)[-1] for p in services["jaeger"]["ports"]}
    assert {"16686", "4317", "4318"} <= ports
    assert services["victoriametrics"]["image"] == "victoriametrics/victoria-metrics:v1.151.0"
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", services["grafana"]["image"])
    for name in ("jaeger", "victoriametrics", "grafana"):
        for port in services[name]["ports"]:
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
    for name in SERVICES:  # the services' traces go to the compose Jaeger
        env = services[name.replace("_", "-")]["environment"]
        assert env["ALLIANCE_OTLP_ENDPOINT"] == "http://jaeger:4318"
    # the existing security is kept: every password comes from .env (make compose-env)
    assert "${ALLIANCE_PW_ADMIN:?" in services["kafka-1"]["environment"]["KAFKA_ADMIN_PASSWORD"]
    grafana = services["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert grafana["GF_AUTH_DISABLE_LOGIN_FORM"] == "true"
    assert grafana["GF_AUTH_BASIC_ENABLED"] == "false"
    assert grafana["GF_USERS_VIEWERS_CAN_EDIT"] == "true"  # viewers may use Explore, never save


def test_the_metrics_backend_scrapes_all_five_services_by_their_compose_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    vm = services["victoriametrics"]
    flag = next(a for a in vm["command"] if a.startswith("-promscrape.config="))
    config_in_container = Path(flag.split("=", 1)[1])
    mounts = dict(_host_path(v)[::-1] for v in vm["volumes"] if v.startswith("./"))
    config_file = mounts[str(config_in_container.parent)] / config_in_container.name
    assert config_file.is_relative_to(ROOT / "deploy")
    scrape = yaml.safe_load(config_file.read_text())
    jobs = {
        job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]] for job in scrape["scrape_configs"]
    }
    assert set(SERVICES) <= set(jobs)
    for name in SERVICES:
        compose_name = name.replace("_", "-")
        build = services[compose_name]["build"]["args"]
        assert build["SERVICE"] == name
        assert jobs[name] == [f"{compose_name}:{build['PORT']}"], name
    # the consumer-lag exporter too: it measures the groups of a service that is down
    exporter = services["consumer-lag"]
    assert exporter["command"][-1] == "alliance.operator.lag_exporter"
    assert exporter["environment"]["ALLIANCE_KAFKA_USERNAME"] == "operator"
    assert jobs["consumer_lag"] == [f"consumer-lag:{exporter['build']['args']['PORT']}"]
    for job, targets in jobs.items():
        for target in targets:
            assert target.split(":")[0] in services, f"{job}: {target} is no compose service"


def test_every_secret_compose_asks_for_is_one_make_compose_env_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "deploy" / "docker"))
    try:
        import compose_env
    finally:
        sys.path.remove(str(ROOT / "deploy" / "docker"))
    written = set(compose_env.environment(tmp_path, tmp_path / ".env"))
    asked = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert "ALLIANCE_PW_OPERATOR" in asked
    assert asked <= written, asked - written
    assert not re.findall(r"\$\{(\w+)(?::-|\})", (ROOT / "docker-compose.yml").read_text()), "a secret with a default"


def test_grafana_s_data_sources_and_dashboards_are_provisioned_from_deploy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    grafana = services["grafana"]
    mounts = {target: source for source, target in (_host_path(v) for v in grafana["volumes"])}
    assert mounts["/etc/grafana/provisioning"] == GRAFANA / "provisioning"
    sources = provisioned_datasources()
    types = {d["type"] for d in sources.values()}
    assert {"prometheus", "jaeger"} <= types
    ports = {"victoriametrics": "8428", "jaeger": "16686"}
    for source in sources.values():
        host, port = re.fullmatch(r"http://([\w-]+):(\d+)/?", source["url"]).groups()  # type: ignore[union-attr]
        assert host in services, f"{source['name']}: {host} is no compose service"
        assert port == ports[host], source["url"]
        assert host in grafana["depends_on"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "alliance.yml").read_text())["providers"]
    for provider in providers:
        assert mounts[provider["options"]["path"]] == GRAFANA / "dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA / "dashboards" / Path(home).name).exists()
    assert Path(home).parent == Path(providers[0]["options"]["path"])
