from datetime import UTC, date, datetime
from typing import Any

import pytest

from alliance.contracts.firearms import RestorationRequested, TraceRequestSubmitted
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import TLP, Markings
from firearms.domain import RestorationRequest, TraceRequest, TraceStatus, requests_for_seizure
from payloads.firearms import GLOCK, OBLITERATED, export_licence
from payloads.interdiction import seizure_recorded

NOW = datetime(2026, 11, 20, 21, tzinfo=UTC)
AMBER = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",), originator_control=True)


def seizure(*guns: dict[str, Any], seizure_id: str = "SZ-1") -> SeizureRecorded:
    return seizure_recorded(seizure_id, firearms=list(guns))


def test_one_trace_per_legible_gun_and_a_restoration_for_an_obliterated_serial() -> None:
    requests = requests_for_seizure(seizure(GLOCK, OBLITERATED, {**GLOCK, "serial_number": "BXR124"}), AMBER, NOW)
    assert [type(r) for r in requests] == [TraceRequest, RestorationRequest, TraceRequest]
    assert [r.item_number for r in requests] == [1, 2, 3]
    events = [e for r in requests for e in r.pending_events]
    assert [type(e) for e in events] == [TraceRequestSubmitted, RestorationRequested, TraceRequestSubmitted]


def test_trace_request_carries_etrace_fields_and_starts_submitted() -> None:
    [trace] = requests_for_seizure(seizure(GLOCK), AMBER, NOW)
    assert isinstance(trace, TraceRequest)
    assert trace.status is TraceStatus.SUBMITTED
    assert (trace.serial_number, trace.maker, trace.model, trace.caliber) == ("BXR123", "Glock", "19", "9mm")
    assert trace.recovery_date == date(2026, 11, 20)
    assert trace.requesting_agency == "urn:agency:us-cbp"


def test_requests_keep_the_seizure_markings() -> None:
    for request in requests_for_seizure(seizure(GLOCK, OBLITERATED), AMBER, NOW):
        assert request.markings.is_at_least_as_strict_as(AMBER)


def test_request_ids_are_deterministic_so_redelivery_is_harmless() -> None:
    first = [r.id for r in requests_for_seizure(seizure(GLOCK, OBLITERATED), AMBER, NOW)]
    again = [r.id for r in requests_for_seizure(seizure(GLOCK, OBLITERATED), AMBER, NOW)]
    assert first == again
    assert len(set(first)) == 2


def test_a_trace_cannot_be_opened_on_an_obliterated_serial() -> None:
    from alliance.contracts.interdiction import FirearmItem

    gun = FirearmItem.model_validate(OBLITERATED)
    with pytest.raises(ValueError, match="restoration instead"):
        TraceRequest.submit(seizure(OBLITERATED), 1, gun, AMBER, NOW)


# -- lifecycle, restoration, indicators, licences, statistics ------------------------------------------

from datetime import timedelta  # noqa: E402

from alliance.contracts.common import Person  # noqa: E402
from alliance.contracts.firearms import (  # noqa: E402
    Dealer,
    IndicatorKind,
    RestorationSucceeded,
    TraceCompleted,
    TraffickingIndicatorRaised,
)
from alliance.domain.errors import DomainRuleViolation  # noqa: E402
from firearms.domain import (  # noqa: E402
    TRACING_CENTER_REPLY,
    ExportLicence,
    Purchaser,
    RestorationStatus,
    TraceStatisticsReport,
    serial_key,
)

DEALER = Dealer(name="Lone Star Guns LLC", licence_number="5-74-123-01-2C-45678", state="TX")
BUYER = Person(given_names="Juan Carlos", surnames=["Rivera", "Soto"], date_of_birth=date(1990, 5, 4))


def trace(serial: str = "BXR123") -> TraceRequest:
    [t] = requests_for_seizure(seizure({**GLOCK, "serial_number": serial}, seizure_id=f"SZ-{serial}"), AMBER, NOW)
    assert isinstance(t, TraceRequest)
    return t


