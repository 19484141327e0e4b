"""The release function: exhaustive over marking profiles for a small registry, and a property over any."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from alliance.contracts.markings import TLP, Markings, strictest
from alliance.contracts.registry import Agency, AgencyKind, Registry, baseline_registry
from alliance.domain.release import ReleaseRule, decide, decide_all, lost_access, may_see, reconfirmed

SEIZURE = "org.alliance.interdiction.seizure.recorded.v1"


def agency(id: str, country: str, clearance: TLP = TLP.RED, consents: tuple[str, ...] = ()) -> Agency:
    return Agency(
        id=id,
        name=id,
        country=country,
        kind=AgencyKind.CUSTOMS,
        receives=("org.alliance.interdiction.*",),
        clearance=clearance,
        orcon_consents=consents,
    )


REGISTRY = Registry(
    version=3,
    agencies=(
        agency("us-a", "US", consents=("mx-b",)),
        agency("mx-b", "MX"),
        agency("us-c", "US", clearance=TLP.AMBER),
        Agency(id="us-d", name="d", country="US", kind=AgencyKind.PROSECUTOR, receives=("org.alliance.firearms.*",)),
    ),
)


def allowed(markings: Markings, registry: Registry = REGISTRY, event_type: str = SEIZURE) -> set[str]:
    return {d.recipient for d in decide_all(markings, event_type, registry) if d.allowed}


def test_every_marking_profile_reaches_exactly_the_expected_recipients() -> None:
    countries = [("US",), ("MX",), ("MX", "US")]
    for tlp, releasable, orcon in itertools.product(TLP, countries, [False, True]):
        named = ("us-a", "us-c") if tlp in (TLP.AMBER_STRICT, TLP.RED) else ()
        m = Markings(
            tlp=tlp, releasable_to=releasable, originators=("us-a",), originator_control=orcon, recipients=named
        )
        expected = set()
        for a in ("us-a", "mx-b", "us-c"):
            country = "MX" if a == "mx-b" else "US"
            cleared = tlp.rank <= (TLP.AMBER.rank if a == "us-c" else TLP.RED.rank)
            named_ok = not named or a in named
            orcon_ok = not orcon or a in ("us-a", "mx-b")  # us-a originated; it consented to mx-b
            if country in releasable and cleared and named_ok and orcon_ok:
                expected.add(a)
        assert allowed(m) == expected, (tlp, releasable, orcon)


def test_each_denial_names_its_rule() -> None:
    m = Markings(tlp=TLP.AMBER_STRICT, releasable_to=("US",), originators=("us-a",), originator_control=True)
    assert decide(m, SEIZURE, "nobody", REGISTRY).rule is ReleaseRule.UNREGISTERED
    assert decide(m, SEIZURE, "us-d", REGISTRY).rule is ReleaseRule.NOT_ROUTED
    assert decide(m, SEIZURE, "mx-b", REGISTRY).rule is ReleaseRule.RELEASABILITY
    assert decide(m, SEIZURE, "us-c", REGISTRY).rule is ReleaseRule.CLEARANCE
    red = m.model_copy(update={"tlp": TLP.RED, "recipients": ("us-c",), "releasable_to": ("MX", "US")})
    assert decide(red, SEIZURE, "us-a", REGISTRY).rule is ReleaseRule.NAMED_ONLY
    orcon = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("mx-b",), originator_control=True)
    assert decide(orcon, SEIZURE, "us-a", REGISTRY).rule is ReleaseRule.ORCON
    assert decide(orcon, SEIZURE, "mx-b", REGISTRY).allowed


def test_an_agency_sending_red_is_among_its_named_recipients() -> None:
    sent = Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-a",), recipients=("us-c",)).as_sent()
    assert sent.recipients == ("us-a", "us-c")


def test_a_tightening_withdraws_from_exactly_those_who_received_and_lose_access() -> None:
    before = Markings(tlp=TLP.GREEN, releasable_to=("MX", "US"), originators=("us-a",))
    after = before.model_copy(update={"releasable_to": ("US",)})
    received = {"us-a": [SEIZURE], "mx-b": [SEIZURE]}
    assert lost_access(received, after, REGISTRY) == ["mx-b"]
    assert lost_access(received, before, REGISTRY) == []
    assert lost_access({"us-a": [SEIZURE]}, after, REGISTRY) == []  # mx-b never received it: never told


AGENCY_IDS = [a.id for a in baseline_registry().agencies]
markings_strategy = st.builds(
    lambda tlp, countries, originators, orcon, named: Markings(
        tlp=tlp,
        releasable_to=tuple(countries) if countries or tlp is TLP.RED else ("US",),
        originators=tuple(originators),
        originator_control=orcon,
        recipients=tuple(named) if tlp in (TLP.AMBER_STRICT, TLP.RED) else (),
    ),
    st.sampled_from(list(TLP)),
    st.sets(st.sampled_from(["US", "MX", "CA"]), max_size=3),
    st.sets(st.sampled_from(AGENCY_IDS), min_size=1, max_size=3),
    st.booleans(),
    st.sets(st.sampled_from(AGENCY_IDS), max_size=4),
)
event_types = st.sampled_from(
    [SEIZURE, "org.alliance.firearms.trace.completed.v1", "org.alliance.extradition.fugitive.located.v1"]
)


@settings(max_examples=400, deadline=None)
@given(markings_strategy, markings_strategy, event_types)
def test_stricter_markings_never_reach_more_recipients(a: Markings, b: Markings, event_type: str) -> None:
    registry = baseline_registry()
    combined = strictest([a, b])
    assert allowed(combined, registry, event_type) <= allowed(a, registry, event_type)
    assert allowed(combined, registry, event_type) <= allowed(b, registry, event_type)
    if b.is_at_least_as_strict_as(a):
        assert allowed(b, registry, event_type) <= allowed(a, registry, event_type)


def test_publication_narrows_what_the_stored_decisions_allow_and_never_widens_it() -> None:
    us_only = Markings(tlp=TLP.GREEN, releasable_to=("US",), originators=("us-a",))
    stored = [("mx-b", True, "released"), ("us-a", True, "released"), ("us-c", False, "clearance")]
    assert reconfirmed(stored, us_only, SEIZURE, REGISTRY) == [
        ("mx-b", False, "releasability"),  # the store said allowed; the markings do not
        ("us-a", True, "released"),
        ("us-c", False, "clearance"),  # allowed now, but denied when decided: stays denied
    ]
    notice = [("mx-b", True, "withdrawal"), ("gone", True, "withdrawal")]
    assert reconfirmed(notice, us_only, SEIZURE, REGISTRY) == [
        ("mx-b", True, "withdrawal"),
        ("gone", False, "unregistered"),
    ]


def test_who_may_see_a_record_is_the_release_rules_without_routing() -> None:
    shared = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("us-a",))
    assert may_see(shared, "us-d", REGISTRY)  # routed no interdiction fact, may still know of the record
    assert not may_see(shared.model_copy(update={"releasable_to": ("US",)}), "mx-b", REGISTRY)
    assert not may_see(shared.model_copy(update={"tlp": TLP.AMBER_STRICT}), "us-c", REGISTRY)  # clearance
    assert not may_see(shared, "unknown", REGISTRY)
    assert not may_see(shared, "us-c", None)  # deny by default


def test_an_agency_always_sees_what_only_it_originated() -> None:
    above_clearance = Markings(tlp=TLP.RED, releasable_to=(), originators=("us-c",), recipients=("us-a",))
    assert may_see(above_clearance, "us-c", REGISTRY)
    assert may_see(above_clearance, "us-c", None)
    mixed = above_clearance.model_copy(update={"originators": ("us-a", "us-c")})
    assert not may_see(mixed, "us-c", REGISTRY)  # a derived record: others' information too
