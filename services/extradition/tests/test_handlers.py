"""Extradition handlers over in-memory repositories: no Kafka, no store."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from alliance.application.repository import Repository
from alliance.application.sightings import TracedPurchasers
from alliance.application.testing import HandlerHarness, registered_sender
from alliance.contracts.base import EventData
from alliance.contracts.common import Person
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.extradition import (
    ExtraditionStep,
    ExtraditionStepReported,
    FugitiveRegistered,
    MlatRequestReceived,
    MlatStatus,
    MlatStatusReported,
    PersonMatchReviewed,
    StatusReportRequested,
)
from alliance.contracts.firearms import TraceCompleted
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.topics import EXTRADITION_EVENTS
from alliance.domain.errors import DomainRuleViolation, RecordNotYetKnown
from extradition.handlers import ROUTES, ExtraditionDeps
from extradition.store import (
    DetainedPersons,
    ExtraditionRequests,
    Fugitives,
    MlatRequests,
    PersonMatches,
    StatusReports,
)
from payloads.extradition import WANTED, fugitive_registration
from payloads.firearms import trace_completed
from payloads.interdiction import seizure_recorded
from person_matching.matching import finding_keys

FGR = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-fgr",))
CBP = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("MX", "US"), originators=("us-cbp",), originator_control=True)
ATF = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-atf",))
RED_MX = Markings(tlp=TLP.RED, releasable_to=("MX",), originators=("mx-fgr",))
INTERDICTION = "urn:alliance:service:interdiction"
FIREARMS = "urn:alliance:service:firearms"

DETAINED = Person(given_names="JOSE LUIS", surnames=["HERNANDEZ"], date_of_birth=date(1988, 3, 14), nationality="MX")
JUANA = Person(given_names="Juana", surnames=["Hernández", "Garza"], date_of_birth=date(1990, 1, 1))  # not him
PURCHASER = Person(given_names="Jose Luis", surnames=["Hernandez", "Garza"], date_of_birth=date(1988, 3, 14))
OTHER_GARZA = Person(given_names="María", surnames=["Garza"], date_of_birth=date(1970, 5, 5))
ORTIZ = Person(given_names="Ramón", surnames=["Ortiz", "Vega"], date_of_birth=date(1975, 7, 7))

REPOSITORIES: list[type[Repository[Any]]] = [
    Fugitives,
    DetainedPersons,
    TracedPurchasers,
    PersonMatches,
    ExtraditionRequests,
    MlatRequests,
    StatusReports,
]
X = "org.alliance.extradition."
RECORDED = X + "fugitive.recorded.v1"
LOCATED = X + "fugitive.located.v1"
ARREST = X + "provisional_arrest.requested.v1"
DECIDED = X + "person_match.decided.v1"
REVIEW = X + "person_match.review_requested.v1"
STATUS = X + "request.status_changed.v1"
LINKED = X + "fugitive.linked_to_trace.v1"
MLAT = X + "mlat_request.status_changed.v1"
REPORT = X + "status_report.published.v1"


def harness() -> HandlerHarness[ExtraditionDeps]:
    return HandlerHarness(ROUTES, ExtraditionDeps, service="extradition", events_topic=EXTRADITION_EVENTS)


def committed(h: HandlerHarness[ExtraditionDeps], event_type: str | None = None) -> list[CloudEvent]:
    """Every fact committed with its record: what the outbox publishes, even after a failed flush."""
    return [
        p.event
        for kind in REPOSITORIES
        for commit in h.records(kind).journal.values()
        for p in commit.events
        if event_type in (None, p.event.type)
    ]


def outcome(h: HandlerHarness[ExtraditionDeps]) -> set[tuple[str, str, str, str]]:
    """The committed facts by type, id, data and markings: what two arrival orders must agree on."""
    return {
        (e.type, e.id, json.dumps(e.data, sort_keys=True, default=str), e.markings.model_dump_json())
        for e in committed(h)
    }


def registered(reference: str = "FGR-2026-17", person: Person = WANTED, priority: bool = True) -> FugitiveRegistered:
    return fugitive_registration(reference, person, priority=priority)


def seizure(*people: Person, seizure_id: str = "SZ-1", corrected: bool = False) -> SeizureRecorded:
    """People detained at a seizure at Laredo."""
    detained = [p.model_dump(mode="json") for p in people]
    return seizure_recorded(seizure_id, corrected=corrected, report_reference="LRD-1", detained_persons=detained)


async def register(
    h: HandlerHarness[ExtraditionDeps], event: FugitiveRegistered | None = None, event_id: str | None = None
) -> list[CloudEvent]:
    return await h.send(event or registered(), markings=FGR, source="urn:agency:mx-fgr", event_id=event_id)


async def detain(
    h: HandlerHarness[ExtraditionDeps], event: SeizureRecorded | None = None, event_id: str | None = None
) -> list[CloudEvent]:
    return await h.send(event or seizure(DETAINED, JUANA), markings=CBP, source=INTERDICTION, event_id=event_id)


async def traced(
    h: HandlerHarness[ExtraditionDeps], event: TraceCompleted | None = None, event_id: str | None = None
) -> list[CloudEvent]:
    return await h.send(event or trace_completed(PURCHASER), markings=ATF, source=FIREARMS, event_id=event_id)


async def located_and_arrested(h: HandlerHarness[ExtraditionDeps]) -> tuple[str, str]:
    """A fugitive located at a seizure: the match id and the provisional arrest's request id."""
    await register(h)
    await detain(h)
    [located] = committed(h, LOCATED)
    [arrest] = committed(h, ARREST)
    return located.data["match_id"], arrest.data["extradition_request_id"]


