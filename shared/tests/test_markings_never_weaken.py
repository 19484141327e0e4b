"""Markings never weaken, in any domain: a property over every service's handlers and reactions.

For each service a scenario, told in the domain's language, sends every kind of event its routes take,
in an order that makes the cross-record reactions happen (matches, alerts, indicators, links, deadline
policies). Every step's markings are drawn at random. Whatever they are:

1. every fact a delivery publishes is at least as strict as the event that caused it;
2. every fact about a record (its CloudEvent ``subject``) is at least as strict as every input that
   changed that record before, or while, the fact was raised;
3. a reaction that draws on records other inputs made (an alert, a match, a link, a statistic) is at
   least as strict as those inputs: each step names them (``reacting={Fact: [earlier steps]}``), which
   also asserts that the reaction happened.

Each scenario must deliver something to every route of its service: a new route without a step fails.
"""

from __future__ import annotations

import asyncio
import typing
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance.application.records import Commit
from alliance.application.repository import Repository
from alliance.application.testing import HandlerHarness
from alliance.contracts.base import EventData
from alliance.contracts.chemicals import (
    DiversionAlertRaised,
    LegitimateNeedDeclared,
    PreExportNotificationReplied,
)
from alliance.contracts.common import Person
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.extradition import (
    ExtraditionStatusChanged,
    ExtraditionStep,
    ExtraditionStepReported,
    FugitiveLinkedToTrace,
    FugitiveLocated,
    MlatRequestReceived,
    MlatStatus,
    MlatStatusReported,
    PersonMatchDecided,
    PersonMatchReviewed,
    ProvisionalArrestRequested,
    StatusReportPublished,
    StatusReportRequested,
)
from alliance.contracts.firearms import (
    RestorationRequested,
    RestorationResultReported,
    TraceCompleted,
    TraceRequestAcknowledged,
    TraceRequestSubmitted,
    TraceStatisticsPublished,
    TraceStatisticsRequested,
    TraffickingIndicatorRaised,
)
from alliance.contracts.interdiction import (
    RouteReportSubmitted,
    SeizureAmended,
    SeizureRecorded,
    SeizureReported,
    SeizureStatisticsPublished,
    SeizureStatisticsRequested,
)
from alliance.contracts.markings import NAMED_ONLY, TLP, Markings
from alliance.contracts.money_laundering import (
    AssetForfeited,
    AssetForfeitureRecorded,
    AssetSeized,
    AssetSharingProposed,
    CompanyFlagged,
    CrossBorderFiguresReported,
    InvestigationOpened,
    MoneyLaunderingAlertRaised,
    SubjectLinked,
)
from alliance.contracts.topics import EXTRADITION_EVENTS, MONEY_LAUNDERING_EVENTS
from chemicals.handlers import ROUTES as CHEMICALS_ROUTES
from chemicals.handlers import ChemicalsDeps
from chemicals.store import ChemicalIncidents, DiversionAlerts
from extradition.handlers import ROUTES as EXTRADITION_ROUTES
from extradition.handlers import ExtraditionDeps
from extradition.store import DetainedPersons, ExtraditionRequests, PersonMatches
from firearms.handlers import ROUTES as FIREARMS_ROUTES
from firearms.handlers import FirearmsDeps
from firearms.settings import FirearmsSettings
from firearms.store import RestorationRequests, TraceRequests
from interdiction.handlers import ROUTES as INTERDICTION_ROUTES
from interdiction.handlers import InterdictionDeps
from interdiction.store import Seizures
from money_laundering.handlers import ROUTES as MONEY_LAUNDERING_ROUTES
from money_laundering.handlers import MoneyLaunderingDeps
from money_laundering.store import Alerts, Assets
from payloads.chemicals import IMPORTER, incident_reported, notification
from payloads.extradition import WANTED, fugitive_registration
from payloads.firearms import GLOCK, export_licence, trace_completed, trace_result
from payloads.interdiction import seizure_recorded
from payloads.money_laundering import ANA, ANA_PARTY, bank_report, declaration

D = TypeVar("D")
EXAMPLES = 150  # per service; each example plays the whole scenario

# -- markings an agency may send ---------------------------------------------------------------------

AGENCIES = ("us-cbp", "us-atf", "us-dea", "mx-fgr", "mx-uif", "mx-semar")


