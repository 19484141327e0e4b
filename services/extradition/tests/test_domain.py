from datetime import UTC, date, datetime, timedelta

import pytest

from alliance.contracts.common import Person, Place
from alliance.contracts.extradition import (
    ExtraditionStep,
    FugitiveLocated,
    MlatRequestReceived,
    MlatStatus,
    ProvisionalArrestRequested,
)
from alliance.contracts.markings import TLP, Markings
from alliance.domain.errors import DomainRuleViolation
from extradition.domain import (
    FORMAL_REQUEST,
    MLAT_EXECUTION,
    MLAT_REVIEW,
    DetainedPerson,
    ExtraditionRequest,
    ExtraditionStatus,
    Fugitive,
    MlatRequest,
    PersonMatch,
    StatusReport,
)
from payloads.extradition import fugitive_registration

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
FGR = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-fgr",))
CBP = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("MX", "US"), originators=("us-cbp",), originator_control=True)
DETAINED = Person(given_names="JOSE LUIS", surnames=["HERNANDEZ"], date_of_birth=date(1988, 3, 14), nationality="MX")
LAREDO = Place(description="Laredo", country="US")


def fugitive(wanted_by: str = "MX", priority: bool = True) -> Fugitive:
    return Fugitive.register(fugitive_registration(wanted_by=wanted_by, priority=priority), FGR, "mx-fgr")


def test_detained_person_wanted_by_the_other_country_is_located() -> None:
    f = fugitive()
    result = f.compare(DETAINED, "US")
    assert result is not None
    assert result.match
    assert f.compare(DETAINED, "MX") is None  # detained in the country that wants him: not an extradition case
    seen = DetainedPerson.seen("SZ-1", DETAINED, LAREDO, date(2026, 11, 20), CBP)
    match = PersonMatch.located(f, seen, result)
    [located] = match.pending_events
    assert isinstance(located, FugitiveLocated)
    assert (located.wanted_by, located.located_in) == ("MX", "US")
    assert match.markings.tlp is TLP.AMBER_STRICT
    assert match.markings.originators == ("mx-fgr", "us-cbp")


def test_rejected_person_is_not_raised_again_and_the_link_is_reversible() -> None:
    f = fugitive()
    f.reject(DETAINED)
    assert f.compare(DETAINED, "US") is None
    f.unreject(DETAINED)
    assert f.compare(DETAINED, "US") is not None


def test_provisional_arrest_carries_the_sixty_day_treaty_clock() -> None:
    f = fugitive()
    request = ExtraditionRequest.provisional_arrest("EX-1", f, DETAINED, "US", date(2026, 11, 20), CBP)
    [event] = request.pending_events
    assert isinstance(event, ProvisionalArrestRequested)
    assert event.formal_request_due_at == datetime(2027, 1, 19, tzinfo=UTC)
    assert (event.requesting_country, event.requested_country) == ("MX", "US")
    deadline = request.deadline(FORMAL_REQUEST)
    assert deadline is not None
    assert deadline.warn_at == deadline.due_at - timedelta(days=15)


def test_extradition_state_machine_with_temporary_surrender() -> None:
    x = ExtraditionRequest.provisional_arrest("EX-1", fugitive(), DETAINED, "US", date(2026, 11, 20), CBP)
    x.advance(ExtraditionStep.ARRESTED, date(2026, 11, 21), None)
    assert x.deadline(FORMAL_REQUEST).due_at == datetime(2027, 1, 20, tzinfo=UTC)  # type: ignore[union-attr]
    x.advance(ExtraditionStep.FORMAL_REQUEST_FILED, date(2026, 12, 15), None)
    assert x.next_deadline_at() is None
    for step in (
        ExtraditionStep.JUDICIAL_REVIEW_STARTED,
        ExtraditionStep.GRANTED,
        ExtraditionStep.TEMPORARILY_SURRENDERED,
        ExtraditionStep.RETURNED,
        ExtraditionStep.SURRENDERED,
    ):
        x.advance(step, date(2027, 3, 1), None)
    assert x.status is ExtraditionStatus.SURRENDERED
    with pytest.raises(DomainRuleViolation, match="is surrendered: cannot record granted"):
        x.advance(ExtraditionStep.GRANTED, date(2027, 3, 2), None)


