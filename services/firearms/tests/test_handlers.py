"""Firearms handlers over in-memory repositories: no Kafka, no store."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alliance.application.testing import HandlerHarness, registered_sender
from alliance.contracts.firearms import (
    TraceRequestAcknowledged,
    TraceResultReported,
    TraceStatisticsRequested,
)
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.registry import Agency, AgencyKind, AgencyRegistered, baseline_registry
from alliance.domain.errors import DomainRuleViolation, RecordNotYetKnown
from alliance.domain.principals import Sender
from firearms.handlers import ROUTES, FirearmsDeps
from firearms.settings import FirearmsSettings
from firearms.store import ExportLicences, Purchasers, TraceRequests
from payloads.firearms import GLOCK, export_licence, trace_result
from payloads.interdiction import SEIZED_AT, seizure_recorded

GREEN = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-cbp",))
RED = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-atf",))


def harness() -> HandlerHarness[FirearmsDeps]:
    return HandlerHarness(ROUTES, FirearmsDeps, settings=FirearmsSettings())


def seizure(*guns: dict[str, Any], seizure_id: str = "SZ-1", seized_at: str = SEIZED_AT) -> SeizureRecorded:
    return seizure_recorded(seizure_id, seized_at=seized_at, firearms=list(guns))


LICENCE = export_licence()


async def trace_id_of(h: HandlerHarness[FirearmsDeps]) -> str:
    [trace] = await h.repository(TraceRequests).of_guns(["glock|BXR123"])
    return trace.id


async def test_a_seizure_opens_one_trace_request_and_its_redelivery_nothing_more() -> None:
    h = harness()
    facts = await h.send(seizure(GLOCK), markings=GREEN, event_id="e-1", source="urn:alliance:service:interdiction")
    assert [f.type for f in facts] == ["org.alliance.firearms.trace_request.submitted.v1"]
    again = await h.send(seizure(GLOCK), markings=GREEN, event_id="e-1", source="urn:alliance:service:interdiction")
    assert again == []
    assert len(h.records(TraceRequests).heads) == 1


@pytest.mark.parametrize("licence_first", [True, False])
async def test_licensed_export_indicator_whichever_arrives_first(licence_first: bool) -> None:
    h = harness()
    steps = [
        lambda: h.send(LICENCE, markings=GREEN, source="urn:agency:us-ddtc"),
        lambda: h.send(seizure(GLOCK), markings=GREEN),
    ]
    for step in steps if licence_first else reversed(steps):
        await step()
    indicators = [p.event for p in h.published if p.event.type.endswith("trafficking_indicator.raised.v1")]
    assert len(indicators) == 1
    assert indicators[0].data["indicator"] == "licensed_export_recovered"


async def test_a_licence_check_interrupted_after_the_trace_is_stored_is_completed_on_redelivery() -> None:
    h = harness()
    await h.send(LICENCE, markings=GREEN)
    h.records(TraceRequests).fail_after_commits = 1  # the trace is stored, then the process "dies"
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(seizure(GLOCK), markings=GREEN, event_id="s-1")
    await h.send(seizure(GLOCK), markings=GREEN, event_id="s-1")  # the redelivery
    trace = await h.repository(TraceRequests).get(await trace_id_of(h))
    assert trace is not None
    assert len(trace.indicators) == 1  # the check ran on the redelivery, and once


async def test_a_completed_trace_records_its_purchaser_once_even_when_interrupted() -> None:
    h = harness()
    await h.send(seizure(GLOCK), markings=GREEN)
    trace_id = await trace_id_of(h)
    h.records(TraceRequests).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(trace_result(trace_id), markings=GREEN, event_id="r-1")
    await h.send(trace_result(trace_id), markings=GREEN, event_id="r-1")
    await h.send(trace_result(trace_id), markings=GREEN, event_id="r-1")
    [purchaser] = h.records(Purchasers).heads.values()
    assert [p["trace_request_id"] for p in purchaser["purchases"]] == [trace_id]


async def test_a_red_result_makes_the_completed_trace_red() -> None:
    h = harness()
    await h.send(seizure(GLOCK), markings=GREEN)
    facts = await h.send(trace_result(await trace_id_of(h)), markings=RED)
    assert facts
    for fact in facts:
        assert fact.markings.is_at_least_as_strict_as(RED)
        assert fact.markings.is_at_least_as_strict_as(GREEN)


async def test_news_of_an_unknown_trace_request_is_refused_with_a_reason() -> None:
    with pytest.raises(DomainRuleViolation, match="no trace_request TR-nope"):
        await harness().send(TraceRequestAcknowledged(trace_request_id="TR-nope"), markings=GREEN)


async def test_statistics_count_only_guns_recovered_in_the_period() -> None:
    h = harness()
    await h.send(seizure(GLOCK, seizure_id="SZ-1", seized_at="2026-10-31T10:00:00-06:00"), markings=GREEN)
    await h.send(
        seizure({**GLOCK, "serial_number": "X2"}, seizure_id="SZ-2", seized_at="2026-11-01T10:00:00-06:00"),
        markings=GREEN,
    )
    await h.send(
        seizure({**GLOCK, "serial_number": "X3"}, seizure_id="SZ-3", seized_at="2026-12-01T10:00:00-06:00"),
        markings=GREEN,
    )
    ask = TraceStatisticsRequested(period_start=date(2026, 11, 1), period_end=date(2026, 11, 30))
    [report] = await h.send(ask, markings=GREEN)
    assert report.data["trace_requests"] == 1


async def test_a_statistics_period_of_more_than_ten_years_is_refused() -> None:
    ask = TraceStatisticsRequested(period_start=date(2000, 1, 1), period_end=date(2026, 1, 1))
    with pytest.raises(DomainRuleViolation, match="months"):
        await harness().send(ask, markings=GREEN)


# -- sanitised statistics: one release per quarter (AP9) ---------------------------------------------------

AFTER_Q3 = datetime(2026, 12, 1, tzinfo=UTC)  # 2026-Q3 is released sanitised from 2026-10-31
IN_Q3 = "2026-08-14T10:00:00-06:00"
STATISTICS = "org.alliance.firearms.trace_statistics.published.v1"


def seen_only_by(*agencies: str) -> Markings:
    return Markings(tlp=TLP.RED, releasable_to=(), originators=agencies[:1], recipients=agencies)


async def guns(
    h: HandlerHarness[FirearmsDeps], seizure_id: str, *items: dict[str, Any], markings: Markings = GREEN
) -> None:
    await h.send(seizure(*items, seizure_id=seizure_id, seized_at=IN_Q3), markings=markings)


async def ask_sanitised(h: HandlerHarness[FirearmsDeps], markings: Markings = GREEN, **more: Any) -> dict[str, Any]:
    ask = TraceStatisticsRequested.model_validate({"period": "2026-Q3", "sanitised": True, **more})
    [report] = [f for f in await h.send(ask, markings=markings, time=AFTER_Q3) if f.type == STATISTICS]
    assert report.markings == markings  # the request's: nothing counted can be read back from the figures
    return dict(report.data)


async def test_sanitised_statistics_publish_whole_breakdowns_of_enough_seizures_rounded_to_five() -> None:
    h = harness()
    for i in range(6):  # six pistols and a rifle, each a seizure of its own that everyone may see
        await guns(h, f"SZ-{i}", {**GLOCK, "serial_number": f"P{i}"})
    await guns(h, "SZ-9", {**GLOCK, "serial_number": "R1", "firearm_type": "rifle"})
    report = await ask_sanitised(h)
    assert (report["trace_requests"], report["by_status"], report["by_recovery_country"]) == (
        5,
        {"Submitted": 5},
        {"US": 5},
    )
    assert report["by_firearm_type"] == {}  # the single rifle fails, and the breakdown goes whole
    assert report["suppressed"] == ["by_firearm_type", "median_time_to_crime_days"]
    assert (report["period"], report["period_start"], report["period_end"]) == ("2026-Q3", "2026-07-01", "2026-09-30")


def test_sanitised_trace_statistics_of_windows_a_day_apart_are_refused() -> None:
    for start in ("2026-07-01", "2026-07-02"):  # their difference would be what was recovered on 1 July
        with pytest.raises(ValidationError, match="calendar quarters only"):
            TraceStatisticsRequested.model_validate(
                {"period_start": start, "period_end": "2026-09-30", "sanitised": True}
            )
    assert TraceStatisticsRequested.model_validate({"period_start": "2026-07-02", "period_end": "2026-09-30"})


async def test_a_quarter_asked_before_and_after_a_red_seizure_gets_the_same_release() -> None:
    h = harness()
    for i in range(5):
        await guns(h, f"SZ-{i}", {**GLOCK, "serial_number": f"P{i}"})
    before = await ask_sanitised(h)
    await guns(h, "SZ-late", {**GLOCK, "serial_number": "R9", "firearm_type": "rifle"}, markings=seen_only_by("us-cbp"))
    after = await ask_sanitised(h)
    assert after == before  # the quarter's one release: the difference is nothing
    assert (before["trace_requests"], before["by_firearm_type"]) == (5, {"Pistol": 5})
    assert before["release_id"] is not None
    spanish = await ask_sanitised(h, language="es")
    assert (spanish["release_id"], spanish["by_firearm_type"]) == (before["release_id"], {"Pistola": 5})


async def ten_seizures_and_a_red_one(victim: dict[str, Any], result: str | None) -> dict[str, Any]:
    """Ten pistols everyone may see, and one gun that only CBP and the ATF may see, whose trace the ATF answers."""
    h = harness()
    for i in range(10):
        await guns(h, f"SZ-{i}", {**GLOCK, "serial_number": f"P{i}"})
    red = seen_only_by("us-cbp", "us-atf")
    await guns(h, "SZ-red", {**GLOCK, "serial_number": "V1", **victim}, markings=red)
    [trace] = await h.repository(TraceRequests).of_guns(["glock|V1"])
    if result == "completed":
        await h.send(trace_result(trace.id), markings=seen_only_by("us-atf", "us-cbp"))
    elif result == "not_completed":
        failed = TraceResultReported(trace_request_id=trace.id, outcome="not_completed", reason="no record")  # type: ignore[arg-type]
        await h.send(failed, markings=seen_only_by("us-atf", "us-cbp"))
    return await ask_sanitised(h)


async def test_the_total_minus_the_published_parts_tells_nothing_of_a_red_trace() -> None:
    # Before: 11 traces, by status "submitted 10" and by type "pistol 10": the eleventh was a gun that
    # could not be traced, a rifle. Now neither its status, nor its type, nor its time-to-crime shows.
    releases = [
        await ten_seizures_and_a_red_one({"firearm_type": "rifle"}, "not_completed"),
        await ten_seizures_and_a_red_one({"firearm_type": "pistol"}, None),
        await ten_seizures_and_a_red_one({"firearm_type": "revolver"}, "completed"),
    ]
    assert releases[0] == releases[1] == releases[2]
    assert releases[0]["suppressed"] == [
        "trace_requests",
        "short_time_to_crime",
        "by_status",
        "by_firearm_type",
        "by_recovery_country",
        "median_time_to_crime_days",
    ]


async def test_sanitised_trace_statistics_of_a_quarter_still_open_are_refused() -> None:
    ask = TraceStatisticsRequested.model_validate({"period": "2026-Q4", "sanitised": True})
    with pytest.raises(DomainRuleViolation, match="2026-Q4 can be released sanitised from 2027-01-31"):
        await harness().send(ask, markings=GREEN, time=datetime(2026, 12, 2, tzinfo=UTC))


# -- who may act: the authenticated sender, never a data field (AP6) ------------------------------------

NTC = registered_sender("us-atf-ntc")
US_ONLY = Markings(tlp=TLP.AMBER, releasable_to=("US",), originators=("us-cbp",))
SHARED = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-atf-ntc",))


async def test_only_a_tracing_centre_answers_a_trace_request() -> None:
    h = harness()
    await h.send(seizure(GLOCK), markings=GREEN)
    trace_id = await trace_id_of(h)
    with pytest.raises(RecordNotYetKnown) as refused:  # a laboratory: to it, no such trace request
        await h.send(trace_result(trace_id), markings=GREEN, sender=registered_sender("us-atf-lab"))
    assert refused.value.public == f"no trace_request {trace_id}"
    assert "is not a tracing centre" in str(refused.value)
    stored = await h.repository(TraceRequests).get(trace_id)
    assert stored is not None
    assert stored.status == "submitted"
    await h.send(trace_result(trace_id), markings=SHARED, sender=NTC)
    stored = await h.repository(TraceRequests).get(trace_id)
    assert stored is not None
    assert stored.status == "completed"


async def test_a_trace_request_the_tracing_centre_may_not_see_is_refused_as_not_known() -> None:
    h = harness()
    await h.send(seizure(GLOCK), markings=US_ONLY)
    trace_id = await trace_id_of(h)
    mexican_centre = Sender("mx-tracing", "MX", "tracing_centre")
    registry = baseline_registry()
    entry = Agency(id="mx-tracing", name="MX tracing", country="MX", kind=AgencyKind.TRACING_CENTRE, clearance=TLP.RED)
    change = AgencyRegistered(registry_version=registry.version + 1, replaces_version=registry.version, agency=entry)
    registry = registry.after(change)
    with pytest.raises(RecordNotYetKnown) as refused:
        await h.send(trace_result(trace_id), markings=SHARED, sender=mexican_centre, registry=registry)
    assert refused.value.public == f"no trace_request {trace_id}"


async def test_a_result_after_the_answer_does_not_tell_the_trace_requests_status_or_dates() -> None:
    h = harness()
    await h.send(seizure(GLOCK), markings=GREEN)
    trace_id = await trace_id_of(h)
    late = trace_result(trace_id).model_copy(update={"sale_date": date(2026, 12, 24)})
    with pytest.raises(DomainRuleViolation) as refused:
        await h.send(late, markings=SHARED, sender=NTC)
    assert "2026-11-20" in str(refused.value)
    assert "2026-11-20" not in refused.value.public
    await h.send(trace_result(trace_id), markings=SHARED, sender=NTC)
    with pytest.raises(DomainRuleViolation) as again:
        await h.send(trace_result(trace_id), markings=SHARED, sender=NTC, event_id="another")
    assert "completed" in str(again.value)
    assert "completed" not in again.value.public


async def test_a_licence_is_issued_by_a_licensing_authority_for_exports_from_its_country() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="is not a licensing authority"):
        await h.send(LICENCE, markings=GREEN, sender=registered_sender("us-cbp"))
    with pytest.raises(DomainRuleViolation, match="destination_country US is the issuing country"):
        await h.send(
            LICENCE.model_copy(update={"destination_country": "US"}),
            markings=GREEN,
            sender=registered_sender("us-ddtc"),
        )
    assert h.records(ExportLicences).heads == {}