async def review(
    h: HandlerHarness[ExtraditionDeps], match_id: str, decision: str, markings: Markings = FGR, event_id: str = "r-1"
) -> list[CloudEvent]:
    reviewed = PersonMatchReviewed.model_validate({"match_id": match_id, "decision": decision, "analyst": "an.17"})
    return await h.send(reviewed, markings=markings, source="urn:agency:mx-fgr", event_id=event_id)


# -- fugitives ------------------------------------------------------------------------------------


async def test_a_registered_fugitive_is_recorded_and_its_redelivery_publishes_nothing() -> None:
    h = harness()
    [recorded] = await register(h, event_id="f-1")
    assert recorded.type == RECORDED
    assert (recorded.data["fugitive_reference"], recorded.data["wanted_by"]) == ("FGR-2026-17", "MX")
    assert recorded.markings == FGR
    assert await register(h, event_id="f-1") == []
    assert len(h.records(Fugitives).heads) == 1


# -- flow 4: a detained person is a fugitive wanted by the other country ------------------------


async def test_a_detained_person_wanted_by_the_other_country_is_located_and_provisionally_arrested() -> None:
    h = harness()
    await register(h)
    facts = await detain(h, event_id="s-1")
    assert [f.type for f in facts] == [LOCATED, ARREST]  # Juana shares his surnames but is not him
    located, arrest = facts
    assert (located.data["wanted_by"], located.data["located_in"], located.data["seizure_id"]) == ("MX", "US", "SZ-1")
    assert (arrest.data["requesting_country"], arrest.data["requested_country"]) == ("MX", "US")
    assert arrest.data["formal_request_due_at"].startswith("2027-01-19")  # sixty days from the detention
    for fact in facts:
        assert fact.markings.is_at_least_as_strict_as(CBP)
        assert fact.markings.is_at_least_as_strict_as(FGR)
    assert await detain(h, event_id="s-1") == []
    corrected = await detain(h, seizure(DETAINED, JUANA, corrected=True), event_id="s-2")
    assert corrected == []  # the same people at the same seizure: no second match or arrest


async def test_a_person_detained_in_the_country_that_wants_them_is_not_located() -> None:
    h = harness()
    await h.send(registered().model_copy(update={"wanted_by": "US"}), markings=FGR)
    assert await detain(h) == []
    assert h.records(PersonMatches).heads == {}


@pytest.mark.parametrize("fugitive_first", [True, False])
async def test_fugitive_and_detained_person_reach_one_match_and_one_arrest_in_either_order(
    fugitive_first: bool,
) -> None:
    reference = harness()
    await register(reference)
    await detain(reference)
    h = harness()
    steps = [register, detain] if fugitive_first else [detain, register]
    for step in steps:
        await step(h)
    assert len(committed(h, LOCATED)) == len(committed(h, ARREST)) == 1
    assert outcome(h) == outcome(reference)