@st.composite
def sent_markings(draw: st.DrawFn) -> Markings:
    """Any valid markings: a TLP level, releasable to MX and/or US (to none only when RED), one to three
    originators, ORCON or not, and named recipients for TLP:AMBER+STRICT and TLP:RED."""
    tlp = draw(st.sampled_from(list(TLP)))
    countries = draw(st.sets(st.sampled_from(("MX", "US")), min_size=0 if tlp is TLP.RED else 1))
    originators = draw(st.sets(st.sampled_from(AGENCIES), min_size=1, max_size=3))
    named = tlp.value in NAMED_ONLY
    recipients = draw(st.sets(st.sampled_from(AGENCIES), min_size=1, max_size=3)) if named else set()
    return Markings(
        tlp=tlp,
        releasable_to=tuple(countries),
        originators=tuple(originators),
        originator_control=draw(st.booleans()),
        recipients=tuple(recipients),
    )


# -- the harness, recording what each delivery committed ---------------------------------------------


@dataclass(frozen=True)
class Delivery:
    step: str
    cause: CloudEvent | None  # None: the deadline clock, which is no input
    commits: list[Commit]


class RecordingHarness(HandlerHarness[D]):
    """The unit-test harness, keeping each delivery's cause and the record versions it committed."""

    def __init__(self, routes: Sequence[Any], deps_type: type[D], **options: Any) -> None:
        super().__init__(routes, deps_type, **options)
        hints = typing.get_type_hints(deps_type)
        self.kinds = [t for t in hints.values() if isinstance(t, type) and issubclass(t, Repository)]
        self.step = ""
        self.deliveries: list[Delivery] = []
        self.routed: set[tuple[str, str]] = set()

    async def deliver(self, event: CloudEvent, topic: str) -> list[CloudEvent]:
        before = self._journal_sizes()
        facts = await super().deliver(event, topic)
        self.routed.add((topic, event.type))
        self.deliveries.append(Delivery(self.step, event, self._commits_since(before)))
        return facts

    async def clock(self, moment: datetime, service: str, kinds: Sequence[type[Repository[Any]]] = ()) -> None:
        """The deadline clock escalates, at ``moment``, every record of ``kinds`` (default: all it watches)."""
        before = self._journal_sizes()
        for kind in kinds or [k for k in self.kinds if k.deadlines]:
            for record_id in list(self.records(kind).heads):
                await self.repository(kind).escalate_deadlines(record_id, moment, service)
        self.deliveries.append(Delivery(self.step, None, self._commits_since(before)))

    def _journal_sizes(self) -> dict[type[Repository[Any]], int]:
        return {kind: len(self.records(kind).journal) for kind in self.kinds}

    def _commits_since(self, sizes: dict[type[Repository[Any]], int]) -> list[Commit]:
        return [c for kind in self.kinds for c in list(self.records(kind).journal.values())[sizes[kind] :]]


def require_at_least(fact: CloudEvent, than: Markings, what: str) -> None:
    if not fact.markings.is_at_least_as_strict_as(than):
        raise AssertionError(
            f"{fact.type} about {fact.subject} is weaker than {what}:\n  fact:  {fact.markings!r}\n  input: {than!r}"
        )


