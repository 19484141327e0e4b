"""Every fact a domain raises is declared in its service's AsyncAPI document (found by reading the code)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]


def raised_fact_names(package: str) -> set[str]:
    """Names of the classes passed to ``self._raise(...)`` anywhere in the service's package."""
    names: set[str] = set()
    for path in (ROOT / "services" / package / "src" / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "_raise"
                and node.args
                and isinstance(node.args[0], ast.Call)
                and isinstance(node.args[0].func, ast.Name)
            ):
                names.add(node.args[0].func.id)
    return names


@pytest.mark.parametrize("package", SERVICES)
def test_every_raised_fact_is_declared(package: str) -> None:
    spec = importlib.import_module(f"{package}.app").SPEC
    declared = {model.__name__ for models in spec.publishes.values() for model in models}
    raised = raised_fact_names(package)
    assert raised, "the scan found no raised facts: the test would prove nothing"
    assert raised <= declared, f"raised but not declared: {sorted(raised - declared)}"
    if spec.deadlines:
        assert {DeadlineApproaching.__name__, DeadlineBreached.__name__} <= declared