def test_tracing_center_reply_deadline_is_24_hours_and_met_by_acknowledgement() -> None:
    t = trace()
    deadline = t.deadline(TRACING_CENTER_REPLY)
    assert deadline is not None
    assert deadline.due_at == NOW + timedelta(hours=24)
    t.acknowledge("ATF-2026-99")
    assert t.status is TraceStatus.IN_PROGRESS
    assert t.next_deadline_at() is None


def test_completed_trace_computes_time_to_crime_and_flags_a_short_one() -> None:
    t = trace()
    t.complete(DEALER, BUYER, date(2026, 2, 1))
    completed = [e for e in t.pending_events if isinstance(e, TraceCompleted)]
    assert completed[0].time_to_crime_days == (date(2026, 11, 20) - date(2026, 2, 1)).days
    [indicator] = [e for e in t.pending_events if isinstance(e, TraffickingIndicatorRaised)]
    assert indicator.indicator is IndicatorKind.SHORT_TIME_TO_CRIME
    assert indicator.evidence["time_to_crime_days"] == 292


def test_long_time_to_crime_is_not_an_indicator() -> None:
    t = trace()
    t.complete(DEALER, BUYER, date(2012, 2, 1))
    assert not [e for e in t.pending_events if isinstance(e, TraffickingIndicatorRaised)]


@pytest.mark.parametrize("first", ["complete", "fail"])
def test_illegal_transitions_are_refused_with_clear_errors(first: str) -> None:
    t = trace()
    if first == "complete":
        t.complete(DEALER, BUYER, date(2026, 2, 1))
    else:
        t.fail("no record of sale")
    with pytest.raises(DomainRuleViolation, match="cannot mark it in progress"):
        t.acknowledge(None)
    with pytest.raises(DomainRuleViolation, match="cannot record a result"):
        t.complete(DEALER, BUYER, date(2026, 2, 1))


def test_sale_after_recovery_is_refused() -> None:
    with pytest.raises(DomainRuleViolation, match="after the recovery date"):
        trace().complete(DEALER, BUYER, date(2026, 12, 1))


def test_restored_serial_opens_a_trace_with_that_serial() -> None:
    [r] = requests_for_seizure(seizure(OBLITERATED), AMBER, NOW)
    assert isinstance(r, RestorationRequest)
    r.restore("LW-778812", "acid etching")
    assert r.status is RestorationStatus.RESTORED
    assert isinstance(r.pending_events[-1], RestorationSucceeded)
    t = TraceRequest.after_restoration(r, "LW-778812", NOW)
    assert (t.serial_number, t.restored_from, t.maker, t.status) == ("LW-778812", r.id, "Colt", TraceStatus.SUBMITTED)
    assert t.id == TraceRequest.after_restoration(r, "LW-778812", NOW).id
    with pytest.raises(DomainRuleViolation, match="already restored"):
        r.fail("again")


def test_same_purchaser_behind_two_traces_within_a_year_is_an_indicator() -> None:
    first, second = trace("A1"), trace("B2")
    first.complete(DEALER, BUYER, date(2026, 1, 10))
    second.complete(DEALER, BUYER.model_copy(update={"given_names": "JUAN CARLOS"}), date(2026, 6, 1))
    purchaser = Purchaser.first_seen(BUYER, AMBER)
    purchaser.record_purchase(first)
    assert not purchaser.pending_events
    purchaser.record_purchase(second)
    purchaser.record_purchase(second)  # redelivered: no second indicator
    [indicator] = purchaser.pending_events
    assert isinstance(indicator, TraffickingIndicatorRaised)
    assert indicator.indicator is IndicatorKind.REPEAT_PURCHASER
    assert set(indicator.trace_request_ids) == {first.id, second.id}