@pytest.mark.parametrize(
    ("fugitive_first", "failing"),
    [(True, DetainedPersons), (True, PersonMatches), (False, Fugitives), (False, PersonMatches)],
)
async def test_an_arrest_interrupted_after_a_commit_is_completed_once_on_redelivery(
    fugitive_first: bool, failing: type[Repository[Any]]
) -> None:
    h = harness()
    first, second = (register, detain) if fugitive_first else (detain, register)
    await first(h)
    h.records(failing).fail_after_commits = 1  # the record is stored, then the process "dies"
    with pytest.raises(RuntimeError, match="injected"):
        await second(h, event_id="e-2")
    assert committed(h, ARREST) == []
    await second(h, event_id="e-2")  # the redelivery
    await second(h, event_id="e-2")
    assert len(committed(h, LOCATED)) == 1
    assert len(committed(h, ARREST)) == 1


# -- possible matches: an analyst decides ----------------------------------------------------------

# A very common name: with his full date of birth on the warrant and none on the detention record, the
# matcher can only call it possible.
JUAN_PEREZ = Person(given_names="Juan", surnames=["Pérez"], date_of_birth=date(1979, 6, 2), nationality="MX")
JUAN_PEREZ_SEEN = Person(given_names="JUAN", surnames=["PEREZ"])


async def possible_match(h: HandlerHarness[ExtraditionDeps]) -> CloudEvent:
    await register(h, registered("FGR-2026-31", JUAN_PEREZ))
    facts = await detain(h, seizure(JUAN_PEREZ_SEEN, seizure_id="SZ-7"))
    [requested] = facts
    return requested


async def test_a_possible_match_asks_an_analyst_and_locates_no_one() -> None:
    h = harness()
    requested = await possible_match(h)
    assert requested.type == REVIEW
    assert (requested.data["wanted_by"], requested.data["located_in"]) == ("MX", "US")
    assert any("common name" in r for r in requested.data["reasons"])
    assert requested.markings.is_at_least_as_strict_as(CBP)
    assert committed(h, LOCATED) == committed(h, ARREST) == []
    assert await detain(h, seizure(JUAN_PEREZ_SEEN, seizure_id="SZ-7"), event_id="again") == []


async def test_a_confirmed_possible_match_locates_the_fugitive_and_opens_the_arrest() -> None:
    h = harness()
    requested = await possible_match(h)
    facts = await review(h, requested.data["match_id"], "confirmed")
    assert [f.type for f in facts] == [DECIDED, LOCATED, ARREST]
    assert facts[1].data["match_id"] == requested.data["match_id"]
    assert await review(h, requested.data["match_id"], "confirmed") == []
    assert len(committed(h, ARREST)) == 1


async def test_a_rejected_possible_match_opens_nothing_and_is_not_raised_again() -> None:
    h = harness()
    requested = await possible_match(h)
    facts = await review(h, requested.data["match_id"], "rejected")
    assert [f.type for f in facts] == [DECIDED]
    assert committed(h, LOCATED) == committed(h, ARREST) == []
    assert await detain(h, seizure(JUAN_PEREZ_SEEN, seizure_id="SZ-8"), event_id="s-8") == []


# -- person match reviews ---------------------------------------------------------------------------


async def test_a_confirmed_match_is_decided_and_the_review_redelivery_publishes_nothing() -> None:
    h = harness()
    match_id, _ = await located_and_arrested(h)
    [decided] = await review(h, match_id, "confirmed")
    assert decided.type == DECIDED
    assert (decided.data["match_id"], decided.data["decision"], decided.data["analyst"]) == (
        match_id,
        "confirmed",
        "an.17",
    )
    assert await review(h, match_id, "confirmed") == []
    assert committed(h, STATUS) == []  # a confirmation leaves the provisional arrest as it is