def test_illegal_extradition_steps_are_refused() -> None:
    x = ExtraditionRequest.provisional_arrest("EX-1", fugitive(), DETAINED, "US", date(2026, 11, 20), CBP)
    with pytest.raises(DomainRuleViolation, match="cannot record granted"):
        x.advance(ExtraditionStep.GRANTED, date(2026, 12, 1), None)
    x.advance(ExtraditionStep.FORMAL_REQUEST_FILED, date(2026, 12, 1), None)
    x.advance(ExtraditionStep.JUDICIAL_REVIEW_STARTED, date(2026, 12, 2), None)
    with pytest.raises(DomainRuleViolation, match="grounds"):
        x.advance(ExtraditionStep.DENIED, date(2026, 12, 3), None)


def mlat() -> MlatRequest:
    return MlatRequest.receive(
        MlatRequestReceived(
            mlat_reference="MLAT-US-2026-88",
            requesting_country="US",
            requested_country="MX",
            subject="bank records of Importadora Norteña",
            assistance=["bank records"],
            priority=True,
        ),
        FGR,
        NOW,
        "mx-fgr",
    )


def test_mlat_milestones_and_deadlines() -> None:
    m = mlat()
    assert m.deadline(MLAT_REVIEW).due_at == NOW + timedelta(days=30)  # type: ignore[union-attr]
    for status in (
        MlatStatus.UNDER_REVIEW,
        MlatStatus.INFORMATION_REQUESTED,
        MlatStatus.UNDER_REVIEW,
        MlatStatus.IN_EXECUTION,
    ):
        m.move(status, None, NOW)
    assert m.deadline(MLAT_EXECUTION) is not None
    m.move(MlatStatus.PARTIALLY_EXECUTED, None, NOW)
    assert m.next_deadline_at() is None
    assert [e.status for e in m.pending_events] == [  # type: ignore[attr-defined]
        "received",
        "under_review",
        "information_requested",
        "under_review",
        "in_execution",
        "partially_executed",
    ]
    with pytest.raises(DomainRuleViolation, match="cannot become"):
        m.move(MlatStatus.IN_EXECUTION, None, NOW)


def test_mlat_refusal_needs_grounds() -> None:
    with pytest.raises(DomainRuleViolation, match="grounds"):
        mlat().move(MlatStatus.REFUSED, None, NOW)


def test_status_report_on_priority_cases_in_spanish() -> None:
    x = ExtraditionRequest.provisional_arrest("EX-1", fugitive(), DETAINED, "US", date(2026, 11, 20), CBP)
    report = StatusReport.compile("R1", [x], [mlat()], FGR, "es", NOW)
    assert report.report.extraditions[0]["status"] == "Detención provisional solicitada"
    assert report.report.mlat_requests[0]["status"] == "Recibida"
    assert report.report.totals == {"priority_extraditions": 1, "priority_mlat_requests": 1}
    assert report.markings.tlp is TLP.AMBER_STRICT


def test_a_rejected_match_withdraws_only_a_provisional_arrest_still_requested() -> None:
    requested = ExtraditionRequest.provisional_arrest("EX-1", fugitive(), DETAINED, "US", date(2026, 11, 20), CBP)
    requested.withdraw_for_rejected_match(date(2026, 11, 21))
    assert requested.status is ExtraditionStatus.WITHDRAWN
    arrested = ExtraditionRequest.provisional_arrest("EX-2", fugitive(), DETAINED, "US", date(2026, 11, 20), CBP)
    arrested.advance(ExtraditionStep.ARRESTED, date(2026, 11, 21), None)
    arrested.withdraw_for_rejected_match(date(2026, 11, 22))
    assert arrested.status is ExtraditionStatus.ARRESTED  # past the request: for the central authorities
