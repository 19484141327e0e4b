"""Statistical disclosure control of sanitised statistics: the rules as data, who may know a record, the
threshold and dominance rules against coalitions of agencies, breakdowns published whole, rounding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance.contracts.disclosure_control import disclosure_rules
from alliance.contracts.markings import TLP, Markings
from alliance.contracts.registry import Agency, AgencyKind, Registry, baseline_registry
from alliance.domain.disclosure_control import (
    Audiences,
    Breakdown,
    Cells,
    Subsets,
    controlled,
    failure,
    published_counts,
    require_closed,
    rounded,
    significant,
    withheld,
)
from alliance.domain.errors import DomainRuleViolation
from alliance.domain.periods import Quarter
from alliance.domain.release import audience

RULES = disclosure_rules()
REGISTRY = baseline_registry()
GREEN = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-cbp",))


def only(agency: str) -> Markings:
    """Seen by the agency that reported it and nobody else."""
    return Markings(tlp=TLP.RED, releasable_to=(), originators=(agency,), recipients=(agency,))


def knowers(markings: Markings) -> frozenset[str]:
    return audience(markings, REGISTRY)


# -- the rules are data, with their sources ---------------------------------------------------------------


def test_the_rules_are_data_that_name_the_practice_they_follow() -> None:
    names = " ".join(s.name for s in RULES.sources)
    assert "Statistical Policy Working Paper 22" in names  # FCSM (US)
    assert "Statistical Disclosure Control" in names  # the ESSnet handbook (Eurostat)
    assert (RULES.coalition_size.value, RULES.minimum_units.value) == (3, 3)
    assert (RULES.dominance.n, RULES.dominance.k_percent) == (2, 85)
    assert (RULES.rounding.count_base, RULES.rounding.amount_significant_figures) == (5, 3)
    assert all(rule.why for rule in (RULES.period, RULES.coalition_size, RULES.minimum_units, RULES.dominance))


# -- who may know a record --------------------------------------------------------------------------------


def test_a_record_is_known_to_its_originators_and_every_agency_its_markings_release_it_to() -> None:
    assert knowers(GREEN) == {a.id for a in REGISTRY.agencies}
    assert knowers(only("mx-semar")) == {"mx-semar"}
    us_amber = Markings(tlp=TLP.AMBER, releasable_to=("US",), originators=("us-cbp",))
    assert "mx-fgr" not in knowers(us_amber)
    assert "us-atf" in knowers(us_amber)
    cleared = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("MX", "US"), originators=("us-cbp",))
    assert "us-atf-lab" not in knowers(cleared.as_sent())  # AMBER+STRICT names its recipients
    orcon = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-cbp",), originator_control=True)
    assert knowers(orcon) == {"us-cbp"}  # no agency has CBP's consent


# -- the threshold rule and the dominance rule, against coalitions ------------------------------------------


def cells_of(*records: tuple[str, Markings, float]) -> Cells:
    cells = Cells()
    audiences = Audiences(REGISTRY)
    for unit, markings, value in records:
        cells.add("cell", unit, audiences.of(markings), value)
    return cells


def test_a_figure_from_fewer_than_three_seizures_is_withheld_even_when_everyone_may_see_them() -> None:
    assert failure(cells_of(("S1", GREEN, 1), ("S2", GREEN, 1)).contributions["cell"], RULES)
    assert failure(cells_of(*((f"S{i}", GREEN, 1) for i in range(3))).contributions["cell"], RULES) is None


def test_the_guns_of_one_seizure_are_one_contributor() -> None:
    cells = cells_of(*(("S1", GREEN, 1) for _ in range(5)))
    assert failure(cells.contributions["cell"], RULES) == "1 seizure(s), fewer than 3, unseen by an outsider"


def test_three_agencies_adding_two_records_each_do_not_lift_a_figure_over_the_threshold() -> None:
    # Seven seizures from four agencies: over a threshold of 3 records or of 3 agencies, yet the three
    # attackers, pooling what they know, would read the fourth agency's seizure back from the total.
    attackers = [(f"{a}-{i}", GREEN, 1.0) for a in ("mx-anam", "mx-fgr", "us-cbp") for i in range(2)]
    assert failure(cells_of(*attackers).contributions["cell"], RULES) is None  # six seizures everyone sees
    victim = ("semar-1", only("mx-semar"), 1.0)
    assert failure(cells_of(*attackers, victim).contributions["cell"], RULES) == (
        "1 seizure(s), fewer than 3, unseen by mx-anam"
    )
    own = [(f"{a}-{i}", only(a), 1.0) for a in ("mx-anam", "mx-fgr", "us-cbp") for i in range(2)]
    assert failure(cells_of(*own, victim).contributions["cell"], RULES) == (
        "2 seizure(s), fewer than 3, unseen by mx-anam, mx-fgr, mx-semar"  # they would learn CBP's two
    )


def test_a_figure_the_coalition_cannot_see_enough_of_is_withheld_and_enough_is_published() -> None:
    seen = [(f"g{i}", GREEN, 1.0) for i in range(10)]
    hidden = [(f"s{i}", only("mx-semar"), 1.0) for i in range(3)]
    assert failure(cells_of(*seen, *hidden[:2]).contributions["cell"], RULES)
    assert failure(cells_of(*seen, *hidden).contributions["cell"], RULES) is None  # a sum of three at least


def test_one_dominant_seizure_withholds_a_total_of_kilograms() -> None:
    semar = only("mx-semar")
    big = cells_of(("s1", semar, 900.0), ("s2", semar, 5.0), ("s3", semar, 5.0))
    assert "largest" in (failure(big.contributions["cell"], RULES) or "")
    even = cells_of(("s1", semar, 40.0), ("s2", semar, 35.0), ("s3", semar, 25.0), ("s4", semar, 20.0))
    assert failure(even.contributions["cell"], RULES) is None


def test_the_dominance_rule_looks_at_what_a_coalition_cannot_see() -> None:
    # Among all records the big one is 900 of 1,500; set aside the GREEN ones everyone sees and it is 900 of 910.
    green = [(f"g{i}", GREEN, 100.0) for i in range(6)]
    semar = only("mx-semar")
    cells = cells_of(*green, ("s1", semar, 900.0), ("s2", semar, 5.0), ("s3", semar, 5.0))
    assert "largest" in (failure(cells.contributions["cell"], RULES) or "")


# -- secondary suppression: breakdowns published whole or not at all ---------------------------------------


def table(parts: dict[str, list[tuple[str, Markings]]]) -> Cells:
    cells = Cells()
    audiences = Audiences(REGISTRY)
    for part, records in parts.items():
        for unit, markings in records:
            cells.add("total", unit, audiences.of(markings))
            cells.add(part, unit, audiences.of(markings))
    return cells


def test_a_withheld_part_takes_its_whole_breakdown_with_it_so_the_total_minus_the_rest_gives_nothing() -> None:
    green = [(f"g{i}", GREEN) for i in range(10)]
    many = [(f"s{i}", only("mx-semar")) for i in range(4)]
    status = Breakdown("by_status", ("completed", "in_progress", "not_completed"), "total")
    cells = table({"completed": green, "in_progress": many, "not_completed": [("v", only("us-atf"))]})
    assert withheld(cells, RULES, [status]) == {"by_status", "completed", "in_progress", "not_completed", "total"}
    fine = table({"completed": green, "in_progress": many})
    assert withheld(fine, RULES, [status]) == set()


def test_a_withheld_total_withholds_its_parts_and_a_failing_hidden_part_its_published_sibling() -> None:
    cells = table({"a": [("g1", GREEN), ("g2", GREEN), ("g3", GREEN)], "b": [("v", only("us-atf"))]})
    breakdown = Breakdown("ab", ("a", "b"), "total")
    assert withheld(cells, RULES, [breakdown], hidden=["b"]) == {"ab", "a", "total"}


def test_what_counts_some_of_a_withheld_figure_s_records_is_withheld_even_when_it_is_zero() -> None:
    cells = table({"a": [("v", only("us-atf"))]})
    assert withheld(cells, RULES, subsets=[Subsets("total", ("guns", "persons"))]) == {"a", "total", "guns", "persons"}


# -- rounding -------------------------------------------------------------------------------------------


def test_counts_are_rounded_to_the_nearest_multiple_of_five() -> None:
    assert [rounded(n, 5) for n in (0, 2, 3, 7, 8, 10, 12, 13)] == [0, 0, 5, 5, 10, 10, 10, 15]


@given(st.dictionaries(st.sampled_from("abcdefgh"), st.integers(min_value=0, max_value=500), min_size=1))
def test_controlled_rounding_keeps_the_parts_adding_up_to_their_rounded_total(parts: dict[str, int]) -> None:
    result = controlled(parts, 5)
    assert sum(result.values()) == rounded(sum(parts.values()), 5)
    assert all(n % 5 == 0 and abs(n - parts[k]) < 5 for k, n in result.items())
    assert controlled(parts, 5) == result  # no randomness: a second computation gives the same figures


def test_published_counts_of_a_breakdown_add_up_to_its_published_total() -> None:
    counts = {"total": 23, "a": 11, "b": 7, "c": 5}
    published = published_counts(counts, set(), 5, [Breakdown("parts", ("a", "b", "c"), "total")])
    assert published["total"] == 25
    assert published["a"] + published["b"] + published["c"] == 25


def test_amounts_keep_three_significant_figures() -> None:
    assert [significant(x, 3) for x in (1234.5, 0.012345, 45.359, 0.0)] == [1230.0, 0.0123, 45.4, 0.0]


# -- periods --------------------------------------------------------------------------------------------


def test_a_quarter_is_released_sanitised_only_after_it_closed_and_stayed_open_for_late_reports() -> None:
    q3 = Quarter.parse("2026-Q3")
    assert (q3.first_day.isoformat(), q3.last_day.isoformat()) == ("2026-07-01", "2026-09-30")
    with pytest.raises(DomainRuleViolation, match="2026-Q3 can be released sanitised from 2026-10-31"):
        require_closed(q3, datetime(2026, 10, 30, 23, 59, tzinfo=UTC), RULES)
    require_closed(q3, datetime(2026, 10, 31, tzinfo=UTC), RULES)
    with pytest.raises(DomainRuleViolation, match="not a calendar quarter"):
        Quarter.parse("2026-07-01/2026-09-30")


def test_an_unregistered_originator_still_knows_its_own_record() -> None:
    lone = Registry(version=1, agencies=(Agency(id="us-cbp", name="CBP", country="US", kind=AgencyKind.CUSTOMS),))
    assert audience(only("us-hsi"), lone) == {"us-hsi"}