async def test_a_red_rejection_withdraws_the_arrest_and_everything_it_changed_is_at_least_red() -> None:
    h = harness()
    match_id, request_id = await located_and_arrested(h)
    facts = await review(h, match_id, "rejected", markings=RED_MX)
    assert [f.type for f in facts] == [DECIDED, STATUS]
    decided, withdrawn = facts
    assert decided.data["decision"] == "rejected"
    assert (withdrawn.data["extradition_request_id"], withdrawn.data["status"]) == (request_id, "withdrawn")
    for fact in facts:
        assert fact.markings.is_at_least_as_strict_as(RED_MX)
        assert fact.markings.is_at_least_as_strict_as(CBP)
    fugitive = await h.repository(Fugitives).get(decided.data["fugitive_id"])
    assert fugitive is not None
    assert fugitive.markings.is_at_least_as_strict_as(RED_MX)
    # The rejected person is not located again, and the seizure's redelivery opens no new arrest.
    assert await detain(h, seizure(DETAINED, seizure_id="SZ-2")) == []
    assert await detain(h) == []
    assert len(committed(h, ARREST)) == 1


@pytest.mark.parametrize("failing", [PersonMatches, Fugitives])
async def test_a_rejection_interrupted_after_a_commit_is_completed_once_on_redelivery(
    failing: type[Repository[Any]],
) -> None:
    h = harness()
    match_id, _ = await located_and_arrested(h)
    h.records(failing).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await review(h, match_id, "rejected", event_id="r-1")
    await review(h, match_id, "rejected", event_id="r-1")
    await review(h, match_id, "rejected", event_id="r-1")
    assert len(committed(h, DECIDED)) == 1
    assert [e.data["status"] for e in committed(h, STATUS)] == ["withdrawn"]
    [fugitive] = h.records(Fugitives).heads.values()
    assert len(fugitive["rejected_people"]) == 1


async def test_a_rejection_before_an_interrupted_arrest_is_completed_opens_no_arrest() -> None:
    h = harness()
    await register(h)
    h.records(PersonMatches).fail_after_commits = 1  # the match is stored (and announced), the arrest is not
    with pytest.raises(RuntimeError, match="injected"):
        await detain(h, event_id="s-1")
    [located] = committed(h, LOCATED)
    facts = await review(h, located.data["match_id"], "rejected")  # not refused: there is nothing to withdraw
    assert [f.type for f in facts] == [DECIDED]
    assert await detain(h, event_id="s-1") == []  # the redelivery finds the match rejected
    assert h.records(ExtraditionRequests).heads == {}


# -- flow 5: a traced gun's purchaser is a fugitive ------------------------------------------------


@pytest.mark.parametrize("fugitive_first", [True, False])
async def test_a_traced_purchaser_is_linked_to_the_fugitive_once_in_either_order(fugitive_first: bool) -> None:
    reference = harness()
    await register(reference)
    await traced(reference)
    h = harness()
    steps = [register, traced] if fugitive_first else [traced, register]
    for step in steps:
        await step(h, event_id="e-1")
    assert await steps[1](h, event_id="e-1") == []  # redelivery
    [link] = committed(h, LINKED)
    assert (link.data["trace_request_id"], link.data["fugitive_reference"]) == ("TR-1", "FGR-2026-17")
    assert link.markings.is_at_least_as_strict_as(ATF)
    assert link.markings.is_at_least_as_strict_as(FGR)
    assert outcome(h) == outcome(reference)


@pytest.mark.parametrize(
    ("fugitive_first", "failing"), [(True, TracedPurchasers), (True, Fugitives), (False, Fugitives)]
)
async def test_a_link_interrupted_after_a_commit_is_completed_once_on_redelivery(
    fugitive_first: bool, failing: type[Repository[Any]]
) -> None:
    h = harness()
    first, second = (register, traced) if fugitive_first else (traced, register)
    await first(h)
    h.records(failing).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await second(h, event_id="e-2")
    await second(h, event_id="e-2")
    await second(h, event_id="e-2")
    assert len(committed(h, LINKED)) == 1
    [fugitive] = h.records(Fugitives).heads.values()
    assert fugitive["trace_links"] == ["TR-1"]


async def test_a_purchaser_who_only_shares_a_surname_is_not_linked_and_leaves_the_fugitive_unmarked() -> None:
    h = harness()
    [recorded] = await register(h)
    red = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-atf",))
    await h.send(trace_completed(OTHER_GARZA), markings=red, source=FIREARMS)
    assert committed(h, LINKED) == []
    fugitive = await h.repository(Fugitives).get(recorded.data["fugitive_id"])
    assert fugitive is not None
    assert fugitive.markings == FGR  # someone else's trace does not mark the fugitive
    assert len(h.records(TracedPurchasers).heads) == 1  # kept for fugitives registered later


