"""Sanitised seizure statistics on the real broker and store, asked for by agencies with their own credentials:
three agencies report seizures around a fourth agency's RED seizure and ask for the quarter before and after
one more RED seizure arrives. Neither answer tells anything of the RED seizures."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import MongoClient

from harness import Agency, Producers, Record, System, kafka_login, read_all, read_until, wait_drained
from payloads.interdiction import COCAINE, seizure_reported

pytestmark = pytest.mark.e2e

QUARTER = (2018, 3)  # no other test reports seizures in it
REPORTED = "org.alliance.interdiction.seizure.reported.v1"
REQUESTED = "org.alliance.interdiction.seizure_statistics.requested.v1"
PUBLISHED = "org.alliance.interdiction.seizure_statistics.published.v1"
REJECTED = "org.alliance.event.rejected.v1"


def seizure(kg: float, country: str = "MX") -> dict[str, Any]:
    """Cocaine seized at sea in the third quarter of 2018 (a quarter of its own)."""
    return seizure_reported(
        f"SAN-{uuid.uuid4().hex[:8]}",
        mode="sea",
        seized_at="2018-08-14T10:00:00-06:00",
        place={"description": "off Manzanillo", "country": country},
        drugs=[{**COCAINE, "quantity": kg}],
    )


async def test_three_agencies_learn_nothing_of_a_red_seizure_from_a_quarter_asked_before_and_after_another(
    system: System,
    producer: Producers,
    mongo: MongoClient[dict[str, object]],
) -> None:
    intake = system.topic("alliance.interdiction.intake")
    anam, fgr, cbp, semar = (Agency(producer, a) for a in ("mx-anam", "mx-fgr", "us-cbp", "mx-semar"))
    for attacker in (anam, fgr, cbp):  # two small seizures each, that everyone may see
        for _ in range(2):
            await attacker.send(intake, seizure(10), event_type=REPORTED, tlp="GREEN")
    red = {"tlp": "RED", "releasable_to": "", "extra": {"ce_recipients": "mx-semar"}}
    await semar.send(intake, seizure(900), event_type=REPORTED, **red)  # nobody else may see it
    await wait_drained(system.group("interdiction", "intake"), [intake])

    ask = {"year": 2018, "quarter": 3, "sanitised": True}  # as agencies asked before (or "period": "2018-Q3")
    await fgr.send(intake, ask, event_type=REQUESTED, tlp="GREEN")
    await read_until([system.topic("alliance.interdiction.events")], lambda rs: len(answers(rs)) == 1)
    late = {"tlp": "RED", "releasable_to": "", "extra": {"ce_recipients": "us-cbp"}}
    await cbp.send(intake, seizure(400, "US"), event_type=REPORTED, **late)  # a late report, into the quarter
    await cbp.send(intake, ask, event_type=REQUESTED, tlp="AMBER", releasable_to="US")
    still_open = await fgr.send(intake, {"period": "2026-Q4", "sanitised": True}, event_type=REQUESTED, tlp="GREEN")
    await wait_drained(system.group("interdiction", "intake"), [intake])
    await read_until([system.topic("alliance.interdiction.events")], lambda rs: len(answers(rs)) == 2)

    published = answers(await read_all([system.topic("alliance.interdiction.events")]))
    by_markings = {r.headers["ce_tlp"]: r.json() for r in published}  # each under its own request's markings
    assert sorted(by_markings) == ["AMBER", "GREEN"]
    before, after = by_markings["GREEN"], by_markings["AMBER"]
    mx = before["countries"]["MX"]
    assert (mx["seizures"], mx["drugs_kg"]) == (0, {})  # 7 seizures from 4 agencies: withheld all the same
    assert before["countries"] == after["countries"]  # the quarter's one release: the difference is nothing
    assert before["release_id"] == after["release_id"]
    assert mx["withheld"] == ["currency", "detained_persons", "drugs_kg", "firearms", "seizures"]
    assert before["countries"]["US"]["seizures"] == 0  # the late US seizure came after the quarter was fixed

    delivered = answers(await read_all([system.topic("alliance.deliveries.mx-fgr")], kafka_login("mx-fgr")))
    assert [r.headers["ce_tlp"] for r in delivered] == ["GREEN"]  # mx-fgr got its answer (not CBP's US-only one)
    assert delivered[0].json()["countries"] == before["countries"]

    replies = await read_until(
        [system.topic("alliance.replies.mx-fgr")],
        lambda rs: any(r.type == REJECTED and r.json()["rejected_event_id"] == still_open for r in rs),
    )
    [refusal] = [r.json() for r in replies if r.type == REJECTED and r.json()["rejected_event_id"] == still_open]
    assert "2026-Q4 can be released sanitised from 2027-01-31" in refusal["reason"]
    stored = mongo[system.database("interdiction")].sanitised_quarters
    assert stored.count_documents({"period": "2018-Q3"}) == 1


def answers(records: list[Record]) -> list[Record]:
    """The sanitised statistics of the quarter published in answer to requests."""
    return [
        r
        for r in records
        if r.type == PUBLISHED and (r.json()["year"], r.json()["quarter"]) == QUARTER and r.json()["sanitised"]
    ]
