"""The contracts as integrators get them: JSON Schema files in git that are never stale, and an HTML
reference rendered by AsyncAPI's own generator that names every event type and its fields."""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location("contracts", ROOT / "deploy" / "contracts" / "contracts.py")
assert _spec is not None
assert _spec.loader is not None
contracts: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contracts)


def test_the_published_schemas_in_git_are_those_the_services_publish_now() -> None:
    assert contracts.stale() == [], "run `python deploy/contracts/contracts.py publish`"


def test_one_schema_file_per_event_type_and_version_each_the_model_s_own_schema() -> None:
    for service in contracts.SERVICES:
        folder = contracts.DOCS / service / "schemas"
        files = {p.name.removesuffix(".json"): json.loads(p.read_text()) for p in folder.glob("*.json")}
        expected = {**contracts.received(service), **contracts.published(service)}
        assert set(expected) <= set(files)
        assert all(re.fullmatch(r".+\.v\d+", event_type) for event_type in files)
        for event_type, schema in expected.items():
            assert files[event_type] == schema, event_type
        document = json.loads((contracts.DOCS / service / "asyncapi.json").read_text())
        assert {m["name"] for m in document["components"]["messages"].values()} == set(files)


def test_a_stale_or_left_over_file_is_reported_and_publish_repairs_it(tmp_path: Path) -> None:
    contracts.publish(tmp_path)
    assert contracts.stale(tmp_path) == []
    schema = next((tmp_path / "firearms" / "schemas").glob("*.json"))
    schema.write_text("{}\n")
    (tmp_path / "firearms" / "schemas" / "org.alliance.gone.v1.json").write_text("{}\n")
    (tmp_path / "chemicals" / "asyncapi.json").unlink()
    assert sorted(contracts.stale(tmp_path)) == sorted(
        [
            f"firearms/schemas/{schema.name}: out of date",
            "firearms/schemas/org.alliance.gone.v1.json: no longer published",
            "chemicals/asyncapi.json: missing",
        ]
    )
    contracts.publish(tmp_path)
    assert contracts.stale(tmp_path) == []


def _rendered_text(page: str) -> str:
    """What the page shows without running its scripts (the embedded document does not count)."""
    page = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    page = re.sub(r"<style.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.timeout(1200)
def test_the_html_reference_shows_every_event_type_of_every_service_with_its_fields(tmp_path: Path) -> None:
    index = contracts.html(tmp_path)
    overview = index.read_text()
    for service in contracts.SERVICES:
        document = json.loads((tmp_path / service / "asyncapi.json").read_text())
        page = _rendered_text((tmp_path / service / "index.html").read_text())
        assert document["info"]["title"] in page
        for operation_id in document["operations"]:
            assert operation_id in page
        for key, message in document["components"]["messages"].items():
            assert message["name"] in page, f"{service}: {message['name']}"
            assert f'id="message-{key}"' in (tmp_path / service / "index.html").read_text()
            for field in message["payload"].get("properties", {}):
                assert f'"{field}"' in page, f"{service}: {message['name']}.{field}"
            assert f"{service}/schemas/{message['name']}.json" in overview
            assert (tmp_path / service / "schemas" / f"{message['name']}.json").exists()