# -- extradition requests, MLAT requests, status reports -----------------------------------------


async def test_an_extradition_step_moves_the_request_and_its_redelivery_publishes_nothing() -> None:
    h = harness()
    _, request_id = await located_and_arrested(h)
    step = ExtraditionStepReported(
        extradition_request_id=request_id, step=ExtraditionStep.ARRESTED, on=date(2026, 11, 21)
    )
    [changed] = await h.send(step, markings=FGR, event_id="x-1")
    assert changed.type == STATUS
    assert (changed.data["previous_status"], changed.data["status"]) == ("provisional_arrest_requested", "arrested")
    assert await h.send(step, markings=FGR, event_id="x-1") == []


async def test_an_mlat_request_is_received_and_moved_and_redeliveries_publish_nothing() -> None:
    h = harness()
    received = MlatRequestReceived(
        mlat_reference="MLAT-2026-4",
        requesting_country="US",
        requested_country="MX",
        subject="bank records of Importadora del Norte",
        assistance=["records"],
    )
    [opened] = await h.send(received, markings=FGR, event_id="m-1")
    assert opened.type == MLAT
    assert (opened.data["mlat_reference"], opened.data["status"]) == ("MLAT-2026-4", "received")
    assert opened.data.get("previous_status") is None
    assert await h.send(received, markings=FGR, event_id="m-1") == []
    moved = MlatStatusReported(mlat_reference="MLAT-2026-4", requesting_country="US", status=MlatStatus.UNDER_REVIEW)
    [changed] = await h.send(moved, markings=FGR, event_id="m-2")
    assert (changed.data["previous_status"], changed.data["status"]) == ("received", "under_review")
    assert await h.send(moved, markings=FGR, event_id="m-2") == []


@pytest.mark.parametrize(
    ("news", "reason"),
    [
        (PersonMatchReviewed(match_id="PM-nope", decision="confirmed", analyst="an.17"), "no person_match PM-nope"),
        (
            ExtraditionStepReported(
                extradition_request_id="EX-nope", step=ExtraditionStep.ARRESTED, on=date(2026, 11, 21)
            ),
            "no extradition_request EX-nope",
        ),
        (
            MlatStatusReported(mlat_reference="MLAT-nope", requesting_country="US", status=MlatStatus.UNDER_REVIEW),
            "no MLAT request MLAT-nope from US",
        ),
    ],
)
async def test_news_of_a_missing_record_is_refused_with_a_reason(news: EventData, reason: str) -> None:
    with pytest.raises(DomainRuleViolation, match=reason):
        await harness().send(news, markings=FGR)


async def test_the_status_report_lists_only_priority_cases() -> None:
    h = harness()
    await register(h)
    await register(h, registered("FGR-2026-18", ORTIZ, priority=False))
    await detain(h, seizure(DETAINED, ORTIZ))
    assert len(h.records(ExtraditionRequests).heads) == 2
    for reference, priority in (("MLAT-1", True), ("MLAT-2", False)):
        mlat = MlatRequestReceived(
            mlat_reference=reference,
            requesting_country="MX",
            requested_country="US",
            subject="records",
            assistance=["records"],
            priority=priority,
        )
        await h.send(mlat, markings=FGR)
    [priority_case] = await h.repository(ExtraditionRequests).priority_cases()
    assert priority_case.person == DETAINED
    assert [m.mlat_reference for m in await h.repository(MlatRequests).priority_cases()] == ["MLAT-1"]

    [report] = await h.send(StatusReportRequested(language="es"), markings=FGR, event_id="rq-1")
    assert report.type == REPORT
    assert [x["extradition_request_id"] for x in report.data["extraditions"]] == [priority_case.id]
    assert [m["mlat_reference"] for m in report.data["mlat_requests"]] == ["MLAT-1"]
    assert report.data["totals"] == {"priority_extraditions": 1, "priority_mlat_requests": 1}
    assert report.markings.is_at_least_as_strict_as(CBP)  # never weaker than the cases it lists
    assert await h.send(StatusReportRequested(language="es"), markings=FGR, event_id="rq-1") == []


