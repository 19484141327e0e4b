from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alliance.contracts.interdiction import MassUnit, SeizureRecorded, SeizureReported
from alliance.contracts.markings import TLP, Markings
from alliance.domain.units import to_kilograms
from interdiction.domain import Seizure, seizure_id
from payloads.interdiction import seizure_reported

MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",))


BRIDGE = {"description": "Colombia Solidarity Bridge", "country": "US", "port_of_entry": "Laredo"}


def report(**seizure: Any) -> SeizureReported:
    return SeizureReported.model_validate(seizure_reported("CBP-1", **{"place": BRIDGE, **seizure}))


@pytest.mark.parametrize(
    ("quantity", "unit", "kg"),
    [(1, MassUnit.KILOGRAM, 1), (500, MassUnit.GRAM, 0.5), (10, MassUnit.POUND, 4.535924), (2, MassUnit.TONNE, 2000)],
)
def test_quantities_are_normalised_to_kilograms(quantity: float, unit: MassUnit, kg: float) -> None:
    assert to_kilograms(quantity, unit) == pytest.approx(kg)


def test_recording_a_seizure_produces_seizure_recorded_with_kilograms() -> None:
    seizure = Seizure.record(
        report(
            drugs=[{"drug": "fentanyl", "quantity": 12, "unit": "lb"}, {"drug": "cocaine", "quantity": 3, "unit": "kg"}]
        ),
        reporting_source="urn:agency:us-cbp",
        markings=MARKINGS,
        recorded_at=datetime.now(UTC),
    )
    [fact] = seizure.pending_events
    assert isinstance(fact, SeizureRecorded)
    assert fact.seizure_id == seizure.id
    assert [d.quantity_kg for d in fact.drugs] == [pytest.approx(5.443108), 3.0]
    assert fact.total_drugs_kg == pytest.approx(8.443108)


def test_same_agency_reference_is_the_same_seizure() -> None:
    assert seizure_id("urn:agency:us-cbp", "CBP-1") == seizure_id("urn:agency:us-cbp", "CBP-1")
    assert seizure_id("urn:agency:us-cbp", "CBP-1") != seizure_id("urn:agency:mx-fgr", "CBP-1")


def test_an_empty_seizure_is_refused() -> None:
    with pytest.raises(ValidationError, match="must contain drugs, firearms"):
        report()


def test_a_firearm_needs_a_serial_unless_obliterated() -> None:
    with pytest.raises(ValidationError, match="serial_number is required"):
        report(firearms=[{"maker": "Glock", "firearm_type": "pistol"}])
    ok = report(firearms=[{"maker": "Glock", "firearm_type": "pistol", "serial_obliterated": True}])
    assert ok.seizure.firearms[0].serial_number is None


def test_unknown_fields_in_an_agency_report_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        SeizureReported.model_validate({"report_reference": "x", "seizure": {}, "sezure": {}})


# -- code lists, amendments, route reports, statistics ---------------------------------------------------

from alliance.contracts.interdiction import (  # noqa: E402
    RouteReportPublished,
    RouteReportSubmitted,
    SeizureAmended,
    SeizureCorrected,
)
from alliance.domain.errors import DomainRuleViolation  # noqa: E402
from alliance.domain.periods import Quarter  # noqa: E402
from interdiction.domain import CODES, RouteReport, SeizureStatistics  # noqa: E402

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def recorded(**seizure: Any) -> Seizure:
    return Seizure.record(report(**seizure), reporting_source="urn:agency:us-cbp", markings=MARKINGS, recorded_at=NOW)


def test_code_lists_carry_english_and_spanish_labels() -> None:
    for name in ("drug", "conveyance", "concealment_method", "transport_mode"):
        for c in CODES[name].codes:
            assert CODES[name].label(c, "en")
            assert CODES[name].label(c, "es")
    assert CODES["drug"].label("fentanyl", "es") == "Fentanilo"


def test_codes_are_normalised_and_unknown_codes_refused() -> None:
    s = recorded(
        drugs=[{"drug": "Fentanyl", "quantity": 1, "unit": "kg"}],
        conveyance={"kind": "Tractor-Trailer"},
        concealment_method="false floor",
    )
    assert s.contents.drugs[0].drug == "fentanyl"
    assert s.contents.conveyance is not None
    assert s.contents.conveyance.kind == "tractor_trailer"
    assert s.contents.concealment_method == "false_floor"
    with pytest.raises(DomainRuleViolation, match="not a known drug"):
        recorded(drugs=[{"drug": "unobtainium", "quantity": 1, "unit": "kg"}])


