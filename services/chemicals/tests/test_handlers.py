"""Chemicals handlers over in-memory repositories: no Kafka, no store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alliance.application.testing import HandlerHarness, registered_sender
from alliance.contracts.chemicals import (
    LegitimateNeedDeclared,
    PreExportNotificationReplied,
)
from alliance.contracts.envelope import CloudEvent
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import TLP, Markings
from alliance.domain.errors import DomainRuleViolation, RecordNotYetKnown
from alliance.domain.ids import derived_id
from alliance.domain.principals import Sender
from chemicals.domain import REPLY_DEADLINE, LegitimateNeed, NotificationStatus, PreExportNotification
from chemicals.handlers import ROUTES, ChemicalsDeps
from chemicals.store import (
    ChemicalIncidents,
    DiversionAlerts,
    LegitimateNeeds,
    PreExportNotifications,
)
from payloads.chemicals import incident_reported, notification
from payloads.interdiction import seizure_recorded

DEA = "urn:agency:us-dea"
FGR = "urn:agency:mx-fgr"
COFEPRIS = "urn:agency:mx-cofepris"
INTERDICTION = "urn:alliance:service:interdiction"
GREEN = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-dea",))
AMBER = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-fgr",), originator_control=True)
RED = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-hsi",))
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)

CHEM = "org.alliance.chemicals."
REGISTERED = CHEM + "pre_export_notification.registered.v1"
REPLY_RECORDED = CHEM + "pre_export_notification.reply_recorded.v1"
NEED_RECORDED = CHEM + "legitimate_need.recorded.v1"
INCIDENT_RECORDED = CHEM + "incident.recorded.v1"
ALERT_RAISED = CHEM + "diversion_alert.raised.v1"

NOTIFICATION_ID = PreExportNotification.id_for("US", "US-2026-0815")
INCIDENT_ID = derived_id("CI", FGR, "FGR-PICS-77")


def harness() -> HandlerHarness[ChemicalsDeps]:
    return HandlerHarness(ROUTES, ChemicalsDeps, service="chemicals")


def reply(decision: str = "no_objection", grounds: str | None = None) -> PreExportNotificationReplied:
    return PreExportNotificationReplied.model_validate(
        {"pen_reference": "US-2026-0815", "exporting_country": "US", "decision": decision, "grounds": grounds}
    )


NEED = LegitimateNeedDeclared.model_validate(
    {
        "importer": {"name": "QUIMICA DEL NORTE SA DE CV", "country": "MX"},
        "substance": "P2P",
        "year": 2026,
        "annual_quantity": 300,
        "unit": "kg",
    }
)


def seizure(*chemicals: dict[str, Any], corrected: bool = False) -> SeizureRecorded:
    """SEMAR's seizure of precursors off Manzanillo."""
    return seizure_recorded(
        "SZ-9",
        corrected=corrected,
        report_reference="SEMAR-2026-114",
        reporting_agency="urn:agency:mx-semar",
        recorded_at=NOW,
        mode="sea",
        seized_at="2026-11-28T10:00:00-06:00",
        place={"description": "Manzanillo", "country": "MX"},
        chemicals=list(chemicals),
    )


P2P = {"substance": "P-2-P", "quantity": 800, "unit": "kg"}
EPHEDRINE = {"substance": "efedrina", "quantity": 25, "unit": "kg"}
SALT = {"substance": "sodium chloride", "quantity": 5, "unit": "kg"}


def alerts(h: HandlerHarness[ChemicalsDeps]) -> list[CloudEvent]:
    return [p.event for p in h.published if p.event.type == ALERT_RAISED]


def of_type(facts: list[CloudEvent], event_type: str) -> list[CloudEvent]:
    return [f for f in facts if f.type == event_type]


# -- pre-export notifications and replies -----------------------------------------------------------------