async def test_the_fugitive_index_loads_only_the_namesakes_the_matcher_may_take() -> None:
    """Candidates are weighed on their index cards; a namesake the matcher rules out is never loaded."""
    h = harness()
    await register(h)  # José Luis Hernández Garza
    namesake = Person(given_names="Juana", surnames=["Hernández", "Garza"], date_of_birth=date(1988, 3, 14))
    await register(h, registered("FGR-2026-18", namesake))
    await register(h, registered("FGR-2026-19", ORTIZ))
    fugitives = h.repository(Fugitives)
    records = h.records(Fugitives)
    loaded: list[str] = []
    get = records.get

    async def counting_get(record_id: str) -> dict[str, Any] | None:
        loaded.append(record_id)
        return await get(record_id)

    records.get = counting_get  # type: ignore[method-assign]
    found = await fugitives.filed_under(DETAINED)
    assert [f.fugitive_reference for f in found] == ["FGR-2026-17"]
    assert len(loaded) == 1
    read = {
        json.loads(c["summary"])["person"]["given_names"]
        for k in finding_keys(DETAINED)
        for c in await records.cards_filed_under(k)
    }
    assert read == {"José Luis", "Juana"}  # Juana's card was read (filed under Hernández); her record was not
    assert await fugitives.filed_under(OTHER_GARZA) == []

    # The other way round: a fugitive registered later finds the detained person, not their companion.
    await detain(h, seizure(DETAINED, JUANA, seizure_id="SZ-9"))
    wanted = await h.repository(DetainedPersons).filed_under(WANTED)
    assert [p.person.given_names for p in wanted] == ["JOSE LUIS"]


# -- who may act: the authenticated sender, never a data field (AP5, AP16; 1978 Treaty Art. 1, 10, 11) ----

MX_CA, US_CA = registered_sender("mx-fgr"), registered_sender("us-doj-oia")
OIA = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-doj-oia",))
SHARED_CBP = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))
US_ONLY_CBP = Markings(tlp=TLP.AMBER, releasable_to=("US",), originators=("us-cbp",))


async def located_for_mx(
    h: HandlerHarness[ExtraditionDeps], seizure_markings: Markings = SHARED_CBP
) -> tuple[str, str]:
    """MX's fugitive, registered by its central authority, located at a US seizure both countries may see."""
    await h.send(registered(), markings=FGR, sender=MX_CA)
    await h.send(seizure(DETAINED), markings=seizure_markings, source=INTERDICTION)
    [located] = committed(h, LOCATED)
    [arrest] = committed(h, ARREST)
    return located.data["match_id"], arrest.data["extradition_request_id"]


async def refusal_for_missing(news: EventData, sender: object) -> RecordNotYetKnown:
    with pytest.raises(RecordNotYetKnown) as missing:
        await harness().send(news, markings=OIA, sender=sender)  # type: ignore[arg-type]
    return missing.value


async def test_a_central_authority_registers_only_fugitives_its_own_country_wants() -> None:
    h = harness()
    squat = registered().model_copy(update={"person": ORTIZ})  # the US claiming MX's reference for MX
    with pytest.raises(DomainRuleViolation, match="wanted_by MX is not the sending agency's country"):
        await h.send(squat, markings=OIA, sender=US_CA)
    with pytest.raises(DomainRuleViolation, match="is not a central authority"):
        await h.send(squat, markings=FGR, sender=registered_sender("mx-anam"))
    assert h.records(Fugitives).heads == {}
    [recorded] = await h.send(registered(), markings=FGR, sender=MX_CA)  # the genuine one is recorded
    [stored] = h.records(Fugitives).heads.values()
    assert stored["person"]["surnames"] == ["Hernández", "Garza"]
    assert recorded.data["fugitive_id"] == stored["_id"]


