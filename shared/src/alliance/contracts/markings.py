"""Information-handling markings carried by every event and stored record.

AP9 and AP16 require that information shared between the two governments stays
confidential and is used only as intended. Every event and record therefore carries:

* a TLP 2.0 level,
* the countries it may be released to,
* the originating agencies,
* originator control (no onward sharing without the originator's consent),
* for TLP:AMBER+STRICT and TLP:RED, the named recipients (the originators are always among them).

A derived event must never be less protected than anything it was derived from: use
:func:`strictest` to combine the markings of every input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class TLP(StrEnum):
    """Traffic Light Protocol 2.0 levels, least to most restrictive."""

    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        return _TLP_ORDER.index(self)


_TLP_ORDER = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]

_COUNTRY = re.compile(r"^[A-Z]{2}$")
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
AgencyId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$", description="agency identifier")]

# CloudEvents extension attribute names (lower-case alphanumerics, travel as ce_<name> headers).
TLP_ATTR = "tlp"
RELEASABLE_TO_ATTR = "releasableto"
ORIGINATOR_ATTR = "originator"
ORIGINATOR_CONTROL_ATTR = "orcon"
RECIPIENTS_ATTR = "recipients"  # optional: named recipients of AMBER+STRICT / RED information
MARKING_ATTRS = (TLP_ATTR, RELEASABLE_TO_ATTR, ORIGINATOR_ATTR, ORIGINATOR_CONTROL_ATTR)
NAMED_ONLY = frozenset({"AMBER+STRICT", "RED"})


class MarkingError(ValueError):
    """Markings are missing or malformed."""


class Markings(BaseModel):
    """Handling markings of one event or record."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tlp: TLP
    releasable_to: tuple[CountryCode, ...] = Field(
        description="countries the information may be released to (sorted, unique)"
    )
    originators: tuple[AgencyId, ...] = Field(
        min_length=1, description="agencies that originated the information (sorted, unique)"
    )
    originator_control: bool = False
    recipients: tuple[AgencyId, ...] = Field(
        default=(),
        description="AMBER+STRICT and RED: the only agencies that may receive it (originators included)",
    )

    @field_validator("releasable_to", "originators", "recipients", mode="after")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _empty_releasability_only_for_red(self) -> Self:
        # TLP:RED is for named recipients only, so no releasable country is coherent there; for lower
        # levels an empty list would silently hide information from everyone.
        if not self.releasable_to and self.tlp is not TLP.RED:
            raise ValueError("releasable_to may be empty only for TLP:RED")
        if self.recipients and self.tlp.value not in NAMED_ONLY:
            raise ValueError("named recipients are only for TLP:AMBER+STRICT and TLP:RED")
        return self

    def as_sent(self) -> Markings:
        """The markings of an agency's own event: its originators are among its named recipients.

        Applied at intake only. A derived record's originators may include agencies that a
        restricted input never named, so they are not added there.
        """
        if not self.named_only:
            return self
        return self.model_copy(update={"recipients": tuple(sorted(set(self.recipients) | set(self.originators)))})

    @property
    def named_only(self) -> bool:
        """Only the named recipients may receive it (TLP:AMBER+STRICT, TLP:RED)."""
        return self.tlp.value in NAMED_ONLY

    def is_at_least_as_strict_as(self, other: Markings) -> bool:
        """True when these markings protect at least as much as ``other``."""
        return (
            self.tlp.rank >= other.tlp.rank
            and set(self.releasable_to) <= set(other.releasable_to)
            and set(other.originators) <= set(self.originators)
            and (self.originator_control or not other.originator_control)
            and (not other.named_only or (self.named_only and set(self.recipients) <= set(other.recipients)))
        )

    def releasable_to_country(self, country: str) -> bool:
        return country in self.releasable_to

    # -- CloudEvents extension attributes -------------------------------------------------------

    def to_attributes(self) -> dict[str, str]:
        attributes = {
            TLP_ATTR: self.tlp.value,
            RELEASABLE_TO_ATTR: ",".join(self.releasable_to),
            ORIGINATOR_ATTR: ",".join(self.originators),
            ORIGINATOR_CONTROL_ATTR: "true" if self.originator_control else "false",
        }
        if self.recipients:
            attributes[RECIPIENTS_ATTR] = ",".join(self.recipients)
        return attributes

    @classmethod
    def from_attributes(cls, attributes: Mapping[str, str]) -> Markings:
        missing = [name for name in MARKING_ATTRS if name not in attributes]
        if missing:
            raise MarkingError("missing marking attribute(s): " + ", ".join(f"ce_{name}" for name in missing))
        tlp_text = attributes[TLP_ATTR].strip().upper().removeprefix("TLP:")
        try:
            tlp = TLP(tlp_text)
        except ValueError:
            allowed = ", ".join(level.value for level in TLP)
            raise MarkingError(f"unknown TLP level {attributes[TLP_ATTR]!r} (allowed: {allowed})") from None
        countries = _split(attributes[RELEASABLE_TO_ATTR])
        bad = [c for c in countries if not _COUNTRY.match(c)]
        if bad:
            raise MarkingError(f"releasable-to countries must be ISO alpha-2 codes, got {bad}")
        orcon = attributes[ORIGINATOR_CONTROL_ATTR].strip().lower()
        if orcon not in {"true", "false"}:
            raise MarkingError(f"ce_{ORIGINATOR_CONTROL_ATTR} must be 'true' or 'false', got {orcon!r}")
        try:
            return cls(
                tlp=tlp,
                releasable_to=tuple(countries),
                originators=tuple(o.lower() for o in _split(attributes[ORIGINATOR_ATTR])),
                originator_control=orcon == "true",
                recipients=tuple(r.lower() for r in _split(attributes.get(RECIPIENTS_ATTR, ""))),
            )
        except ValueError as exc:
            raise MarkingError(f"invalid markings: {exc}") from exc


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def strictest(markings: Iterable[Markings]) -> Markings:
    """The markings of information derived from all of ``markings``.

    The highest TLP level, only the countries every input may be released to, every originator,
    and originator control if any input has it; when any input is for named recipients only, only
    the agencies every such input names. Markings never weaken along a flow.
    """
    items = list(markings)
    if not items:
        raise ValueError("strictest() needs at least one set of markings")
    tlp = max((m.tlp for m in items), key=lambda level: level.rank)
    countries = set(items[0].releasable_to)
    for m in items[1:]:
        countries &= set(m.releasable_to)
    if not countries and tlp is not TLP.RED:
        # Inputs with disjoint releasability: nobody may receive the combination except by
        # explicit originator decision, which is what TLP:RED expresses.
        tlp = TLP.RED
    originators = {o for m in items for o in m.originators}
    recipients: set[str] | None = None
    for m in items:
        if m.named_only:
            recipients = set(m.recipients) if recipients is None else recipients & set(m.recipients)
    if recipients is not None and tlp.value not in NAMED_ONLY:
        tlp = TLP.RED  # only named recipients: at least as strict as the input that named them
    return Markings(
        tlp=tlp,
        releasable_to=tuple(countries),
        originators=tuple(originators),
        originator_control=any(m.originator_control for m in items),
        recipients=tuple(recipients or ()),
    )