async def test_a_notification_is_registered_with_its_reply_deadline_and_its_redelivery_publishes_nothing() -> None:
    h = harness()
    facts = await h.send(notification(), markings=GREEN, source=DEA, event_id="n-1", time=NOW)
    [registered] = facts
    assert registered.type == REGISTERED
    assert registered.data["notification_id"] == NOTIFICATION_ID
    assert (registered.data["substance"]["code"], registered.data["quantity_kg"]) == ("P2P", 2000)
    assert registered.data["status"] == "awaiting_reply"
    assert datetime.fromisoformat(registered.data["reply_due_at"]) == NOW + timedelta(days=15)
    assert await h.send(notification(), markings=GREEN, source=DEA, event_id="n-1", time=NOW) == []
    stored = await h.repository(PreExportNotifications).get(NOTIFICATION_ID)
    assert stored is not None
    assert stored.next_deadline_at() is not None  # the deadline clock watches it


async def test_a_notification_for_an_unscheduled_substance_is_refused() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="not in Table I or II"):
        await h.send(notification(substance="sugar"), markings=GREEN)
    assert h.records(PreExportNotifications).heads == {}


async def test_a_reply_is_recorded_once_closes_the_deadline_and_a_second_answer_is_refused() -> None:
    h = harness()
    await h.send(notification(), markings=GREEN, source=DEA)
    [recorded] = await h.send(reply(), markings=AMBER, source=COFEPRIS, event_id="r-1")
    assert recorded.type == REPLY_RECORDED
    assert (recorded.data["notification_id"], recorded.data["status"]) == (NOTIFICATION_ID, "no_objection")
    assert await h.send(reply(), markings=AMBER, source=COFEPRIS, event_id="r-1") == []  # the redelivery
    stored = await h.repository(PreExportNotifications).get(NOTIFICATION_ID)
    assert stored is not None
    assert stored.status is NotificationStatus.NO_OBJECTION
    assert stored.deadline(REPLY_DEADLINE) is not None
    assert stored.next_deadline_at() is None  # met: nothing left for the clock
    with pytest.raises(DomainRuleViolation, match="already answered"):
        await h.send(reply("objection", "late"), markings=AMBER, source=COFEPRIS, event_id="r-2")


async def test_a_reply_to_an_unknown_notification_is_refused_with_a_reason() -> None:
    with pytest.raises(DomainRuleViolation, match="no pre-export notification US-2026-0815 from US"):
        await harness().send(reply(), markings=AMBER)


async def test_a_red_reply_makes_the_notification_and_its_reply_fact_red() -> None:
    h = harness()
    await h.send(notification(), markings=GREEN, source=DEA)
    [recorded] = await h.send(reply(), markings=RED)
    assert recorded.markings.is_at_least_as_strict_as(RED)
    assert recorded.markings.is_at_least_as_strict_as(GREEN)


# -- legitimate needs and incidents -----------------------------------------------------------------------


async def test_a_legitimate_need_is_recorded_once() -> None:
    h = harness()
    [recorded] = await h.send(NEED, markings=AMBER, event_id="l-1")
    assert recorded.type == NEED_RECORDED
    assert recorded.data["legitimate_need_id"] == LegitimateNeed.id_for(NEED.importer, "P2P", 2026)
    assert recorded.data["annual_quantity_kg"] == 300
    assert await h.send(NEED, markings=AMBER, event_id="l-1") == []
    assert len(h.records(LegitimateNeeds).heads) == 1


async def test_an_incident_without_a_notified_shipment_is_recorded_once_and_raises_nothing() -> None:
    h = harness()
    [recorded] = await h.send(incident_reported(), markings=AMBER, source=FGR, event_id="i-1")
    assert recorded.type == INCIDENT_RECORDED
    assert (recorded.data["incident_id"], recorded.data["substance"]["code"]) == (INCIDENT_ID, "P2P")
    assert await h.send(incident_reported(), markings=AMBER, source=FGR, event_id="i-1") == []
    assert alerts(h) == []