async def test_the_other_countrys_central_authority_cannot_review_a_match_nor_withdraw_the_arrest() -> None:
    h = harness()
    match_id, request_id = await located_for_mx(h)
    rejected = PersonMatchReviewed.model_validate({"match_id": match_id, "decision": "rejected", "analyst": "x"})
    with pytest.raises(RecordNotYetKnown) as refused:
        await h.send(rejected, markings=OIA, sender=US_CA)
    # Told exactly what a match that does not exist is told; the dead letter's reason says why.
    unknown = PersonMatchReviewed.model_validate({"match_id": "PM-nope", "decision": "rejected", "analyst": "x"})
    nothing = await refusal_for_missing(unknown, US_CA)
    assert refused.value.public == f"no person_match {match_id}"
    assert nothing.public == "no person_match PM-nope"
    assert "wanted by MX" in str(refused.value)
    assert "MX" not in refused.value.public
    assert committed(h, DECIDED) == []
    assert committed(h, STATUS) == []
    request = await h.repository(ExtraditionRequests).get(request_id)
    assert request is not None
    assert request.status == "provisional_arrest_requested"
    # The requesting country's own central authority may.
    await h.send(rejected, markings=FGR, sender=MX_CA)
    [withdrawn] = committed(h, STATUS)
    assert withdrawn.data["status"] == "withdrawn"


async def test_a_match_the_reviewer_may_not_see_is_refused_as_not_known() -> None:
    h = harness()
    match_id, _ = await located_for_mx(h, US_ONLY_CBP)  # the seizure is releasable to the US only
    confirmed = PersonMatchReviewed.model_validate({"match_id": match_id, "decision": "rejected", "analyst": "x"})
    with pytest.raises(RecordNotYetKnown) as refused:
        await h.send(confirmed, markings=FGR, sender=MX_CA)
    assert refused.value.public == f"no person_match {match_id}"
    assert committed(h, DECIDED) == []


async def test_only_the_requesting_central_authority_reports_steps_and_others_learn_nothing() -> None:
    h = harness()
    _, request_id = await located_for_mx(h)
    step = ExtraditionStepReported(
        extradition_request_id=request_id, step=ExtraditionStep.WITHDRAWN, on=date(2026, 12, 1)
    )
    with pytest.raises(RecordNotYetKnown) as refused:
        await h.send(step, markings=OIA, sender=US_CA)
    assert refused.value.public == f"no extradition_request {request_id}"
    assert committed(h, STATUS) == []
    [changed] = await h.send(step, markings=FGR, sender=MX_CA)
    assert changed.data["status"] == "withdrawn"


async def test_a_step_the_request_cannot_take_does_not_tell_its_status() -> None:
    h = harness()
    _, request_id = await located_for_mx(h)
    step = ExtraditionStepReported(
        extradition_request_id=request_id, step=ExtraditionStep.GRANTED, on=date(2026, 12, 1)
    )
    with pytest.raises(DomainRuleViolation) as refused:
        await h.send(step, markings=FGR, sender=MX_CA)
    assert "provisional_arrest_requested" in str(refused.value)  # for the dead letter
    assert "provisional_arrest_requested" not in refused.value.public


MLAT_TO_MX = MlatRequestReceived(
    mlat_reference="MLAT-2026-4",
    requesting_country="US",
    requested_country="MX",
    subject="bank records of Importadora del Norte",
    assistance=["records"],
)


async def test_an_mlat_request_is_recorded_only_by_the_requested_countrys_central_authority() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="requested_country MX is not the sending agency's country"):
        await h.send(MLAT_TO_MX, markings=OIA, sender=US_CA)
    assert h.records(MlatRequests).heads == {}
    [opened] = await h.send(MLAT_TO_MX, markings=FGR, sender=MX_CA)
    assert opened.data["requested_country"] == "MX"


async def test_mlat_status_changes_reach_only_the_recording_authoritys_requests() -> None:
    h = harness()
    await h.send(MLAT_TO_MX, markings=FGR, sender=MX_CA)
    # A US request to the US from MX, with the same reference: its own record, not MX's.
    await h.send(
        MLAT_TO_MX.model_copy(update={"requesting_country": "MX", "requested_country": "US"}),
        markings=OIA,
        sender=US_CA,
    )
    assert len(h.records(MlatRequests).heads) == 2
    withdraw = MlatStatusReported(mlat_reference="MLAT-2026-4", requesting_country="US", status=MlatStatus.WITHDRAWN)
    with pytest.raises(RecordNotYetKnown, match="no MLAT request MLAT-2026-4 from US recorded by us-doj-oia"):
        await h.send(withdraw, markings=OIA, sender=US_CA)  # MX's request, named by its reference
    assert [m["status"] for m in h.records(MlatRequests).heads.values()] == ["received", "received"]
    [changed] = await h.send(withdraw, markings=FGR, sender=MX_CA)
    assert changed.data["status"] == "withdrawn"
