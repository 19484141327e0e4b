from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from alliance.contracts.chemicals import (
    DiversionAlertRaised,
    LegitimateNeedDeclared,
    PreExportNotificationRegistered,
    ReplyDecision,
)
from alliance.contracts.interdiction import SeizureRecorded
from alliance.contracts.markings import TLP, Markings
from alliance.domain.deadlines import DeadlineState
from alliance.domain.errors import DomainRuleViolation
from chemicals.domain import (
    REPLY_DEADLINE,
    ChemicalIncident,
    DiversionAlert,
    LegitimateNeed,
    NotificationStatus,
    PreExportNotification,
    diversion_evidence,
)
from chemicals.substances import catalogue
from payloads.chemicals import incident_reported, notification

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
US = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-dea",))
MX = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-cofepris",), originator_control=True)


def incident(**overrides: Any) -> ChemicalIncident:
    return ChemicalIncident.report(incident_reported(**overrides), "urn:agency:mx-fgr", MX)


def test_catalogue_has_both_tables_with_bilingual_names_and_cas_numbers() -> None:
    c = catalogue()
    assert len(c.table("I")) >= 20
    assert {s.code for s in c.table("II")} >= {"ACETONE", "TOLUENE", "SULPHURIC_ACID"}
    for term in ("P2P", "103-79-7", "1-phenyl-2-propanone", "1-FENIL-2-PROPANONA", "phenylacetone"):
        assert c.resolve(term) is not None
        assert c.resolve(term).code == "P2P"  # type: ignore[union-attr]
    assert c.resolve("efedrina").name_en == "ephedrine"  # type: ignore[union-attr]
    assert c.resolve("sugar") is None


def test_notification_registers_in_kilograms_and_starts_the_reply_clock() -> None:
    n = PreExportNotification.submit(notification(), US, NOW)
    assert n.quantity_kg == 2000
    assert n.status is NotificationStatus.AWAITING_REPLY
    deadline = n.deadline(REPLY_DEADLINE)
    assert deadline is not None
    assert deadline.due_at == NOW + timedelta(days=15)
    [event] = n.pending_events
    assert isinstance(event, PreExportNotificationRegistered)
    assert event.substance.code == "P2P"


def test_exporter_can_set_the_reply_deadline() -> None:
    n = PreExportNotification.submit(notification(reply_due_by="2026-11-05T12:00:00Z"), US, NOW)
    assert n.deadline(REPLY_DEADLINE).due_at == datetime(2026, 11, 5, 12, tzinfo=UTC)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"substance": "sugar"}, "not in Table I or II"),
        ({"importing_country": "US"}, "must differ"),
        ({"reply_due_by": "2026-10-01T00:00:00Z"}, "in the future"),
    ],
)
def test_invalid_notifications_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(DomainRuleViolation, match=message):
        PreExportNotification.submit(notification(**overrides), US, NOW)


def test_reply_closes_the_deadline_and_can_only_happen_once() -> None:
    n = PreExportNotification.submit(notification(), US, NOW)
    n.record_reply(ReplyDecision.NO_OBJECTION, None)
    assert n.status is NotificationStatus.NO_OBJECTION
    assert n.deadline(REPLY_DEADLINE).state is DeadlineState.MET  # type: ignore[union-attr]
    with pytest.raises(DomainRuleViolation, match="already answered"):
        n.record_reply(ReplyDecision.OBJECTION, "late")


def test_objection_needs_grounds() -> None:
    n = PreExportNotification.submit(notification(), US, NOW)
    with pytest.raises(DomainRuleViolation, match="grounds"):
        n.record_reply(ReplyDecision.OBJECTION, None)


def test_incident_naming_the_importer_matches_the_open_notification() -> None:
    n = PreExportNotification.submit(notification(), US, NOW)
    reasons = diversion_evidence(incident(), n)
    assert "importer Química del Norte, S.A. de C.V. named in the incident" in reasons
    assert any("on the notified route" in r for r in reasons)
    alert = DiversionAlert.for_incident(incident(), n, reasons)
    [raised] = alert.pending_events
    assert isinstance(raised, DiversionAlertRaised)
    assert raised.exporter.name == "Gulf Coast Solvents, Inc."
    assert raised.importer.name == "Química del Norte, S.A. de C.V."
    # the alert is at least as strict as both inputs: AMBER + ORCON from the incident
    assert alert.markings.tlp is TLP.AMBER
    assert alert.markings.originator_control
    assert alert.markings.originators == ("mx-cofepris", "us-dea")


def test_no_match_for_another_substance_a_refused_shipment_or_an_unrelated_place() -> None:
    n = PreExportNotification.submit(notification(), US, NOW)
    assert diversion_evidence(incident(substance="acetone"), n) == []
    assert diversion_evidence(incident(companies=[], place={"description": "Lima", "country": "PE"}), n) == []
    n.record_reply(ReplyDecision.OBJECTION, "importer not registered with COFEPRIS")
    assert diversion_evidence(incident(), n) == []


def test_order_far_above_legitimate_need_raises_an_alert() -> None:
    need = LegitimateNeed.declare(
        LegitimateNeedDeclared.model_validate(
            {
                "importer": {"name": "QUIMICA DEL NORTE SA DE CV", "country": "MX"},
                "substance": "P2P",
                "year": 2026,
                "annual_quantity": 300,
                "unit": "kg",
            }
        ),
        MX,
    )
    n = PreExportNotification.submit(notification(), US, NOW)
    assert need.id == LegitimateNeed.id_for(n.importer, "P2P", 2026)
    alert = DiversionAlert.for_excessive_order(n, need)
    assert alert is not None
    assert alert.evidence["ratio"] == pytest.approx(6.67)
    assert (
        DiversionAlert.for_excessive_order(
            PreExportNotification.submit(notification(quantity=500, unit="kg"), US, NOW), need
        )
        is None
    )


def test_precursor_in_a_seizure_becomes_an_incident_and_other_chemicals_do_not() -> None:
    seizure = SeizureRecorded.model_validate(
        {
            "seizure_id": "SZ-9",
            "report_reference": "R",
            "reporting_agency": "urn:agency:mx-semar",
            "recorded_at": NOW,
            "mode": "sea",
            "seized_at": "2026-11-28T10:00:00-06:00",
            "place": {"description": "Manzanillo", "country": "MX"},
            "chemicals": [
                {"substance": "P-2-P", "quantity": 800, "unit": "kg"},
                {"substance": "sodium chloride", "quantity": 5, "unit": "kg"},
            ],
        }
    )
    made = [ChemicalIncident.from_seizure(seizure, item, MX) for item in seizure.chemicals]
    assert made[1] is None
    assert made[0] is not None
    assert (made[0].substance.code, made[0].occurred_on, made[0].seizure_id) == ("P2P", date(2026, 11, 28), "SZ-9")