async def test_a_seized_precursor_is_an_incident_other_chemicals_are_not_and_a_correction_adds_no_second() -> None:
    h = harness()
    facts = await h.send(seizure(P2P, SALT), markings=AMBER, source=INTERDICTION)
    [recorded] = of_type(facts, INCIDENT_RECORDED)
    assert (recorded.data["seizure_id"], recorded.data["substance"]["code"]) == ("SZ-9", "P2P")
    assert recorded.data["occurred_on"] == "2026-11-28"
    corrected = seizure({**P2P, "quantity": 820}, EPHEDRINE, corrected=True)
    [added] = of_type(await h.send(corrected, markings=AMBER, source=INTERDICTION), INCIDENT_RECORDED)
    assert added.data["substance"]["code"] == "EPHEDRINE"  # only the substance not seen before
    assert len(h.records(ChemicalIncidents).heads) == 2


async def test_a_precursor_seized_under_red_is_a_red_incident() -> None:
    facts = await harness().send(seizure(P2P), markings=RED, source=INTERDICTION)
    assert facts
    assert all(f.markings.is_at_least_as_strict_as(RED) for f in facts)


# -- matches from both sides (AP11) -----------------------------------------------------------------------

Step = Callable[[HandlerHarness[ChemicalsDeps]], Awaitable[list[CloudEvent]]]


def send_notification(h: HandlerHarness[ChemicalsDeps]) -> Awaitable[list[CloudEvent]]:
    return h.send(notification(), markings=GREEN, source=DEA)


def send_incident(h: HandlerHarness[ChemicalsDeps]) -> Awaitable[list[CloudEvent]]:
    return h.send(incident_reported(), markings=AMBER, source=FGR)


def send_seizure(h: HandlerHarness[ChemicalsDeps]) -> Awaitable[list[CloudEvent]]:
    return h.send(seizure(P2P), markings=AMBER, source=INTERDICTION)


def send_need(h: HandlerHarness[ChemicalsDeps]) -> Awaitable[list[CloudEvent]]:
    return h.send(NEED, markings=AMBER, source=COFEPRIS)


@pytest.mark.parametrize("notification_first", [True, False])
async def test_an_incident_and_a_notification_raise_one_alert_whichever_arrives_first(notification_first: bool) -> None:
    h = harness()
    steps: list[Step] = [send_notification, send_incident]
    for step in steps if notification_first else reversed(steps):
        await step(h)
    [alert] = alerts(h)
    assert alert.data["alert_id"] == derived_id("DA", NOTIFICATION_ID, INCIDENT_ID)
    assert (alert.data["notification_id"], alert.data["incident_id"]) == (NOTIFICATION_ID, INCIDENT_ID)
    assert alert.data["importer"]["name"] == "Química del Norte, S.A. de C.V."
    assert alert.data["evidence"]["matched_on"] == [
        "importer Química del Norte, S.A. de C.V. named in the incident",
        "MX is on the notified route within 90 days of the shipment date",
    ]
    assert alert.markings.is_at_least_as_strict_as(AMBER)  # ORCON of the incident is kept
    assert alert.markings.is_at_least_as_strict_as(GREEN)


@pytest.mark.parametrize("notification_first", [True, False])
async def test_a_seized_precursor_and_a_notification_raise_one_alert_whichever_arrives_first(
    notification_first: bool,
) -> None:
    h = harness()
    steps: list[Step] = [send_notification, send_seizure]
    for step in steps if notification_first else reversed(steps):
        await step(h)
    [alert] = alerts(h)
    assert alert.data["incident_id"] == derived_id("CI", "SZ-9", "P2P")
    assert alert.data["evidence"]["matched_on"] == ["MX is on the notified route within 90 days of the shipment date"]


@pytest.mark.parametrize("need_first", [True, False])
async def test_an_order_far_above_the_legitimate_need_raises_one_alert_whichever_arrives_first(
    need_first: bool,
) -> None:
    h = harness()
    steps: list[Step] = [send_need, send_notification]
    for step in steps if need_first else reversed(steps):
        await step(h)
    [alert] = alerts(h)
    assert alert.data["alert_id"] == derived_id("DA", NOTIFICATION_ID, "excessive-order")
    assert alert.data["evidence"]["ratio"] == pytest.approx(6.67)
    assert "incident_id" not in alert.data


async def test_an_order_within_the_legitimate_need_raises_nothing() -> None:
    h = harness()
    await send_need(h)
    await h.send(notification(quantity=500, unit="kg"), markings=GREEN, source=DEA)
    assert alerts(h) == []


