import pytest

from alliance.contracts.markings import TLP, MarkingError, Markings, strictest


def m(tlp: str, countries: str = "MX,US", originators: str = "us-cbp", orcon: bool = False) -> Markings:
    return Markings(
        tlp=TLP(tlp),
        releasable_to=tuple(countries.split(",")) if countries else (),
        originators=tuple(originators.split(",")),
        originator_control=orcon,
    )


def test_strictest_takes_highest_tlp_common_countries_all_originators_and_any_orcon() -> None:
    combined = strictest([m("GREEN", "MX,US", "us-cbp"), m("AMBER", "US", "mx-fgr", orcon=True)])
    assert combined.tlp is TLP.AMBER
    assert combined.releasable_to == ("US",)
    assert combined.originators == ("mx-fgr", "us-cbp")
    assert combined.originator_control is True


def test_strictest_is_never_weaker_than_any_input() -> None:
    inputs = [m("CLEAR"), m("AMBER+STRICT", "MX"), m("GREEN", "MX,US", "us-atf", orcon=True)]
    combined = strictest(inputs)
    assert all(combined.is_at_least_as_strict_as(i) for i in inputs)


def test_disjoint_releasability_becomes_red() -> None:
    assert strictest([m("GREEN", "US"), m("GREEN", "MX")]).tlp is TLP.RED


def test_strictest_needs_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        strictest([])


def test_attributes_round_trip() -> None:
    original = m("AMBER+STRICT", "US,MX", "us-cbp,mx-sat", orcon=True)
    assert Markings.from_attributes(original.to_attributes()) == original


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"tlp": "AMBER", "releasableto": "US", "originator": "us-cbp"}, "missing marking attribute"),
        ({"tlp": "PURPLE", "releasableto": "US", "originator": "us-cbp", "orcon": "false"}, "unknown TLP"),
        ({"tlp": "AMBER", "releasableto": "USA", "originator": "us-cbp", "orcon": "false"}, "ISO alpha-2"),
        ({"tlp": "AMBER", "releasableto": "US", "originator": "us-cbp", "orcon": "maybe"}, "'true' or 'false'"),
        ({"tlp": "AMBER", "releasableto": "US", "originator": "", "orcon": "false"}, "invalid markings"),
        ({"tlp": "GREEN", "releasableto": "", "originator": "us-cbp", "orcon": "false"}, "only for TLP:RED"),
    ],
)
def test_malformed_markings_are_refused_with_a_reason(attributes: dict[str, str], message: str) -> None:
    with pytest.raises(MarkingError, match=message):
        Markings.from_attributes(attributes)


def test_tlp_prefix_and_case_are_tolerated() -> None:
    parsed = Markings.from_attributes(
        {"tlp": "tlp:amber", "releasableto": "US", "originator": "US-CBP", "orcon": "FALSE"}
    )
    assert parsed.tlp is TLP.AMBER
    assert parsed.originators == ("us-cbp",)
