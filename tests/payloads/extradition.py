"""Fugitives as a central authority registers them."""

from __future__ import annotations

from datetime import date
from typing import Any

from alliance.contracts.common import Person
from alliance.contracts.extradition import FugitiveRegistered

WANTED = Person(
    given_names="José Luis",
    surnames=["Hernández", "Garza"],
    date_of_birth=date(1988, 3, 14),
    nationality="MX",
    aliases=["El Güero Garza"],
)


def fugitive_registered(reference: str, person: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The data of ``fugitive.registered.v1``: ``person``, wanted by Mexico for organised crime, a priority."""
    body: dict[str, Any] = {
        "fugitive_reference": reference,
        "wanted_by": "MX",
        "person": person,
        "charges": ["delincuencia organizada", "contra la salud"],
        "priority": True,
    }
    return {**body, **fields}


def fugitive_registration(reference: str = "FGR-2026-17", person: Person = WANTED, **fields: Any) -> FugitiveRegistered:
    """:func:`fugitive_registered` as the handlers receive it."""
    return FugitiveRegistered.model_validate(fugitive_registered(reference, person.model_dump(mode="json"), **fields))