async def test_an_incident_after_an_objection_raises_nothing() -> None:
    h = harness()
    await send_notification(h)
    await h.send(reply("objection", "importer not registered with COFEPRIS"), markings=AMBER)
    await send_incident(h)
    assert alerts(h) == []


async def test_an_alert_from_a_red_us_only_incident_is_at_least_as_strict_as_it() -> None:
    h = harness()
    await send_notification(h)
    await h.send(incident_reported(), markings=RED, source=FGR)
    [alert] = alerts(h)
    assert alert.markings.is_at_least_as_strict_as(RED)
    assert alert.markings.is_at_least_as_strict_as(GREEN)


async def test_an_alert_from_a_red_need_is_at_least_as_strict_as_it() -> None:
    h = harness()
    await h.send(NEED, markings=RED)
    await send_notification(h)
    [alert] = alerts(h)
    assert alert.markings.is_at_least_as_strict_as(RED)


# -- interrupted reactions are completed by the redelivery, once ------------------------------------------


async def test_a_notification_stored_before_a_crash_is_matched_on_redelivery_once() -> None:
    h = harness()
    await send_incident(h)
    await send_need(h)
    h.records(PreExportNotifications).fail_after_commits = 1  # stored, then the process "dies"
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(notification(), markings=GREEN, source=DEA, event_id="n-1")
    assert h.records(DiversionAlerts).heads == {}
    for _ in range(2):  # the redelivery, then one more
        await h.send(notification(), markings=GREEN, source=DEA, event_id="n-1")
    assert sorted(a.data["alert_id"] for a in alerts(h)) == sorted(
        [derived_id("DA", NOTIFICATION_ID, INCIDENT_ID), derived_id("DA", NOTIFICATION_ID, "excessive-order")]
    )
    assert len(h.records(DiversionAlerts).heads) == 2


async def test_an_incident_stored_before_a_crash_is_matched_on_redelivery_once() -> None:
    h = harness()
    await send_notification(h)
    h.records(ChemicalIncidents).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(incident_reported(), markings=AMBER, source=FGR, event_id="i-1")
    assert alerts(h) == []
    for _ in range(2):
        await h.send(incident_reported(), markings=AMBER, source=FGR, event_id="i-1")
    [alert] = alerts(h)
    assert alert.data["incident_id"] == INCIDENT_ID


async def test_a_need_stored_before_a_crash_is_checked_on_redelivery_once() -> None:
    h = harness()
    await send_notification(h)
    h.records(LegitimateNeeds).fail_after_commits = 1
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(NEED, markings=AMBER, event_id="l-1")
    assert alerts(h) == []
    for _ in range(2):
        await h.send(NEED, markings=AMBER, event_id="l-1")
    [alert] = alerts(h)
    assert alert.data["alert_id"] == derived_id("DA", NOTIFICATION_ID, "excessive-order")


async def test_a_seizure_interrupted_after_its_first_precursor_is_completed_on_redelivery_once() -> None:
    h = harness()
    await send_notification(h)
    await h.send(notification(pen_reference="US-2026-0816", substance="ephedrine"), markings=GREEN, source=DEA)
    h.records(ChemicalIncidents).fail_after_commits = 1  # the P2P incident is stored, then the process "dies"
    with pytest.raises(RuntimeError, match="injected"):
        await h.send(seizure(P2P, EPHEDRINE), markings=AMBER, source=INTERDICTION, event_id="s-1")
    assert len(h.records(ChemicalIncidents).heads) == 1
    for _ in range(2):
        await h.send(seizure(P2P, EPHEDRINE), markings=AMBER, source=INTERDICTION, event_id="s-1")
    assert len(h.records(ChemicalIncidents).heads) == 2
    assert sorted(a.data["substance"]["code"] for a in alerts(h)) == ["EPHEDRINE", "P2P"]


# -- who may act: the authenticated sender, never a data field (AP11; 1988 Convention Art. 12(10)) ---------

