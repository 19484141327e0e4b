"""What a service publishes is derived from its domain's contracts, and matches what its domain raises.

The facts raised are found by reading the code: every ``self._raise(Fact(...))`` and
``self._raise(self.fact(Fact, ...))`` in the service's package.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from alliance.domain.deadlines import DeadlineApproaching, DeadlineBreached

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["interdiction", "firearms", "chemicals", "money_laundering", "extradition"]
DEADLINE_FACTS = {DeadlineApproaching.__name__, DeadlineBreached.__name__}


def _raised_class(call: ast.Call, returns: dict[str, str]) -> str | None:
    if isinstance(call.func, ast.Name):
        return returns.get(call.func.id, call.func.id)  # _raise(Fact(...)) or _raise(make_fact(...))
    if isinstance(call.func, ast.Attribute) and call.func.attr == "fact" and call.args:
        first = call.args[0]
        return first.id if isinstance(first, ast.Name) else None  # _raise(self.fact(Fact, ...))
    if isinstance(call.func, ast.Attribute):
        return returns.get(call.func.attr)  # _raise(self._changed(...)): the method's return type
    return None


def raised_fact_names(package: str) -> set[str]:
    trees = [ast.parse(path.read_text()) for path in (ROOT / "services" / package / "src" / package).glob("*.py")]
    # ``report = compile_figures(...); record._raise(report)``: the fact type is the function's return type.
    returns = {
        f.name: f.returns.id
        for tree in trees
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and isinstance(f.returns, ast.Name)
    }
    names: set[str] = set()
    for tree in trees:
        for function in (f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)):
            made = {
                a.targets[0].id: _raised_class(a.value, returns)
                for a in ast.walk(function)
                if isinstance(a, ast.Assign) and isinstance(a.targets[0], ast.Name) and isinstance(a.value, ast.Call)
            }
            # ``def _published(cls, figures: Fact): record._raise(figures)``: the parameter's annotated type.
            made |= {a.arg: a.annotation.id for a in function.args.args if isinstance(a.annotation, ast.Name)}
            for node in ast.walk(function):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "_raise"
                    and node.args
                ):
                    continue
                arg = node.args[0]
                name = _raised_class(arg, returns) if isinstance(arg, ast.Call) else made.get(getattr(arg, "id", ""))
                if name:
                    names.add(name)
    return names


@pytest.mark.parametrize("package", SERVICES)
def test_what_a_domain_raises_is_exactly_what_its_service_publishes(package: str) -> None:
    spec = importlib.import_module(f"{package}.app").SPEC
    declared = {model.__name__ for models in spec.publishes.values() for model in models}
    raised = raised_fact_names(package)
    assert raised, "the scan found no raised facts: the test would prove nothing"
    assert raised <= declared, f"raised but not in the contracts: {sorted(raised - declared)}"
    assert declared - DEADLINE_FACTS <= raised, f"published but never raised: {sorted(declared - raised)}"
    watched = any(r.deadlines for r in spec.repositories)
    assert (declared >= DEADLINE_FACTS) == watched


@pytest.mark.parametrize("package", SERVICES)
def test_every_service_routes_its_intake_and_knows_its_repositories(package: str) -> None:
    spec = importlib.import_module(f"{package}.app").SPEC
    assert spec.routes, "no handler is routed"
    assert len({(r.topic, r.group, r.event.EVENT_TYPE) for r in spec.routes}) == len(spec.routes)
    assert spec.repositories, "the handlers use no repository"
    assert len({r.collection for r in spec.repositories}) == len(spec.repositories)