def amendment(**seizure: Any) -> SeizureAmended:
    return SeizureAmended.model_validate(
        {
            "report_reference": "CBP-1",
            "reason": "weights re-measured at the lab",
            "seizure": report(**seizure).seizure.model_dump(mode="json"),
        }
    )


def test_amendment_by_the_reporting_agency_produces_the_corrected_seizure() -> None:
    s = recorded(drugs=[{"drug": "cocaine", "quantity": 10, "unit": "kg"}])
    stricter = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-cbp",))
    s.amend(
        amendment(drugs=[{"drug": "cocaine", "quantity": 12.5, "unit": "kg"}]),
        source="urn:agency:us-cbp",
        markings=stricter,
    )
    corrected = s.pending_events[-1]
    assert isinstance(corrected, SeizureCorrected)
    assert (corrected.revision, corrected.total_drugs_kg) == (2, 12.5)
    assert corrected.amendment_reason == "weights re-measured at the lab"
    assert s.markings.tlp is TLP.RED


def test_only_the_reporting_agency_may_amend() -> None:
    s = recorded(drugs=[{"drug": "cocaine", "quantity": 10, "unit": "kg"}])
    with pytest.raises(DomainRuleViolation, match="can only be amended by"):
        s.amend(
            amendment(drugs=[{"drug": "cocaine", "quantity": 1, "unit": "kg"}]),
            source="urn:agency:mx-fgr",
            markings=MARKINGS,
        )


def test_route_report_is_published_with_bilingual_method_labels() -> None:
    r = RouteReport.submit(
        RouteReportSubmitted.model_validate(
            {
                "report_reference": "EPIC-RR-9",
                "kind": "concealment_method",
                "concealment_method": "tyres",
                "summary": "Fentanyl pills inside spare tyres of passenger vehicles at San Ysidro",
                "drugs": ["Fentanyl"],
                "modes": ["land"],
            }
        ),
        "urn:agency:us-epic",
        MARKINGS,
    )
    [published] = r.pending_events
    assert isinstance(published, RouteReportPublished)
    assert published.concealment_method_label == {"en": "Tyres", "es": "Llantas"}
    assert published.drugs == ["fentanyl"]


def test_quarterly_statistics_per_country_in_either_language() -> None:
    mx = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("MX", "US"), originators=("mx-fgr",))
    in_quarter = [
        recorded(
            drugs=[{"drug": "fentanyl", "quantity": 10, "unit": "lb"}],
            currency=[{"amount": 100, "currency": "USD"}],
            firearms=[{"serial_number": "A", "maker": "Colt", "firearm_type": "rifle"}],
        ),
        Seizure.record(
            report(
                drugs=[{"drug": "methamphetamine", "quantity": 2, "unit": "t"}],
                place={"description": "Tijuana", "country": "MX"},
                detained_persons=[{"given_names": "Ana", "surnames": ["Pérez", "Ruiz"]}],
            ),
            reporting_source="urn:agency:mx-fgr",
            markings=mx,
            recorded_at=NOW,
        ),
    ]
    outside = recorded(seized_at="2026-06-30T23:00:00+00:00", drugs=[{"drug": "cocaine", "quantity": 1, "unit": "kg"}])
    stats = SeizureStatistics.compile("ST-1", [*in_quarter, outside], MARKINGS, Quarter(2026, 4), ["MX", "US"], "es")
    us, mexico = stats.figures.countries["US"], stats.figures.countries["MX"]
    assert (us.seizures, us.firearms, us.currency, us.drugs_kg) == (1, 1, {"USD": 100.0}, {"Fentanilo": 4.536})
    assert (mexico.seizures, mexico.detained_persons, mexico.drugs_kg) == (1, 1, {"Metanfetamina": 2000.0})
    assert stats.markings.tlp is TLP.AMBER_STRICT  # never weaker than any seizure counted
    english = SeizureStatistics.compile("ST-2", [*in_quarter, outside], MARKINGS, Quarter(2026, 4), ["MX", "US"], "en")
    assert english.figures.countries["US"].drugs_kg == {"Fentanyl": 4.536}