US_DEA, MX_COFEPRIS = registered_sender("us-dea"), registered_sender("mx-cofepris")
SHARED_DEA = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-dea",))
SHARED_COFEPRIS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-cofepris",))


def committed_types(h: HandlerHarness[ChemicalsDeps]) -> list[str]:
    return [p.event.type for p in h.published]


async def test_only_the_exporting_countrys_authority_notifies_an_export() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match="exporting_country US is not the sending agency's country"):
        await h.send(notification(), markings=SHARED_COFEPRIS, sender=MX_COFEPRIS)  # MX posing as the exporter
    with pytest.raises(DomainRuleViolation, match="is not a competent"):
        await h.send(notification(), markings=GREEN, sender=registered_sender("us-cbp"))
    assert h.records(PreExportNotifications).heads == {}
    await h.send(notification(), markings=SHARED_DEA, sender=US_DEA)  # the genuine one is recorded, as DEA's
    [stored] = h.records(PreExportNotifications).heads.values()
    assert stored["notified_by"] == "us-dea"


async def test_another_agency_reusing_a_notifications_reference_is_refused_not_dropped() -> None:
    h = harness()
    await h.send(notification(), markings=SHARED_DEA, sender=US_DEA)
    other = Sender("us-dea-2", "US", "chemical_authority")  # a second US authority
    with pytest.raises(DomainRuleViolation) as refused:
        await h.send(notification(quantity=9), markings=GREEN, sender=other)
    assert "already another agency's" in refused.value.public
    assert "us-dea" not in refused.value.public
    [stored] = h.records(PreExportNotifications).heads.values()
    assert stored["quantity_kg"] == 2000  # DEA's notification, untouched


async def test_only_the_importing_countrys_authority_answers_and_others_learn_nothing() -> None:
    h = harness()
    await h.send(notification(), markings=SHARED_DEA, sender=US_DEA)
    with pytest.raises(RecordNotYetKnown) as refused:
        await h.send(reply("objection", "no such importer"), markings=SHARED_DEA, sender=US_DEA)  # the exporter
    with pytest.raises(RecordNotYetKnown) as unknown:
        await harness().send(reply(), markings=SHARED_DEA, sender=US_DEA)
    assert refused.value.public == unknown.value.public == "no pre-export notification US-2026-0815 from US"
    assert "MX" in str(refused.value)  # the dead letter says whose it is
    assert committed_types(h) == [REGISTERED]
    await h.send(reply(), markings=SHARED_COFEPRIS, sender=MX_COFEPRIS)
    assert committed_types(h) == [REGISTERED, REPLY_RECORDED]


async def test_a_second_answer_is_refused_without_telling_the_first() -> None:
    h = harness()
    await h.send(notification(), markings=SHARED_DEA, sender=US_DEA)
    await h.send(reply("objection", "unknown importer"), markings=SHARED_COFEPRIS, sender=MX_COFEPRIS)
    with pytest.raises(DomainRuleViolation) as refused:
        await h.send(reply(), markings=SHARED_COFEPRIS, sender=MX_COFEPRIS)
    assert "objection" in str(refused.value)
    assert "objection" not in refused.value.public


async def test_only_the_importers_country_declares_its_legitimate_need_once() -> None:
    h = harness()
    with pytest.raises(DomainRuleViolation, match=r"importer\.country MX is not the sending agency's country"):
        await h.send(NEED, markings=SHARED_DEA, sender=US_DEA)  # the US setting a Mexican importer's need
    assert h.records(LegitimateNeeds).heads == {}
    await h.send(NEED, markings=SHARED_COFEPRIS, sender=MX_COFEPRIS)
    second = Sender("mx-cofepris-2", "MX", "chemical_authority")
    bigger = NEED.model_copy(update={"annual_quantity": 90_000})
    with pytest.raises(DomainRuleViolation) as refused:
        await h.send(bigger, markings=SHARED_COFEPRIS, sender=second)
    assert "already another agency's declaration" in refused.value.public
    [stored] = h.records(LegitimateNeeds).heads.values()
    assert (stored["declared_by"], stored["annual_quantity_kg"]) == ("mx-cofepris", 300)