def test_recovered_gun_that_was_legally_exported_is_an_indicator_and_licence_lasts_a_year() -> None:
    licence = ExportLicence.record(
        export_licence("DSP-5-2026-0042", {"maker": "Glock GmbH", "model": "19", "serial_number": "bxr-123"}),
        "urn:agency:us-ddtc",
        Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-ddtc",)),
    )
    assert licence.valid_until == date(2027, 3, 1)
    t = trace("BXR123")
    assert t.serial_key in licence.serial_keys
    assert serial_key("Glock", "BXR 123") == t.serial_key
    t.flag_licensed_export(licence)
    t.flag_licensed_export(licence)
    indicators = [e for e in t.pending_events if isinstance(e, TraffickingIndicatorRaised)]
    assert [i.indicator for i in indicators] == [IndicatorKind.LICENSED_EXPORT_RECOVERED]
    assert indicators[0].evidence["recovered_while_licence_valid"] is True
    assert t.markings.originators == ("us-cbp", "us-ddtc")


def test_statistics_are_labelled_in_the_requested_language_and_never_less_protected() -> None:
    done, open_ = trace("A1"), trace("B2")
    done.complete(DEALER, BUYER, date(2026, 2, 1))
    [restoration] = requests_for_seizure(seizure(OBLITERATED), AMBER, NOW)
    assert isinstance(restoration, RestorationRequest)
    red = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-atf",))
    for language, completed, pistol in (("en", "Completed", "Pistol"), ("es", "Concluida", "Pistola")):
        report = TraceStatisticsReport.compile(
            "TS-1", [done, open_], [restoration], red, date(2026, 10, 1), date(2026, 12, 31), language
        )  # type: ignore[arg-type]
        figures = report.report
        assert figures.trace_requests == 2
        assert figures.by_status[completed] == 1
        assert figures.by_firearm_type == {pistol: 2}
        assert figures.by_recovery_country == {"US": 2}
        assert figures.short_time_to_crime == 1
        assert report.markings.tlp is TLP.RED


def test_each_fact_states_the_gun_and_its_recovery_as_the_request_holds_them() -> None:
    """The facts are derived from the record (``Aggregate.fact``): no field the seizure stated falls back to
    its default, through a trace, a restoration and the trace that follows it."""
    gun = {**GLOCK, "importer": "Glock Inc.", "country_of_manufacture": "AT"}
    [t, r] = requests_for_seizure(seizure(gun, OBLITERATED), AMBER, NOW)
    assert isinstance(t, TraceRequest)
    assert isinstance(r, RestorationRequest)
    recovered = {
        "seizure_id": "SZ-1",
        "recovery_place": {"description": "Laredo", "country": "US"},
        "recovery_date": "2026-11-20",
        "requesting_agency": "urn:agency:us-cbp",
    }
    submitted = {"trace_request_id": t.id, "item_number": 1, "status": "submitted", **gun, **recovered}
    assert [e.to_data() for e in t.pending_events] == [submitted]
    colt = {"maker": "Colt", "firearm_type": "rifle", "item_number": 2, **recovered}
    requested = {"restoration_request_id": r.id, "status": "requested", **colt}
    assert [e.to_data() for e in r.pending_events] == [requested]

    t.complete(DEALER, BUYER, date(2026, 2, 1))
    assert t.pending_events[1].to_data() == {
        "trace_request_id": t.id,
        "seizure_id": "SZ-1",
        "serial_number": "BXR123",
        "maker": "Glock",
        "dealer": DEALER.model_dump(mode="json", exclude_none=True),
        "purchaser": BUYER.model_dump(mode="json", exclude_none=True),
        "sale_date": "2026-02-01",
        "recovery_date": "2026-11-20",
        "time_to_crime_days": 292,
        "status": "completed",
    }
    r.restore("LW-778812", None)
    restored = {"restoration_request_id": r.id, "restored_serial_number": "LW-778812", "status": "restored"}
    assert r.pending_events[-1].to_data() == restored
    after = TraceRequest.after_restoration(r, "LW-778812", NOW)
    resumed = {"trace_request_id": after.id, "serial_number": "LW-778812", "status": "submitted", **colt}
    assert [e.to_data() for e in after.pending_events] == [resumed]
