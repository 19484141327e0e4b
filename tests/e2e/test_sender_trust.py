"""Data fields are held to the authenticated sender, and refusals tell an agency nothing of others' records.

Tried from outside, on the real broker and store, with the agencies' own credentials: a field naming a
country or a role is checked against the sender's registry entry, a reference is the sending agency's
own, a central authority reviews only its own country's matches, and a refusal about a record the
sender may not see or act on reads exactly like one about a record that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from harness import (
    Agency,
    Producers,
    Record,
    System,
    kafka_login,
    read_all,
    read_until,
    recorded_seizure_id,
    wait_drained,
)
from payloads.extradition import fugitive_registered
from payloads.interdiction import COCAINE, seizure_reported
from payloads.money_laundering import currency_declaration

pytestmark = pytest.mark.e2e

ML = "org.alliance.money_laundering."
X = "org.alliance.extradition."
REJECTED = "org.alliance.event.rejected.v1"


def rejections(agency: Agency, ids: set[str]) -> Any:
    def select(records: list[Record]) -> list[dict[str, Any]]:
        return [r.json() for r in records if r.type == REJECTED and r.json().get("rejected_event_id") in ids]

    return select


async def replies_to(system: System, agency: Agency, ids: set[str], timeout: float = 90) -> dict[str, str]:
    """The rejection reason of each event, as the agency itself reads its reply stream (exactly one each)."""
    topic = system.topic(agency.reply_topic_suffix)
    select = rejections(agency, ids)
    await read_until(
        [topic], lambda rs: {r["rejected_event_id"] for r in select(rs)} >= ids, timeout, kafka_login(agency.agency)
    )
    found = select(await read_all([topic], login=kafka_login(agency.agency)))
    assert sorted(r["rejected_event_id"] for r in found) == sorted(ids)  # one rejection per event, no more
    return {r["rejected_event_id"]: r["reason"] for r in found}


def declaration(reference: str, filed_in: str, amount: float) -> dict[str, Any]:
    """Rosa Ibarra Meza declares ``amount`` USD entering ``filed_in`` at Nuevo Laredo."""
    rosa = {"given_names": "Rosa", "surnames": ["Ibarra", "Meza"], "date_of_birth": "1979-09-09"}
    return currency_declaration(
        amount, reference=reference, traveller=rosa, direction="inbound", filed_in=filed_in, port="Nuevo Laredo"
    )


async def test_an_agency_reusing_anothers_reference_leaves_both_records_each_its_senders(
    system: System, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    reference = f"DECL-{run}"
    intake = system.topic("alliance.money_laundering.intake")
    anam, uif = Agency(producer, "mx-anam"), Agency(producer, "mx-uif")
    await uif.send(intake, declaration(reference, "MX", 22_222), event_type=ML + "currency_declaration.filed.v1")
    await anam.send(intake, declaration(reference, "MX", 11_111), event_type=ML + "currency_declaration.filed.v1")

    events = system.topic("alliance.money_laundering.events")

    def recorded(records: list[Record]) -> list[Record]:
        return [
            r
            for r in records
            if r.type == ML + "currency_declaration.recorded.v1" and r.json()["declaration_reference"] == reference
        ]

    await read_until([events], lambda rs: len(recorded(rs)) >= 2)
    await wait_drained(system.group("money_laundering", "intake"), [intake])
    both = recorded(await read_all([events]))
    assert len({r.json()["declaration_id"] for r in both}) == 2  # two records, not one taken by the first
    by_sender = {r.headers["ce_originator"]: r.json()["amount"] for r in both}
    assert by_sender == {"mx-uif": 22_222, "mx-anam": 11_111}


async def test_fields_naming_another_country_are_refused_with_a_reason(system: System, producer: Producers) -> None:
    run = uuid.uuid4().hex[:6]
    oia, cbp, uif = Agency(producer, "us-doj-oia"), Agency(producer, "us-cbp"), Agency(producer, "mx-uif")
    extradition, money = system.topic("alliance.extradition.intake"), system.topic("alliance.money_laundering.intake")
    person = {"given_names": "Ramón", "surnames": ["Ortiz", f"Vega{run}"], "date_of_birth": "1975-07-07"}
    sent = {
        await oia.send(
            extradition,
            fugitive_registered(f"FGR-{run}", person, charges=["homicidio"]),
            event_type=X + "fugitive.registered.v1",
        ): (oia, "wanted_by MX is not the sending agency's country (US)"),
        await oia.send(
            extradition,
            {
                "mlat_reference": f"MLAT-{run}",
                "requesting_country": "US",
                "requested_country": "MX",
                "subject": "bank records",
                "assistance": ["records"],
            },
            event_type=X + "mlat_request.received.v1",
        ): (oia, "requested_country MX is not the sending agency's country (US)"),
        await cbp.send(
            money, declaration(f"DECL-{run}", "MX", 5000), event_type=ML + "currency_declaration.filed.v1"
        ): (cbp, "filed_in MX is not the sending agency's country (US)"),
        await uif.send(
            money,
            {
                "reporting_country": "US",
                "from_country": "US",
                "to_country": "MX",
                "year": 2026,
                "month": 10,
                "total_usd": 1,
            },
            event_type=ML + "cross_border_figures.reported.v1",
        ): (uif, "reporting_country US is not the sending agency's country (MX)"),
    }
    for agency in {oia, cbp, uif}:
        mine = {event_id for event_id, (sender, _) in sent.items() if sender is agency}
        reasons = await replies_to(system, agency, mine)
        for event_id in mine:
            assert sent[event_id][1] in reasons[event_id]

    # Nothing of them was recorded: no fugitive, MLAT or declaration fact names this run.
    await wait_drained(system.group("extradition", "intake"), [extradition])
    await wait_drained(system.group("money_laundering", "intake"), [money])
    facts = await read_all(
        [system.topic("alliance.extradition.events"), system.topic("alliance.money_laundering.events")]
    )
    assert not [r for r in facts if run in r.value.decode(errors="replace")]


async def test_a_central_authority_cannot_review_the_other_countrys_match_and_learns_nothing_of_it(
    system: System, agency: Agency, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    fgr, oia = Agency(producer, "mx-fgr"), Agency(producer, "us-doj-oia")
    intake, events = system.topic("alliance.extradition.intake"), system.topic("alliance.extradition.events")
    person = {"given_names": "José Luis", "surnames": ["Hernández", f"Garza{run}"], "date_of_birth": "1988-03-14"}
    await fgr.send(
        intake,
        fugitive_registered(f"FGR-{run}", person),
        event_type=X + "fugitive.registered.v1",
    )
    await wait_drained(system.group("extradition", "intake"), [intake])
    await agency.send(  # CBP detains him at Laredo (AMBER, releasable to both countries)
        system.topic("alliance.interdiction.intake"),
        seizure_reported(f"LRD-{run}", drugs=[COCAINE], detained_persons=[person]),
        event_type="org.alliance.interdiction.seizure.reported.v1",
    )
    seizure_id = await recorded_seizure_id(system, f"LRD-{run}")

    def of(kind: str, **fields: str) -> Any:
        def select(rs: list[Record]) -> list[Record]:
            return [r for r in rs if r.type == X + kind and all(r.json().get(k) == v for k, v in fields.items())]

        return select

    located = of("fugitive.located.v1", seizure_id=seizure_id)
    found = located(await read_until([events], lambda rs: bool(located(rs))))[0].json()
    match_id = found["match_id"]
    arrest = of("provisional_arrest.requested.v1", fugitive_id=found["fugitive_id"])
    request_id = arrest(await read_until([events], lambda rs: bool(arrest(rs))))[0].json()["extradition_request_id"]

    # The US central authority rejects Mexico's match (which would withdraw Mexico's arrest), and a match
    # that does not exist: the two refusals read the same.
    def review(match: str) -> dict[str, str]:
        return {"match_id": match, "decision": "rejected", "analyst": "us.analyst"}

    theirs = await oia.send(intake, review(match_id), event_type=X + "person_match.reviewed.v1")
    nowhere = await oia.send(intake, review(f"PM-nope-{run}"), event_type=X + "person_match.reviewed.v1")
    reasons = await replies_to(system, oia, {theirs, nowhere})
    assert reasons[theirs] == reasons[nowhere].replace(f"PM-nope-{run}", match_id)
    assert "MX" not in reasons[theirs]
    assert "wanted" not in reasons[theirs]
    await wait_drained(system.group("extradition", "intake"), [intake])
    after = await read_all([events])
    assert of("person_match.decided.v1", match_id=match_id)(after) == []
    assert of("request.status_changed.v1", extradition_request_id=request_id)(after) == []

    # Mexico's own central authority may: the arrest is withdrawn once.
    await fgr.send(intake, review(match_id), event_type=X + "person_match.reviewed.v1")
    withdrawn = of("request.status_changed.v1", extradition_request_id=request_id, status="withdrawn")
    await read_until([events], lambda rs: bool(withdrawn(rs)))
    await wait_drained(system.group("extradition", "intake"), [intake])
    final = await read_all([events])
    assert len(of("person_match.decided.v1", match_id=match_id)(final)) == 1
    assert len(withdrawn(final)) == 1


async def test_a_refusal_about_anothers_record_reveals_neither_its_amounts_nor_status_nor_existence(
    system: System, agency: Agency, producer: Producers
) -> None:
    run = uuid.uuid4().hex[:6]
    await agency.send(  # CBP seizes 123,456.78 USD at Laredo: an asset of the US
        system.topic("alliance.interdiction.intake"),
        seizure_reported(f"CASH-{run}", currency=[{"amount": 123456.78, "currency": "USD"}]),
        event_type="org.alliance.interdiction.seizure.reported.v1",
    )
    seizure_id = await recorded_seizure_id(system, f"CASH-{run}")
    events = system.topic("alliance.money_laundering.events")

    def seized(rs: list[Record]) -> list[Record]:
        return [r for r in rs if r.type == ML + "asset.seized.v1" and r.json()["seizure_id"] == seizure_id]

    asset_id = seized(await read_until([events], lambda rs: bool(seized(rs))))[0].json()["asset_id"]

    # Mexico's central authority forfeits more than was seized: of an asset that is not its country's.
    fgr, doj = Agency(producer, "mx-fgr"), Agency(producer, "us-doj-afmls")
    intake = system.topic("alliance.money_laundering.intake")

    def order(asset: str, amount: float) -> dict[str, Any]:
        return {
            "asset_id": asset,
            "legal_basis": "CNPP art. 250",
            "forfeited_amount": amount,
            "ordered_on": "2027-03-01",
        }

    theirs = await fgr.send(intake, order(asset_id, 999_999), event_type=ML + "asset.forfeited.v1")
    nowhere = await fgr.send(intake, order(f"AS-nope-{run}", 999_999), event_type=ML + "asset.forfeited.v1")
    reasons = await replies_to(system, fgr, {theirs, nowhere})
    assert reasons[theirs] == reasons[nowhere].replace(f"AS-nope-{run}", asset_id)  # existence: not told
    for leak in ("123,456", "123456", "USD", "seized in", "US", "forfeited"):
        assert leak not in reasons[theirs].replace(asset_id, ""), leak
    # Even the seizing country's own authority is not quoted the amount in a refusal.
    mine = await doj.send(intake, order(asset_id, 999_999), event_type=ML + "asset.forfeited.v1")
    told = (await replies_to(system, doj, {mine}))[mine]
    assert "more than was seized" in told
    assert "123,456" not in told
    assert "123456" not in told
    # The operators' dead letter keeps why.
    dead = [
        r
        for r in await read_all([system.topic("alliance.money_laundering.deadletter")])
        if r.headers.get("ce_id") in {theirs, mine}
    ]
    reasons_kept = {r.headers["ce_id"]: r.headers["alliance_dlq_reason"] for r in dead}
    assert "seized in US" in reasons_kept[theirs]
    assert "123,456.78 USD" in reasons_kept[mine]
