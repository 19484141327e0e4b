"""Explicit limits on what Alliance accepts and publishes.

Every record an agency (or an attacker) can put on a topic is bounded before it is parsed, and every
fact is bounded before it is stored, so that no input can exhaust memory, overflow the parser's stack
or produce something Kafka will refuse later. The limits are published in each service's AsyncAPI
document (``x-alliance-limits``) so integrators can check before sending.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

# A record's value (the event data, JSON). Kafka's own default ceiling is 1 MiB; intake stays well
# below it so that the dead letter of any accepted-size record (value + reason headers) still fits.
MAX_RECORD_BYTES: Final = 512 * 1024
# Number of headers, and size of one header name or value.
MAX_HEADERS: Final = 64
MAX_HEADER_BYTES: Final = 8 * 1024
# Depth of nested JSON objects and arrays; contracts need less than 10.
MAX_JSON_DEPTH: Final = 32
# A published fact (data plus headers). Facts are refused before they are stored when larger, so the
# outbox never holds an event Kafka cannot take.
MAX_FACT_BYTES: Final = 900 * 1024
# Dead letters keep the original record; their topic accepts records up to this size.
DEAD_LETTER_MAX_BYTES: Final = 2 * 1024 * 1024
# Dead letters hold whole refused records (personal data included): readable by operators only, and
# kept two weeks — long enough to fix a cause and replay, short enough not to become a second archive.
DEAD_LETTER_RETENTION_DAYS = 14
# A rejection lists at most this many field errors, each message cut to MAX_ERROR_CHARS.
MAX_REJECTION_ERRORS: Final = 20
MAX_ERROR_CHARS: Final = 300
MAX_REASON_CHARS: Final = 1000
# An event may say it happened at most this far in the future (clock skew between agencies).
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
EARLIEST_EVENT_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)

# List lengths in intake contracts (used by the contracts' ``max_length``).
MAX_ITEMS_PER_SEIZURE: Final = 500  # drugs, firearms, currency, chemicals lines of one seizure
MAX_PERSONS: Final = 200  # detained persons, subjects, parties of one report
MAX_TRANSACTIONS: Final = 1000  # transactions in one goAML report
MAX_SMALL_LIST: Final = 50  # aliases, documents, charges, indicators, countries…


class LimitExceeded(ValueError):
    """An input or an outcome is larger than Alliance accepts; the message names the limit."""


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def bracket_depth(raw: bytes) -> int:
    """Nesting depth of raw JSON text, measured before parsing (brackets inside strings ignored).

    The parser is recursive: checking first means a 2 KB record of ``[[[[…`` is refused with a reason
    instead of overflowing the stack.
    """
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def limits_document() -> dict[str, Any]:
    """The limits as published in AsyncAPI documents."""
    return {
        "maxRecordBytes": MAX_RECORD_BYTES,
        "maxHeaders": MAX_HEADERS,
        "maxHeaderBytes": MAX_HEADER_BYTES,
        "maxJsonDepth": MAX_JSON_DEPTH,
        "maxFactBytes": MAX_FACT_BYTES,
        "maxRejectionErrors": MAX_REJECTION_ERRORS,
        "maxClockSkewSeconds": int(MAX_CLOCK_SKEW.total_seconds()),
        "numbers": "finite only: NaN and Infinity are refused",
    }
