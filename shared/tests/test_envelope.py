import json
from datetime import UTC, datetime

import pytest

from alliance.contracts.envelope import CloudEvent, EnvelopeError, headers_to_dict, parse_record
from alliance.contracts.markings import TLP, Markings

MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("US", "MX"), originators=("us-cbp",))


def valid_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "ce_id": "evt-1",
        "ce_source": "urn:agency:us-cbp",
        "ce_type": "org.alliance.interdiction.seizure.reported.v1",
        "ce_specversion": "1.0",
        "ce_time": "2026-11-20T21:00:00Z",
        "content-type": "application/json",
        "ce_tlp": "AMBER",
        "ce_releasableto": "US,MX",
        "ce_originator": "us-cbp",
        "ce_orcon": "false",
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v != "<drop>"}


def test_parse_binary_mode_record() -> None:
    event = parse_record(valid_headers(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"), b'{"x": 1}')
    assert event.identity == ("urn:agency:us-cbp", "evt-1")
    assert event.markings == MARKINGS
    assert event.data == {"x": 1}
    assert event.time == datetime(2026, 11, 20, 21, tzinfo=UTC)
    assert event.traceparent is not None


@pytest.mark.parametrize(
    ("overrides", "value", "message"),
    [
        ({"ce_id": "<drop>"}, b"{}", "missing CloudEvents header"),
        ({"ce_type": "seizure"}, b"{}", "not a versioned event type"),
        ({"ce_specversion": "0.3"}, b"{}", "unsupported ce_specversion"),
        ({"content-type": "text/xml"}, b"{}", "content-type must be application/json"),
        ({"ce_time": "yesterday"}, b"{}", "not an RFC 3339"),
        ({"ce_time": "2026-11-20T21:00:00"}, b"{}", "no time zone"),
        ({"ce_tlp": "<drop>"}, b"{}", "missing marking attribute"),
        ({}, b"{not json", "not valid JSON"),
        ({}, b"[1, 2]", "must be a JSON object"),
        ({}, b"", "no data"),
    ],
)
def test_malformed_records_are_refused_with_a_reason(overrides: dict[str, str], value: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        parse_record(valid_headers(**overrides), value)


def test_round_trip_through_kafka_headers() -> None:
    event = CloudEvent(
        id="e1",
        source="urn:alliance:service:x",
        type="org.alliance.x.happened.v1",
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        subject="rec-1",
        markings=MARKINGS,
        data={"a": "é"},
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    )
    value, headers = event.to_kafka()
    assert json.loads(value) == {"a": "é"}
    assert parse_record(headers_to_dict(headers), value) == event


def test_non_utf8_header_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="not UTF-8"):
        headers_to_dict([("ce_id", b"\xff\xfe")])
