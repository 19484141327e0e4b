"""CloudEvents 1.0 envelope in Kafka binary content mode.

The Kafka record value is the event data (JSON); the context attributes travel as ``ce_*`` headers,
the data's media type as ``content-type`` and the W3C trace context as ``traceparent``. Markings are
CloudEvents extension attributes (see :mod:`alliance.contracts.markings`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alliance.contracts.limits import (
    EARLIEST_EVENT_TIME,
    MAX_CLOCK_SKEW,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
    bracket_depth,
)
from alliance.contracts.markings import MARKING_ATTRS, RECIPIENTS_ATTR, MarkingError, Markings

SPEC_VERSION = "1.0"
JSON = "application/json"
CE_PREFIX = "ce_"
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+\.v[1-9][0-9]*$")
_REQUIRED = ("id", "source", "type", "specversion")

Headers = Sequence[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A Kafka record is not a valid Alliance CloudEvent; the message says why."""


class CloudEvent(BaseModel):
    """One event: CloudEvents context attributes, Alliance markings and JSON data."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=500)
    type: str = Field(pattern=EVENT_TYPE_PATTERN.pattern)
    specversion: str = SPEC_VERSION
    time: datetime
    subject: str | None = None
    datacontenttype: str = JSON
    traceparent: str | None = None
    markings: Markings
    data: dict[str, Any]

    @property
    def identity(self) -> tuple[str, str]:
        """Same source and id mean the same event (duplicates are expected on Kafka)."""
        return (self.source, self.id)

    def to_kafka(self) -> tuple[bytes, list[tuple[str, bytes]]]:
        """The record value and headers for Kafka binary mode."""
        attributes: dict[str, str] = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "specversion": self.specversion,
            "time": self.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
        if self.subject is not None:
            attributes["subject"] = self.subject
        attributes.update(self.markings.to_attributes())
        headers = [(CE_PREFIX + name, value.encode()) for name, value in attributes.items()]
        headers.append(("content-type", self.datacontenttype.encode()))
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        # allow_nan=False: NaN/Infinity would be published as invalid JSON; contracts refuse them first.
        value = json.dumps(self.data, separators=(",", ":"), ensure_ascii=False, default=str, allow_nan=False)
        return value.encode(), headers


def headers_to_dict(headers: Iterable[tuple[str, bytes | str | None]] | Mapping[str, Any]) -> dict[str, str]:
    """Decode Kafka headers to text, lower-casing names; refuses non-UTF-8, oversized or repeated ones.

    A repeated ``ce_*`` or ``content-type`` header is refused rather than "last one wins": two
    different ``ce_source`` values in one record would otherwise be read differently by different
    consumers.
    """
    items = list(headers.items() if isinstance(headers, Mapping) else headers)
    if len(items) > MAX_HEADERS:
        raise EnvelopeError(f"record has {len(items)} headers; at most {MAX_HEADERS} are accepted")
    decoded: dict[str, str] = {}
    for raw_name, raw in items:
        name = _text(raw_name, "header name").lower()
        if raw is None:
            continue
        value = _text(raw, f"header {name[:60]!r}")
        if len(name) + len(value) > MAX_HEADER_BYTES:
            raise EnvelopeError(f"header {name[:60]!r} is larger than {MAX_HEADER_BYTES} bytes")
        if name in decoded and (name.startswith(CE_PREFIX) or name == "content-type") and decoded[name] != value:
            raise EnvelopeError(f"header {name!r} is repeated with different values")
        decoded[name] = value
    return decoded


def _text(raw: bytes | str | object, what: str) -> str:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeError(f"{what} is not UTF-8 text") from None
    else:
        text = str(raw)
    if any(ord(c) < 0x20 and c not in "\t" for c in text):
        raise EnvelopeError(f"{what} contains control characters")
    return text


def _reject_constant(name: str) -> Any:
    raise EnvelopeError(f"data contains {name}, which is not a JSON number (RFC 8259)")


def parse_record(headers: Mapping[str, str], value: bytes | None) -> CloudEvent:
    """Parse a Kafka record in binary mode, raising :class:`EnvelopeError` with the reason."""
    attributes = {k[len(CE_PREFIX) :]: v for k, v in headers.items() if k.startswith(CE_PREFIX)}
    missing = [f"ce_{name}" for name in _REQUIRED if not attributes.get(name)]
    if missing:
        raise EnvelopeError("missing CloudEvents header(s): " + ", ".join(missing))
    if attributes["specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported ce_specversion {attributes['specversion']!r} (expected 1.0)")
    if not EVENT_TYPE_PATTERN.match(attributes["type"]):
        raise EnvelopeError(f"ce_type {attributes['type']!r} is not a versioned event type (e.g. org.alliance.x.y.v1)")
    if "content-type" not in headers:
        raise EnvelopeError(f"missing content-type header (must be {JSON})")
    content_type = headers["content-type"].split(";")[0].strip().lower()
    if content_type != JSON:
        raise EnvelopeError(f"content-type must be {JSON}, got {content_type[:100]!r}")
    try:
        markings = Markings.from_attributes(
            {k: v for k, v in attributes.items() if k in (*MARKING_ATTRS, RECIPIENTS_ATTR)}
        )
    except MarkingError as exc:
        raise EnvelopeError(str(exc)) from exc
    time_text = attributes.get("time")
    try:
        time = datetime.fromisoformat(time_text) if time_text else datetime.now(UTC)
    except ValueError:
        raise EnvelopeError(f"ce_time {(time_text or '')[:60]!r} is not an RFC 3339 timestamp") from None
    if time.tzinfo is None:
        raise EnvelopeError(f"ce_time {(time_text or '')[:60]!r} has no time zone")
    if time > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise EnvelopeError(f"ce_time {(time_text or '')[:60]!r} is in the future")
    if time < EARLIEST_EVENT_TIME:
        raise EnvelopeError(f"ce_time {(time_text or '')[:60]!r} is before {EARLIEST_EVENT_TIME.year}")
    if value is None:
        raise EnvelopeError("record has no value (a tombstone); an event needs data")
    if not value:
        raise EnvelopeError("record has no data (empty value)")
    if len(value) > MAX_RECORD_BYTES:
        raise EnvelopeError(f"data is {len(value)} bytes; at most {MAX_RECORD_BYTES} are accepted")
    if bracket_depth(value) > MAX_JSON_DEPTH:
        raise EnvelopeError(f"data nests objects/arrays deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(value, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"data is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:  # bracket_depth makes this unreachable; kept as a second line
        raise EnvelopeError(f"data nests objects/arrays deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise EnvelopeError(f"data must be a JSON object, got {type(data).__name__}")
    try:
        return CloudEvent(
            id=attributes["id"],
            source=attributes["source"],
            type=attributes["type"],
            time=time,
            subject=attributes.get("subject"),
            datacontenttype=content_type,
            traceparent=headers.get("traceparent"),
            markings=markings,
            data=data,
        )
    except ValueError as exc:
        raise EnvelopeError(f"invalid CloudEvents attributes: {str(exc)[:500]}") from None