class Run(Generic[D]):
    """One scenario under drawn markings: named steps, and the three checks after each of them."""

    def __init__(self, harness: RecordingHarness[D], data: st.DataObject) -> None:
        self.h = harness
        self.data = data
        self.inputs: dict[str, Markings] = {}  # step → the markings its event was sent with
        self.changed_by: defaultdict[str, list[tuple[str, Markings]]] = defaultdict(list)  # record → inputs
        self.checked = 0

    async def send(
        self,
        step: str,
        event: EventData,
        *,
        source: str,
        reacting: Mapping[type[EventData], Sequence[str]] | None = None,
    ) -> list[CloudEvent]:
        """Deliver ``event`` under markings drawn for this step; ``reacting`` names, per fact type the
        step must raise, the earlier steps whose information it carries."""
        assert step not in self.inputs, f"step names must be unique: {step!r}"
        markings = self.data.draw(sent_markings(), label=step)
        self.inputs[step] = markings
        self.h.step = step
        facts = await self.h.send(event, markings=markings, source=source)
        self._check(step, facts, reacting or {})
        return facts

    async def clock(
        self, step: str, moment: datetime, service: str, kinds: Sequence[type[Repository[Any]]] = ()
    ) -> list[CloudEvent]:
        """The deadline clock: its escalations are facts about records, caused by no input."""
        self.h.step = step
        before = len(self.h.published)
        await self.h.clock(moment, service, kinds)
        facts = [p.event for p in self.h.published[before:]]
        assert facts, f"step {step!r} should escalate a deadline: the scenario no longer reaches one"
        self._check(step, facts, {})
        return facts

    async def settle(
        self, step: str, own_topic: str, reacting: Mapping[type[EventData], Sequence[str]] | None = None
    ) -> list[CloudEvent]:
        """The service's policies on its own facts, each fact delivered as the cause of what follows."""
        self.h.step = step
        facts = await self.h.settle(own_topic=own_topic)
        self._check(step, facts, reacting or {})
        return facts

    def _check(self, step: str, facts: list[CloudEvent], reacting: Mapping[type[EventData], Sequence[str]]) -> None:
        for delivery in self.h.deliveries[self.checked :]:
            self._check_delivery(delivery)
        self.checked = len(self.h.deliveries)
        for kind, sources in reacting.items():
            raised = [f for f in facts if f.type == kind.EVENT_TYPE]
            assert raised, f"step {step!r} should raise {kind.__name__}: the scenario no longer reacts"
            for fact in raised:
                for source in sources:
                    require_at_least(fact, self.inputs[source], f"step {source!r}, whose information it carries")

    def _check_delivery(self, delivery: Delivery) -> None:
        if delivery.cause is not None:
            for commit in delivery.commits:
                self.changed_by[commit.record_id].append((delivery.step, delivery.cause.markings))
        for commit in delivery.commits:
            for pending in commit.events:
                fact = pending.event
                assert fact.subject is not None, f"{fact.type} has no subject"
                if delivery.cause is not None:
                    cause = f"its cause {delivery.cause.type} in step {delivery.step!r}"
                    require_at_least(fact, delivery.cause.markings, cause)
                for step, markings in self.changed_by[fact.subject]:
                    require_at_least(fact, markings, f"step {step!r}, which changed that record")

    def require_stored_at_least(
        self, step: str, kind: type[Repository[Any]], derived: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> None:
        """Every stored record of ``kind`` that ``derived`` picks (derived, before or now, from the input of
        ``step``) is at least as strict as that input: a correction that tightens reaches records that
        existed before it, not only new ones."""
        heads = [doc for doc in self.h.records(kind).heads.values() if derived(doc)]
        assert heads, f"no {kind.__name__} record derived from step {step!r}: the scenario no longer reaches one"
        for doc in heads:
            stored = Markings.model_validate(doc["markings"])
            if not stored.is_at_least_as_strict_as(self.inputs[step]):
                raise AssertionError(
                    f"{kind.__name__} {doc['_id']} stayed weaker than step {step!r}:\n"
                    f"  stored: {stored!r}\n  input:  {self.inputs[step]!r}"
                )

    def assert_every_route_was_delivered(self) -> None:
        missing = {(r.topic, r.event.EVENT_TYPE) for r in self.h.routes} - self.h.routed
        assert not missing, f"routes without a scenario step: {sorted(missing)}"


Scenario = Callable[[Run[D]], Awaitable[None]]


def play(harness: Callable[[], RecordingHarness[D]], scenario: Scenario[D], data: st.DataObject) -> None:
    async def main() -> None:
        run = Run(harness(), data)
        await scenario(run)
        run.assert_every_route_was_delivered()

    asyncio.run(main())


def only(facts: list[CloudEvent], kind: type[EventData]) -> CloudEvent:
    [fact] = [f for f in facts if f.type == kind.EVENT_TYPE]
    return fact


PROPERTY = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# -- people, places and agencies the scenarios share ---------------------------------------------------

CBP, FGR, DEA, EPIC = "urn:agency:us-cbp", "urn:agency:mx-fgr", "urn:agency:us-dea", "urn:agency:us-epic"
DDTC, NTC, LAB, COFEPRIS = "urn:agency:us-ddtc", "urn:agency:us-atf-ntc", "urn:agency:us-lab", "urn:agency:mx-cofepris"
UIF, BANK = "urn:agency:mx-uif", "urn:agency:mx-banco-del-norte"
INTERDICTION = "urn:alliance:service:interdiction"
FIREARMS = "urn:alliance:service:firearms"
CHEMICALS = "urn:alliance:service:chemicals"
LAREDO = {"description": "Laredo, southbound", "country": "US", "port_of_entry": "Laredo"}
SEIZED_AT = "2026-11-20T14:30:00-06:00"
A_YEAR_ON = datetime(2027, 12, 1, tzinfo=UTC)  # every deadline the scenarios set has passed


def person(given: str, surnames: list[str], born: date) -> Person:
    return Person(given_names=given, surnames=surnames, date_of_birth=born)


def seizure_fact(seizure_id: str, corrected: bool = False, **contents: Any) -> SeizureRecorded:
    """Interdiction's fact about a seizure (at Laredo, southbound, unless ``contents`` say otherwise)."""
    fields = {"report_reference": f"REF-{seizure_id}", "place": LAREDO, **contents}
    return seizure_recorded(seizure_id, corrected=corrected, **fields)


# -- interdiction (AP2, AP10, AP14) -------------------------------------------------------------------


def interdiction() -> RecordingHarness[InterdictionDeps]:
    return RecordingHarness(INTERDICTION_ROUTES, InterdictionDeps, service="interdiction")


def seizure_reported(reference: str, country: str, drug: str, kilograms: float) -> dict[str, Any]:
    place = {"description": "Laredo" if country == "US" else "Nuevo Laredo", "country": country}
    seizure = {
        "mode": "land",
        "seized_at": SEIZED_AT,
        "place": place,
        "drugs": [{"drug": drug, "quantity": kilograms, "unit": "kg"}],
    }
    return {"report_reference": reference, "seizure": seizure}


async def interdiction_scenario(run: Run[InterdictionDeps]) -> None:
    cbp_seizure, fgr_seizure = "CBP seizes cocaine at Laredo", "FGR seizes fentanyl at Nuevo Laredo"
    weighed = "CBP amends its seizure after the lab weighs it"
    await run.send(
        cbp_seizure, SeizureReported.model_validate(seizure_reported("CBP-1", "US", "cocaine", 10)), source=CBP
    )
    await run.send(
        fgr_seizure, SeizureReported.model_validate(seizure_reported("FGR-7", "MX", "fentanyl", 4)), source=FGR
    )
    amended = {**seizure_reported("CBP-1", "US", "cocaine", 12.5), "reason": "weights re-measured at the lab"}
    await run.send(weighed, SeizureAmended.model_validate(amended), source=CBP)
    resent = "FGR sends its seizure report again, under other markings"
    await run.send(resent, SeizureReported.model_validate(seizure_reported("FGR-7", "MX", "fentanyl", 4)), source=FGR)
    run.require_stored_at_least(resent, Seizures, lambda doc: doc["report_reference"] == "FGR-7")
    route_report = {
        "report_reference": "EPIC-RR-9",
        "kind": "concealment_method",
        "concealment_method": "tyres",
        "summary": "Fentanyl pills inside spare tyres of passenger vehicles at San Ysidro",
        "drugs": ["fentanyl"],
        "modes": ["land"],
    }
    await run.send("EPIC shares a concealment method", RouteReportSubmitted.model_validate(route_report), source=EPIC)
    await run.send(
        "the binational group asks for the quarter's statistics",
        SeizureStatisticsRequested(year=2026, quarter=4),
        source=FGR,
        reacting={SeizureStatisticsPublished: [cbp_seizure, fgr_seizure, weighed, resent]},
    )


@PROPERTY
@given(st.data())
def test_interdiction_never_weakens_markings(data: st.DataObject) -> None:
    play(interdiction, interdiction_scenario, data)


# -- firearms (AP6, AP7) ------------------------------------------------------------------------------


def firearms() -> RecordingHarness[FirearmsDeps]:
    return RecordingHarness(FIREARMS_ROUTES, FirearmsDeps, settings=FirearmsSettings(), service="firearms")


DEFACED = {"serial_obliterated": True, "maker": "Taurus", "firearm_type": "pistol"}
RIFLE = {"serial_number": "CR-5567", "maker": "Century Arms", "firearm_type": "rifle"}


async def firearms_scenario(run: Run[FirearmsDeps]) -> None:
    licence = "DDTC licenses a Glock's export to Mexico"
    seizure = "interdiction records a Glock and a pistol with a defaced serial"
    glock_traced = "the tracing centre completes the Glock's trace"
    await run.send(licence, export_licence(), source=DDTC)
    facts = await run.send(
        seizure,
        seizure_fact("SZ-1", firearms=[GLOCK, DEFACED]),
        source=INTERDICTION,
        reacting={TraffickingIndicatorRaised: [licence]},  # the licensed gun was recovered in a crime
    )
    glock = only(facts, TraceRequestSubmitted).data["trace_request_id"]
    restoration = only(facts, RestorationRequested).data["restoration_request_id"]
    rifle = "interdiction corrects the seizure: a rifle was found too"
    await run.send(
        rifle,
        seizure_fact("SZ-1", corrected=True, firearms=[GLOCK, DEFACED, RIFLE]),
        source=INTERDICTION,
        reacting={TraceRequestSubmitted: []},
    )
    run.require_stored_at_least(rifle, TraceRequests, lambda doc: doc["seizure_id"] == "SZ-1")
    run.require_stored_at_least(rifle, RestorationRequests, lambda doc: doc["seizure_id"] == "SZ-1")
    await run.send(
        "the tracing centre takes the Glock's trace up",
        TraceRequestAcknowledged(trace_request_id=glock, tracing_center_reference="NTC-77"),
        source=NTC,
    )
    await run.send(glock_traced, trace_result(glock), source=NTC, reacting={TraceCompleted: []})
    facts = await run.send(
        "the laboratory restores the defaced serial",
        RestorationResultReported.model_validate(
            {"restoration_request_id": restoration, "outcome": "restored", "restored_serial_number": "TX-4411"}
        ),
        source=LAB,
        reacting={TraceRequestSubmitted: [seizure]},  # the restored serial is traced
    )
    restored = only(facts, TraceRequestSubmitted).data["trace_request_id"]
    await run.send(
        "the tracing centre completes the restored pistol's trace: the same buyer",
        trace_result(restored, sale_date="2026-08-15"),
        source=NTC,
        reacting={TraffickingIndicatorRaised: []},  # short time-to-crime, and a repeat purchaser
    )
    await run.send(
        "the group asks for November's trace statistics",
        TraceStatisticsRequested(period_start=date(2026, 11, 1), period_end=date(2026, 11, 30)),
        source=FGR,
        reacting={TraceStatisticsPublished: list(run.inputs)},  # every gun and restoration is counted
    )
    await run.clock("a year on, the rifle's trace is still unanswered", A_YEAR_ON, "firearms")


@PROPERTY
@given(st.data())
def test_firearms_never_weakens_markings(data: st.DataObject) -> None:
    play(firearms, firearms_scenario, data)


async def test_firearms_a_correction_of_a_traced_gun_never_yields_a_weaker_fact() -> None:
    h = firearms()
    green = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-cbp",))
    red = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-cbp", "us-hsi"))
    await h.send(export_licence(), markings=green, source=DDTC)
    misread = seizure_fact("SZ-1", firearms=[{**GLOCK, "serial_number": "AAA111"}])
    await h.send(misread, markings=green, source=INTERDICTION)
    corrected = seizure_fact("SZ-1", corrected=True, firearms=[GLOCK])  # the serial was misread: BXR123
    facts = await h.send(corrected, markings=red, source=INTERDICTION)
    for fact in facts:
        require_at_least(fact, red, "the correction it was derived from")
    # The request stored for that gun took the correction's markings: whatever it raises later is RED.
    [trace] = h.records(TraceRequests).heads.values()
    assert Markings.model_validate(trace["markings"]).is_at_least_as_strict_as(red)


# -- chemicals (AP11) ---------------------------------------------------------------------------------


def chemicals() -> RecordingHarness[ChemicalsDeps]:
    return RecordingHarness(CHEMICALS_ROUTES, ChemicalsDeps, service="chemicals")


async def chemicals_scenario(run: Run[ChemicalsDeps]) -> None:
    need = "COFEPRIS declares Química del Norte's yearly need for P2P"
    p2p = "DEA notifies a two-tonne P2P export to Química del Norte"
    answered = "Mexico answers the P2P notification: no objection"
    ephedrine = "DEA notifies an ephedrine export to Química del Norte"
    declared = {"importer": IMPORTER, "substance": "P2P", "year": 2026, "annual_quantity": 300, "unit": "kg"}
    await run.send(need, LegitimateNeedDeclared.model_validate(declared), source=COFEPRIS)
    await run.send(
        p2p,
        notification(),
        source=DEA,
        reacting={DiversionAlertRaised: [need]},  # far above the declared need
    )
    reply = {"pen_reference": "US-2026-0815", "exporting_country": "US", "decision": "no_objection"}
    await run.send(answered, PreExportNotificationReplied.model_validate(reply), source=COFEPRIS)
    await run.send(
        ephedrine,
        notification(pen_reference="US-2026-0816", substance="ephedrine", quantity=100, unit="kg"),
        source=DEA,
    )
    await run.send(
        "FGR stops a P2P shipment naming Química del Norte",
        incident_reported(),
        source=FGR,
        reacting={DiversionAlertRaised: [p2p, answered]},
    )
    manzanillo = {
        "place": {"description": "Manzanillo", "country": "MX"},
        "mode": "sea",
        "seized_at": "2026-11-28T10:00:00-06:00",
    }
    p2p_seized = {"substance": "P-2-P", "quantity": 800, "unit": "kg"}
    await run.send(
        "SEMAR seizes P2P at Manzanillo",
        seizure_fact("SZ-9", chemicals=[p2p_seized], **manzanillo),
        source=INTERDICTION,
        reacting={DiversionAlertRaised: [p2p, answered]},
    )
    corrected = "SEMAR's seizure is corrected: ephedrine was aboard too"
    await run.send(
        corrected,
        seizure_fact(
            "SZ-9",
            corrected=True,
            chemicals=[p2p_seized, {"substance": "efedrina", "quantity": 25, "unit": "kg"}],
            **manzanillo,
        ),
        source=INTERDICTION,
        reacting={DiversionAlertRaised: [ephedrine]},
    )
    from_sz9 = {doc["_id"] for doc in run.h.records(ChemicalIncidents).heads.values() if doc["seizure_id"] == "SZ-9"}
    run.require_stored_at_least(corrected, ChemicalIncidents, lambda doc: doc["_id"] in from_sz9)
    run.require_stored_at_least(corrected, DiversionAlerts, lambda doc: doc.get("incident_id") in from_sz9)
    await run.clock("a year on, the ephedrine notification is still unanswered", A_YEAR_ON, "chemicals")


@PROPERTY
@given(st.data())
def test_chemicals_never_weakens_markings(data: st.DataObject) -> None:
    play(chemicals, chemicals_scenario, data)


# -- money laundering (AP12, AP13) --------------------------------------------------------------------


def money_laundering() -> RecordingHarness[MoneyLaunderingDeps]:
    return RecordingHarness(
        MONEY_LAUNDERING_ROUTES, MoneyLaunderingDeps, service="money_laundering", events_topic=MONEY_LAUNDERING_EVENTS
    )


PEDRO = person("Pedro", ["Ortega", "Vidal"], date(1979, 5, 5))
WINDOW_CLOSED = datetime(2026, 11, 23, tzinfo=UTC)


def naming(company: str, country: str) -> dict[str, Any]:
    return {"subjects": [{"kind": "company", "company_name": company, "country": country}]}


def cash_seized(seizure_id: str, carrier: Person, *cash: tuple[float, str], corrected: bool = False) -> SeizureRecorded:
    return seizure_fact(
        seizure_id,
        corrected=corrected,
        currency=[{"amount": amount, "currency": currency} for amount, currency in cash],
        detained_persons=[carrier.model_dump(mode="json")],
    )


DIVERSION = DiversionAlertRaised.model_validate(
    {
        "alert_id": "DA-1",
        "reason": "incident matches an open pre-export notification",
        "exporter": {"name": "Gulf Coast Solvents, Inc.", "country": "US"},
        "importer": IMPORTER,
        "substance": {"code": "P2P", "table": "I", "cas": "103-79-7", "name_en": "P-2-P", "name_es": "P-2-P"},
        "notification_id": "PN-1",
        "pen_reference": "US-2026-0815",
    }
)


def forfeiture(asset_id: str) -> AssetForfeited:
    return AssetForfeited(
        asset_id=asset_id, legal_basis="21 U.S.C. 881", forfeited_amount=24000, ordered_on=date(2027, 2, 1)
    )


async def money_laundering_scenario(run: Run[MoneyLaunderingDeps]) -> None:
    # Financial intelligence: structuring, an answering SAR, and figures that do not reconcile.
    facts = await run.send(
        "a bank reports three cash deposits by Ana just under the threshold",
        bank_report(9500, 9800, 9000, reference="STR-1"),
        source=BANK,
        reacting={MoneyLaunderingAlertRaised: []},  # structuring
    )
    structuring = only(facts, MoneyLaunderingAlertRaised).data["alert_id"]
    await run.send(
        "the bank's SAR answers the structuring alert",
        bank_report(9500, reference="SAR-1", report_code="SAR", alert_id=structuring),
        source=BANK,
    )
    us_figures = "the US reports October's southbound currency"
    figures = {"from_country": "US", "to_country": "MX", "year": 2026, "month": 10}
    await run.send(
        us_figures, CrossBorderFiguresReported(reporting_country="US", total_usd=1_000_000, **figures), source=UIF
    )
    await run.send(
        "Mexico reports a figure that does not reconcile",
        CrossBorderFiguresReported(reporting_country="MX", total_usd=700_000, **figures),
        source=UIF,
        reacting={MoneyLaunderingAlertRaised: [us_figures]},
    )

    # Flow 3: a company named in reports and flagged for precursor diversion, whichever comes first.
    named_before = "a bank reports a payment naming Química del Norte"
    flagged = "chemicals raises a diversion alert on Química del Norte's P2P"
    await run.send(
        named_before, bank_report(250000, reference="STR-2", **naming("QUIMICA DEL NORTE SA DE CV", "MX")), source=BANK
    )
    await run.send(flagged, DIVERSION, source=CHEMICALS, reacting={MoneyLaunderingAlertRaised: [named_before]})
    await run.send(
        "a bank reports a transfer from the flagged exporter",
        bank_report(250000, reference="STR-3", **naming("GULF COAST SOLVENTS", "US")),
        source=BANK,
        reacting={MoneyLaunderingAlertRaised: [flagged]},
    )
    await run.send(
        "chemicals raises a second diversion alert on the same companies: an excessive order",
        DIVERSION.model_copy(update={"alert_id": "DA-2", "reason": "order far above the declared legitimate need"}),
        source=CHEMICALS,
        reacting={CompanyFlagged: []},
    )

    # Flow 2: declared and seized currency, the declaration window, forfeiture and sharing.
    anas_declaration = "CBP records Ana's declaration of 25,000 dollars"
    await run.send(anas_declaration, declaration(25000, reference="CMIR-1"), source=CBP)
    facts = await run.send(
        "interdiction records 25,000 dollars seized from Ana at Laredo",
        cash_seized("SZ-1", ANA, (25000, "USD")),
        source=INTERDICTION,
        reacting={AssetSeized: []},
    )
    anas_dollars = only(facts, AssetSeized).data["asset_id"]
    facts = await run.send(
        "interdiction records 40,000 dollars seized from Pedro at Laredo",
        cash_seized("SZ-2", PEDRO, (40000, "USD")),
        source=INTERDICTION,
    )
    pedros_dollars = only(facts, AssetSeized).data["asset_id"]
    await run.send(
        "CBP records Pedro's declaration, reported late",
        declaration(40000, reference="CMIR-2", traveller=PEDRO),
        source=CBP,
    )
    pesos = "interdiction corrects Ana's seizure: 50,000 undeclared pesos too"
    await run.send(pesos, cash_seized("SZ-1", ANA, (25000, "USD"), (50000, "MXN"), corrected=True), source=INTERDICTION)
    run.require_stored_at_least(pesos, Assets, lambda doc: doc["seizure_id"] == "SZ-1")  # the dollars too
    await run.clock("the declaration windows close", WINDOW_CLOSED, "money_laundering", [Assets])
    await run.settle(
        "the undeclared pesos are an alert",
        own_topic=MONEY_LAUNDERING_EVENTS,
        reacting={MoneyLaunderingAlertRaised: [pesos]},
    )
    recounted = "interdiction corrects Ana's seizure again once the alert is out"
    await run.send(
        recounted, cash_seized("SZ-1", ANA, (25000, "USD"), (50000, "MXN"), corrected=True), source=INTERDICTION
    )
    anas_assets = {doc["_id"] for doc in run.h.records(Assets).heads.values() if doc["seizure_id"] == "SZ-1"}
    run.require_stored_at_least(recounted, Assets, lambda doc: doc["_id"] in anas_assets)
    run.require_stored_at_least(recounted, Alerts, lambda doc: doc["evidence"].get("asset_id") in anas_assets)
    await run.send(
        "a court orders the forfeiture of Ana's declared dollars",
        forfeiture(anas_dollars),
        source=CBP,
        reacting={AssetForfeitureRecorded: [anas_declaration], AssetSharingProposed: [anas_declaration]},
    )
    await run.send("a court orders the forfeiture of Pedro's dollars", forfeiture(pedros_dollars), source=CBP)

    # Flow 5: traced guns' purchasers among an investigation's subjects, whichever comes first.
    pedro_bought = "firearms completes a trace: Pedro bought the gun"
    opened = "UIF opens an investigation into Ana and Pedro"
    await run.send(pedro_bought, trace_completed(PEDRO, "TR-2"), source=FIREARMS)
    subjects = [ANA_PARTY, {"kind": "person", "person": PEDRO.model_dump(mode="json")}]
    investigation = {"investigation_reference": "UIF-7", "agency": "UIF", "subjects": subjects, "coordinated": True}
    await run.send(
        opened, InvestigationOpened.model_validate(investigation), source=UIF, reacting={SubjectLinked: [pedro_bought]}
    )
    await run.send(
        "firearms completes a trace: Ana bought a gun",
        trace_completed(ANA, "TR-1"),
        source=FIREARMS,
        reacting={SubjectLinked: [opened]},
    )
    await run.clock("a year on, the clock escalates every deadline still open", A_YEAR_ON, "money_laundering")
    await run.settle("the window policy leaves other deadlines alone", own_topic=MONEY_LAUNDERING_EVENTS)


@PROPERTY
@given(st.data())
def test_money_laundering_never_weakens_markings(data: st.DataObject) -> None:
    play(money_laundering, money_laundering_scenario, data)


# -- extradition (AP5, AP16) --------------------------------------------------------------------------


def extradition() -> RecordingHarness[ExtraditionDeps]:
    return RecordingHarness(EXTRADITION_ROUTES, ExtraditionDeps, service="extradition", events_topic=EXTRADITION_EVENTS)


JOSE_AS_DETAINED = person("JOSE LUIS", ["HERNANDEZ"], date(1988, 3, 14))
RAMON = person("Ramón", ["Ortiz", "Vega"], date(1975, 7, 7))


def detained(*people: Person, corrected: bool = False) -> SeizureRecorded:
    return seizure_fact("SZ-1", corrected=corrected, detained_persons=[p.model_dump(mode="json") for p in people])


def review(match_id: str, decision: str) -> PersonMatchReviewed:
    return PersonMatchReviewed.model_validate({"match_id": match_id, "decision": decision, "analyst": "an.17"})


async def extradition_scenario(run: Run[ExtraditionDeps]) -> None:
    ramon_bought = "firearms completes a trace: Ramón Ortiz bought a rifle"
    jose_wanted = "FGR registers José Luis Hernández as a fugitive"
    jose_detained = "interdiction records José Luis detained at Laredo"
    ramon_detained = "interdiction corrects the seizure: Ramón Ortiz was detained too"
    ramon_wanted = "FGR registers Ramón Ortiz as a fugitive"
    arrested = "Mexico's central authority reports José Luis's arrest"
    mlat, reviewed = "the US receives Mexico's request for bank records", "the request for bank records is under review"
    await run.send(ramon_bought, trace_completed(RAMON, "TR-2"), source=FIREARMS)
    await run.send(jose_wanted, fugitive_registration("FGR-2026-17", WANTED), source=FGR)
    facts = await run.send(
        jose_detained,
        detained(JOSE_AS_DETAINED),
        source=INTERDICTION,
        reacting={FugitiveLocated: [jose_wanted], ProvisionalArrestRequested: [jose_wanted]},
    )
    jose_match = only(facts, FugitiveLocated).data["match_id"]
    jose_request = only(facts, ProvisionalArrestRequested).data["extradition_request_id"]
    await run.send(ramon_detained, detained(JOSE_AS_DETAINED, RAMON, corrected=True), source=INTERDICTION)
    # José Luis was detained, matched and his arrest requested before the correction: all of it takes it.
    run.require_stored_at_least(ramon_detained, DetainedPersons)
    run.require_stored_at_least(ramon_detained, PersonMatches, lambda doc: doc["_id"] == jose_match)
    run.require_stored_at_least(ramon_detained, ExtraditionRequests, lambda doc: doc["_id"] == jose_request)
    facts = await run.send(
        ramon_wanted,
        fugitive_registration("FGR-2026-18", RAMON, priority=False),
        source=FGR,
        reacting={
            FugitiveLocated: [ramon_detained],
            ProvisionalArrestRequested: [ramon_detained],
            FugitiveLinkedToTrace: [ramon_bought],
        },
    )
    ramon_match = only(facts, FugitiveLocated).data["match_id"]
    await run.send(
        "firearms completes a trace: José Luis bought a pistol",
        trace_completed(person("Jose Luis", ["Hernandez", "Garza"], date(1988, 3, 14)), "TR-1"),
        source=FIREARMS,
        reacting={FugitiveLinkedToTrace: [jose_wanted]},
    )
    await run.send(
        "an analyst confirms José Luis's match",
        review(jose_match, "confirmed"),
        source=FGR,
        reacting={PersonMatchDecided: [jose_wanted, jose_detained]},
    )
    await run.send(
        "an analyst rejects Ramón's match: the provisional arrest is withdrawn",
        review(ramon_match, "rejected"),
        source=FGR,
        reacting={
            PersonMatchDecided: [ramon_detained, ramon_wanted],
            ExtraditionStatusChanged: [ramon_detained, ramon_wanted],
        },
    )
    await run.send(
        arrested,
        ExtraditionStepReported(
            extradition_request_id=jose_request, step=ExtraditionStep.ARRESTED, on=date(2026, 11, 21)
        ),
        source=FGR,
        reacting={ExtraditionStatusChanged: [jose_wanted, jose_detained]},
    )
    request = {
        "mlat_reference": "MLAT-2026-4",
        "requesting_country": "MX",
        "requested_country": "US",
        "subject": "bank records of Importadora del Norte",
        "assistance": ["records"],
        "priority": True,
    }
    await run.send(mlat, MlatRequestReceived.model_validate(request), source=FGR)
    moved = MlatStatusReported(mlat_reference="MLAT-2026-4", requesting_country="MX", status=MlatStatus.UNDER_REVIEW)
    await run.send(reviewed, moved, source=FGR)
    await run.send(
        "the central authorities ask for the priority-case report",
        StatusReportRequested(language="es"),
        source=FGR,
        reacting={StatusReportPublished: [jose_wanted, jose_detained, arrested, mlat, reviewed]},
    )
    await run.clock("a year on, no formal request and no reply to the MLAT request", A_YEAR_ON, "extradition")


@PROPERTY
@given(st.data())
def test_extradition_never_weakens_markings(data: st.DataObject) -> None:
    play(extradition, extradition_scenario, data)
