"""Interdiction handlers over in-memory repositories: no Kafka, no store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alliance.application.testing import HandlerHarness, registered_sender
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.interdiction import (
    RouteReportSubmitted,
    SeizureAmended,
    SeizureReported,
    SeizureStatisticsRequested,
)
from alliance.contracts.markings import TLP, Markings
from alliance.domain.errors import DomainRuleViolation
from interdiction.domain import seizure_id
from interdiction.handlers import ROUTES, InterdictionDeps
from interdiction.store import RouteReports, SanitisedQuarters, Seizures, SeizureStatisticsReports
from payloads.interdiction import SEIZED_AT, seizure_contents

CBP = "urn:agency:us-cbp"
FGR = "urn:agency:mx-fgr"
GREEN = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-cbp",))
RED = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-hsi",))
COCAINE = {"drug": "cocaine", "quantity": 10, "unit": "kg"}

RECORDED = "org.alliance.interdiction.seizure.recorded.v1"
CORRECTED = "org.alliance.interdiction.seizure.corrected.v1"
STATISTICS = "org.alliance.interdiction.seizure_statistics.published.v1"


def harness() -> HandlerHarness[InterdictionDeps]:
    return HandlerHarness(ROUTES, InterdictionDeps, service="interdiction")


def contents(seized_at: str = SEIZED_AT, country: str = "US", **more: Any) -> dict[str, Any]:
    place = {"description": "Colombia Solidarity Bridge", "country": country}
    return seizure_contents(**{"seized_at": seized_at, "place": place, "drugs": [COCAINE], **more})


def reported(reference: str = "CBP-1", **seizure: Any) -> SeizureReported:
    return SeizureReported.model_validate({"report_reference": reference, "seizure": contents(**seizure)})


def amended(reference: str = "CBP-1", **seizure: Any) -> SeizureAmended:
    return SeizureAmended.model_validate(
        {"report_reference": reference, "reason": "weights re-measured at the lab", "seizure": contents(**seizure)}
    )


def quarter(year: int | None = 2026, number: int | None = 4, **more: Any) -> SeizureStatisticsRequested:
    given = {"year": year, "quarter": number} if year is not None else {}
    return SeizureStatisticsRequested.model_validate({**given, **more})


ROUTE_REPORT = RouteReportSubmitted.model_validate(
    {
        "report_reference": "EPIC-RR-9",
        "kind": "concealment_method",
        "concealment_method": "tyres",
        "summary": "Fentanyl pills inside spare tyres of passenger vehicles at San Ysidro",
        "drugs": ["Fentanyl"],
        "modes": ["land"],
    }
)


def only(facts: list[CloudEvent], event_type: str) -> CloudEvent:
    [fact] = [f for f in facts if f.type == event_type]
    return fact


# -- seizures ---------------------------------------------------------------------------------------------


async def test_a_reported_seizure_is_recorded_in_kilograms_and_its_redelivery_publishes_nothing_more() -> None:
    h = harness()
    report = reported(drugs=[{"drug": "Fentanyl", "quantity": 12, "unit": "lb"}, COCAINE])
    facts = await h.send(report, markings=GREEN, source=CBP, event_id="e-1")
    assert [f.type for f in facts] == [RECORDED]
    assert facts[0].data["seizure_id"] == seizure_id(CBP, "CBP-1")
    assert [d["drug"] for d in facts[0].data["drugs"]] == ["fentanyl", "cocaine"]  # codes normalised
    assert facts[0].data["total_drugs_kg"] == pytest.approx(15.443108)
    assert await h.send(report, markings=GREEN, source=CBP, event_id="e-1") == []
    assert len(h.records(Seizures).heads) == 1


async def test_the_same_case_number_sent_again_is_still_one_seizure() -> None:
    h = harness()
    await h.send(reported(), markings=GREEN, source=CBP)
    assert await h.send(reported(), markings=GREEN, source=CBP) == []  # another event id, same agency case
    await h.send(reported(), markings=GREEN, source=FGR)  # another agency's case with the same number
    assert len(h.records(Seizures).heads) == 2


async def test_a_seizure_with_an_unknown_drug_code_is_refused_and_nothing_is_stored() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="not a known drug"):
        await h.send(reported(drugs=[{"drug": "unobtainium", "quantity": 1, "unit": "kg"}]), markings=GREEN)
    assert h.records(Seizures).heads == {}


async def test_a_red_seizure_is_recorded_and_published_red() -> None:
    facts = await harness().send(reported(), markings=RED, source=CBP)
    assert facts
    assert all(f.markings.is_at_least_as_strict_as(RED) for f in facts)


# -- amendments -------------------------------------------------------------------------------------------


async def test_an_amendment_publishes_the_corrected_seizure_once() -> None:
    h = harness()
    await h.send(reported(), markings=GREEN, source=CBP)
    amendment = amended(drugs=[{"drug": "cocaine", "quantity": 12.5, "unit": "kg"}])
    facts = await h.send(amendment, markings=GREEN, source=CBP, event_id="a-1")
    corrected = only(facts, CORRECTED)
    assert (corrected.data["revision"], corrected.data["total_drugs_kg"]) == (2, 12.5)
    assert corrected.data["amendment_reason"] == "weights re-measured at the lab"
    assert await h.send(amendment, markings=GREEN, source=CBP, event_id="a-1") == []  # the redelivery
    stored = await h.repository(Seizures).get(seizure_id(CBP, "CBP-1"))
    assert stored is not None
    assert stored.revision == 2


async def test_an_amendment_of_a_seizure_never_reported_is_refused_with_a_reason() -> None:
    with pytest.raises(DomainRuleViolation, match=f"no seizure CBP-9 reported by {CBP}"):
        await harness().send(amended("CBP-9"), markings=GREEN, source=CBP)


async def test_only_the_reporting_agency_can_amend_its_seizure() -> None:
    h = harness()
    await h.send(reported(), markings=GREEN, source=CBP)
    with pytest.raises(DomainRuleViolation, match=f"reported by {FGR}"):  # another agency's case number
        await h.send(amended(), markings=GREEN, source=FGR)
    stored = await h.repository(Seizures).get(seizure_id(CBP, "CBP-1"))
    assert stored is not None
    assert stored.revision == 1


async def test_an_agency_reports_only_seizures_made_in_its_own_country() -> None:
    h = harness()
    cbp = registered_sender("us-cbp")
    with pytest.raises(DomainRuleViolation, match=r"place\.country MX is not the sending agency's country"):
        await h.send(reported(country="MX"), markings=GREEN, sender=cbp)  # would count in MX's figures
    assert h.records(Seizures).heads == {}
    await h.send(reported(), markings=GREEN, sender=cbp)
    with pytest.raises(DomainRuleViolation, match=r"place\.country MX is not the sending agency's country"):
        await h.send(amended(country="MX"), markings=GREEN, sender=cbp)  # nor moves one there
    [stored] = h.records(Seizures).heads.values()
    assert stored["contents"]["place"]["country"] == "US"


async def test_a_red_amendment_makes_the_seizure_and_its_correction_red() -> None:
    h = harness()
    await h.send(reported(), markings=GREEN, source=CBP)
    corrected = only(await h.send(amended(), markings=RED, source=CBP), CORRECTED)
    assert corrected.markings.is_at_least_as_strict_as(RED)
    assert corrected.markings.is_at_least_as_strict_as(GREEN)
    stored = await h.repository(Seizures).get(seizure_id(CBP, "CBP-1"))
    assert stored is not None
    assert stored.markings.is_at_least_as_strict_as(RED)


# -- route reports ----------------------------------------------------------------------------------------


async def test_a_route_report_is_published_with_bilingual_labels_once() -> None:
    h = harness()
    facts = await h.send(ROUTE_REPORT, markings=RED, source="urn:agency:us-epic", event_id="r-1")
    [published] = facts
    assert published.type == "org.alliance.interdiction.route_report.published.v1"
    assert published.data["concealment_method_label"] == {"en": "Tyres", "es": "Llantas"}
    assert published.data["drugs"] == ["fentanyl"]
    assert published.markings.is_at_least_as_strict_as(RED)
    assert await h.send(ROUTE_REPORT, markings=RED, source="urn:agency:us-epic", event_id="r-1") == []
    assert len(h.records(RouteReports).heads) == 1


# -- quarterly statistics (AP14) --------------------------------------------------------------------------


async def seize(h: HandlerHarness[InterdictionDeps], reference: str, seized_at: str, **more: Any) -> None:
    await h.send(reported(reference, seized_at=seized_at, **more), markings=GREEN, source=CBP)


async def test_statistics_count_exactly_the_seizures_of_the_quarter_in_utc() -> None:
    h = harness()
    await seize(h, "before", "2026-09-30T23:59:59+00:00")
    await seize(h, "first-instant", "2026-10-01T00:00:00+00:00")
    await seize(h, "late-local-september", "2026-09-30T20:00:00-06:00")  # 1 October in UTC
    rifle = {"serial_number": "A1", "maker": "Colt", "firearm_type": "rifle"}
    await seize(h, "mid", "2026-11-20T14:30:00-06:00", firearms=[rifle])
    await seize(h, "new-year-eve-local", "2026-12-31T20:00:00-06:00")  # 2027 in UTC
    await seize(h, "mx", "2026-11-02T10:00:00-06:00", country="MX")
    facts = await h.send(quarter(countries=["MX", "US"], language="es"), markings=GREEN, event_id="q-1")
    report = only(facts, STATISTICS)
    us, mx = report.data["countries"]["US"], report.data["countries"]["MX"]
    assert (us["seizures"], us["firearms"], us["drugs_kg"]) == (3, 1, {"Cocaína": 30.0})
    assert mx["seizures"] == 1
    assert await h.send(quarter(countries=["MX", "US"], language="es"), markings=GREEN, event_id="q-1") == []
    assert len(h.records(SeizureStatisticsReports).heads) == 1


async def test_statistics_count_only_the_countries_asked_for() -> None:
    h = harness()
    await seize(h, "us", "2026-11-02T10:00:00-06:00")
    await seize(h, "mx", "2026-11-02T10:00:00-06:00", country="MX")
    report = only(await h.send(quarter(countries=["MX"]), markings=GREEN), STATISTICS)
    assert set(report.data["countries"]) == {"MX"}
    assert report.data["countries"]["MX"]["seizures"] == 1


async def test_an_amended_seizure_date_moves_the_seizure_to_its_new_quarter() -> None:
    h = harness()
    await seize(h, "CBP-1", "2026-09-15T10:00:00-06:00")
    await h.send(amended(seized_at="2026-10-15T10:00:00-06:00"), markings=GREEN, source=CBP)
    q3 = only(await h.send(quarter(number=3), markings=GREEN), STATISTICS)
    q4 = only(await h.send(quarter(number=4), markings=GREEN), STATISTICS)
    assert (q3.data["countries"]["US"]["seizures"], q4.data["countries"]["US"]["seizures"]) == (0, 1)


async def test_statistics_over_a_red_seizure_are_at_least_as_strict_as_it() -> None:
    h = harness()
    await h.send(reported(), markings=RED, source=CBP)
    report = only(await h.send(quarter(), markings=GREEN), STATISTICS)
    assert report.markings.is_at_least_as_strict_as(RED)
    assert report.markings.is_at_least_as_strict_as(GREEN)


# -- sanitised statistics (AP9: counts without identities) -------------------------------------------------


AFTER_Q3 = datetime(2026, 12, 1, tzinfo=UTC)  # 2026-Q3 is released sanitised from 2026-10-31


def green(agency: str) -> Markings:
    return Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=(agency,))


def seen_only_by(agency: str) -> Markings:
    """Seen by the agency that reported it and nobody else."""
    return Markings(tlp=TLP.RED, releasable_to=(), originators=(agency,), recipients=(agency,))


async def seize_as(
    h: HandlerHarness[InterdictionDeps], agency: str, reference: str, markings: Markings | None = None, **more: Any
) -> None:
    more.setdefault("seized_at", "2026-08-14T10:00:00-06:00")
    await h.send(reported(reference, **more), markings=markings or green(agency), source=f"urn:agency:{agency}")


async def ask_sanitised(
    h: HandlerHarness[InterdictionDeps], agency: str = "mx-fgr", markings: Markings | None = None, **more: Any
) -> CloudEvent:
    """2026-Q3, sanitised, asked after the quarter closed (the request form agencies used before)."""
    ask = quarter(year=2026, number=3, sanitised=True, **more)
    facts = await h.send(ask, markings=markings or green(agency), source=f"urn:agency:{agency}", time=AFTER_Q3)
    return only(facts, STATISTICS)


async def test_sanitised_statistics_publish_only_what_no_few_agencies_could_read_a_seizure_back_from() -> None:
    h = harness()
    for i in range(7):  # seven US cocaine seizures everyone may see
        await seize_as(h, "us-cbp", f"CBP-{i}", country="US")
    await seize_as(h, "us-cbp", "CBP-9", country="US", currency=[{"currency": "USD", "amount": 5000}])
    await seize_as(h, "mx-fgr", "FGR-1", country="MX")  # one Mexican seizure: too few to publish
    report = await ask_sanitised(h, markings=GREEN)
    us, mx = report.data["countries"]["US"], report.data["countries"]["MX"]
    assert (us["seizures"], us["drugs_kg"], us["currency"]) == (10, {"Cocaine": 80.0}, {})  # 8 seizures, rounded
    assert us["withheld"] == ["currency"]  # one seizure carried money
    assert (mx["seizures"], mx["drugs_kg"], mx["suppressed"]) == (0, {}, True)
    assert mx["withheld"] == ["currency", "detained_persons", "drugs_kg", "firearms", "seizures"]  # the whole row
    assert report.data["sanitised"] is True
    assert report.data["disclosure_rules"] == "alliance-sdc-1"
    assert report.markings == GREEN  # the request's markings: nothing counted can be read back from the figures


async def test_a_quarter_asked_before_and_after_a_red_seizure_gets_the_same_release() -> None:
    h = harness()
    for i in range(5):
        await seize_as(h, "us-cbp", f"CBP-{i}", country="US")
    before = await ask_sanitised(h, "mx-fgr")
    late = {"drugs": [{"drug": "cocaine", "quantity": 400, "unit": "kg"}], "country": "US"}
    await seize_as(h, "us-cbp", "CBP-late", markings=seen_only_by("us-cbp"), **late)  # reported late, into 2026-Q3
    after = await ask_sanitised(h, "mx-fgr")
    assert after.id != before.id  # each request is answered...
    assert after.data == before.data  # ...with the quarter's one release: the difference is nothing
    assert before.data["countries"]["US"]["drugs_kg"] == {"Cocaine": 50.0}
    assert before.data["release_id"] is not None
    assert len(h.records(SanitisedQuarters).heads) == 1


async def three_agencies_around_a_fourth(victim: dict[str, Any]) -> dict[str, Any]:
    """mx-anam, mx-fgr and us-cbp each report two small seizures in Mexico, everyone may see them, around
    one seizure of mx-semar that nobody else may see; mx-fgr asks for the quarter."""
    h = harness()
    for agency in ("mx-anam", "mx-fgr", "us-cbp"):
        for i in range(2):
            await seize_as(h, agency, f"{agency}-{i}", country="MX")
    await seize_as(h, "mx-semar", "SEMAR-1", markings=seen_only_by("mx-semar"), country="MX", **victim)
    report = await ask_sanitised(h, "mx-fgr")
    return dict(report.data["countries"])


async def test_three_agencies_adding_two_seizures_each_learn_nothing_of_a_fourth_agency_s_seizure() -> None:
    rifle = {"serial_number": "S1", "maker": "Colt", "firearm_type": "rifle"}
    small = await three_agencies_around_a_fourth(
        {"drugs": [{"drug": "cocaine", "quantity": 2, "unit": "kg"}], "currency": [{"currency": "USD", "amount": 900}]}
    )
    large = await three_agencies_around_a_fourth(
        {
            "drugs": [{"drug": "cocaine", "quantity": 900, "unit": "kg"}],
            "currency": [{"currency": "USD", "amount": 250_000}],
            "firearms": [rifle, {**rifle, "serial_number": "S2"}, {**rifle, "serial_number": "S3"}],
        }
    )
    assert small == large  # whatever the seizure held, the release is the same
    assert small["MX"]["withheld"] == ["currency", "detained_persons", "drugs_kg", "firearms", "seizures"]
    assert (small["MX"]["seizures"], small["MX"]["drugs_kg"]) == (0, {})  # 7 seizures, 4 agencies: still withheld


async def test_sanitised_statistics_of_a_quarter_still_open_are_refused_with_the_day_they_can_be_asked() -> None:
    ask = quarter(year=2026, number=4, sanitised=True)
    with pytest.raises(DomainRuleViolation, match="2026-Q4 can be released sanitised from 2027-01-31"):
        await harness().send(ask, markings=GREEN, source=CBP, time=datetime(2026, 12, 2, tzinfo=UTC))


async def test_each_request_gets_the_one_release_under_its_own_markings_and_a_redelivery_nothing() -> None:
    h = harness()
    for i in range(3):
        await seize_as(h, "us-cbp", f"CBP-{i}", country="US")
    us_only = Markings(tlp=TLP.AMBER, releasable_to=("US",), originators=("us-cbp",))
    first = only(
        await h.send(
            quarter(None, None, period="2026-Q3", sanitised=True),
            markings=us_only,
            source=CBP,
            time=AFTER_Q3,
            event_id="a",
        ),
        STATISTICS,
    )
    again = await h.send(
        quarter(None, None, period="2026-Q3", sanitised=True), markings=us_only, source=CBP, time=AFTER_Q3, event_id="a"
    )
    second = await ask_sanitised(h, "mx-fgr", language="es")
    assert again == []
    assert (first.markings, second.markings) == (us_only, green("mx-fgr"))
    assert first.data["release_id"] == second.data["release_id"]
    assert (first.data["countries"]["US"]["seizures"], second.data["countries"]["US"]["seizures"]) == (5, 5)
    assert (first.data["countries"]["US"]["drugs_kg"], second.data["countries"]["US"]["drugs_kg"]) == (
        {"Cocaine": 30.0},
        {"Cocaína": 30.0},
    )


def test_a_statistics_request_names_its_quarter_once() -> None:
    assert quarter(None, None, period="2026-Q3").quarter_id == "2026-Q3"
    with pytest.raises(ValidationError, match="name the quarter once"):
        quarter(period="2026-Q3")
    with pytest.raises(ValidationError, match="pattern"):
        SeizureStatisticsRequested.model_validate({"period": "2026-07-01/2026-09-30", "sanitised": True})


async def test_statistics_that_are_not_sanitised_inherit_the_strictest_markings_of_what_they_count() -> None:
    h = harness()
    await h.send(reported("CBP-1"), markings=RED, source=CBP)
    [report] = await h.send(quarter(), markings=GREEN, source=CBP)
    assert report.markings.is_at_least_as_strict_as(RED)
    assert report.data["countries"]["US"]["seizures"] == 1
