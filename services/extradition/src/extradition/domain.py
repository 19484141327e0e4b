"""Fugitives, extradition requests, MLAT requests and status reports (AP5, AP16). Pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from alliance.contracts.common import Person, Place
from alliance.contracts.extradition import (
    ExtraditionStatusChanged,
    ExtraditionStep,
    FugitiveLinkedToTrace,
    FugitiveLocated,
    FugitiveRecorded,
    FugitiveRegistered,
    MlatRequestReceived,
    MlatStatus,
    MlatStatusChanged,
    PersonMatchDecided,
    PersonMatchReviewRequested,
    ProvisionalArrestRequested,
    StatusReportPublished,
)
from alliance.contracts.markings import Markings, strictest
from alliance.contracts.registry import AgencyKind
from alliance.domain.aggregate import Aggregate
from alliance.domain.codes import Language, load_code_lists
from alliance.domain.deadlines import Deadline
from alliance.domain.errors import DomainRuleViolation, NotYours
from alliance.domain.ids import derived_id
from alliance.domain.principals import Sender, require_kind, require_own_country
from person_matching.matching import MatchResult, filing_keys, match_persons, person_key, surname_keys

CODES = load_code_lists("extradition")
# 1978 US-Mexico Extradition Treaty, Art. 11: the provisionally arrested person is released if the
# formal request has not been received within sixty days of the arrest.
FORMAL_REQUEST_PERIOD = timedelta(days=60)
FORMAL_REQUEST = "formal_request"
MLAT_REVIEW = "mlat_review"
MLAT_REVIEW_PERIOD = timedelta(days=30)
MLAT_EXECUTION = "mlat_execution"
MLAT_EXECUTION_PERIOD = timedelta(days=180)
# The names of the deadline kinds this domain sets (a closed set: metrics are labelled by them).
DEADLINE_KINDS = (FORMAL_REQUEST, MLAT_REVIEW, MLAT_EXECUTION)

# Who may act, from the sender's registry entry (never from a data field):
# AP5 and the 1978 Treaty, Art. 1 and 10: a Party asks for the persons its own competent authorities
# charged or sentenced; its central authority registers them, so ``wanted_by`` is the sender's country.
WANTED_BY_OWN_COUNTRY = "a central authority registers its own country's fugitives (AP5; 1978 Treaty Art. 1, 10)"
# AP16 and the 1987 MLAT, Art. 2: requests pass between the Parties' coordinating (central)
# authorities; the requested Party's authority records and executes a request made to it.
MLAT_REQUESTED_COUNTRY = (
    "the requested country's central authority records an MLAT request made to it (AP16; 1987 MLAT Art. 2)"
)
# 1978 Treaty Art. 11: provisional arrest is requested by, and withdrawn by, the requesting Party; a
# match is the candidate identification of its fugitive, so only its central authority reviews it.
MATCH_REVIEWER = "only the central authority of the country that wants the fugitive reviews a match (AP5; Art. 11)"
CENTRAL_AUTHORITY = "a central authority"


def is_central_authority_of(sender: Sender, country: str) -> bool:
    return sender.kind == AgencyKind.CENTRAL_AUTHORITY.value and sender.country == country


class Fugitive(Aggregate):
    RECORD_TYPE = "fugitive"

    fugitive_reference: str
    wanted_by: str
    person: Person
    charges: list[str]
    priority: bool
    index_keys: list[str]  # blocking keys with the birth year: the fugitive index (never a scan)
    rejected_people: list[str] = []
    trace_links: list[str] = []

    @staticmethod
    def id_for(agency: str, fugitive_reference: str) -> str:
        """The registering agency's reference, in its own namespace: no agency can take another's."""
        return derived_id("FG", agency, fugitive_reference)

    @classmethod
    def register(cls, event: FugitiveRegistered, markings: Markings, by: str, sender: Sender | None = None) -> Fugitive:
        require_kind(sender, {AgencyKind.CENTRAL_AUTHORITY}, CENTRAL_AUTHORITY, WANTED_BY_OWN_COUNTRY)
        require_own_country(sender, event.wanted_by, "wanted_by", WANTED_BY_OWN_COUNTRY)
        p = event.person
        fugitive = cls(
            id=cls.id_for(by, event.fugitive_reference),
            markings=markings,
            fugitive_reference=event.fugitive_reference,
            wanted_by=event.wanted_by,
            person=p,
            charges=event.charges,
            priority=event.priority,
            index_keys=filing_keys(p),
        )
        fugitive._raise(fugitive.fact(FugitiveRecorded, fugitive_id=fugitive.id))
        return fugitive

    @property
    def surname_keys(self) -> list[str]:
        """Keys that find traced purchasers (filed by surname alone)."""
        return surname_keys(self.person)

    def compare(self, detained: Person, detained_in: str) -> MatchResult | None:
        """A detained person can be this fugitive only in the other country (AP5); None unless the matcher
        says match or possible (a possible match goes to an analyst)."""
        if detained_in == self.wanted_by or person_key(detained) in self.rejected_people:
            return None
        result = match_persons(self.person, detained)
        return result if result.match or result.possible else None

    def link_trace(self, trace_request_id: str, purchaser: Person, markings: Markings) -> None:
        """Flow 5: the first retail purchaser of a traced crime gun is this fugitive."""
        if trace_request_id in self.trace_links or person_key(purchaser) in self.rejected_people:
            return
        result = match_persons(self.person, purchaser)
        if not result.match:
            return
        self.absorb_markings(markings)
        self.trace_links = [*self.trace_links, trace_request_id]
        self._raise(
            self.fact(
                FugitiveLinkedToTrace,
                fugitive_id=self.id,
                trace_request_id=trace_request_id,
                purchaser=purchaser,
                score=result.score,
                reasons=result.reasons,
            )
        )

    def reject(self, detained: Person) -> None:
        """An analyst said no: the same person is not raised against this fugitive again."""
        key = person_key(detained)
        if key not in self.rejected_people:
            self.rejected_people = [*self.rejected_people, key]

    def unreject(self, detained: Person) -> None:
        self.rejected_people = [k for k in self.rejected_people if k != person_key(detained)]

    def record_review(self, match: PersonMatch) -> None:
        """An analyst's decision on a match: a rejected person is not raised again; a confirmed one may be."""
        if match.rejected:
            self.reject(match.detained_person)
        else:
            self.unreject(match.detained_person)


class MatchStatus(StrEnum):
    NEEDS_REVIEW = "needs_review"  # a possible match: nothing follows until an analyst confirms it
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class DetainedPerson(Aggregate):
    """A person detained at a seizure, kept so that a fugitive registered later is matched too (AP5).

    Matching runs from both sides with the same evidence: a new seizure against the registered
    fugitives, and a newly registered fugitive against the people already detained.
    """

    RECORD_TYPE = "detained_person"

    seizure_id: str
    person: Person
    place: Place
    seized_on: date
    index_keys: list[str]  # filed like fugitives', so a fugitive registered later finds this person

    @staticmethod
    def id_for(seizure_id: str, person: Person) -> str:
        return derived_id("DP", seizure_id, person_key(person))

    @classmethod
    def seen(cls, seizure_id: str, person: Person, place: Place, seized_on: date, markings: Markings) -> DetainedPerson:
        return cls(
            id=cls.id_for(seizure_id, person),
            markings=markings,
            seizure_id=seizure_id,
            person=person,
            place=place,
            seized_on=seized_on,
            index_keys=filing_keys(person),
        )


class PersonMatch(Aggregate):
    """A reversible link between a fugitive and a person detained in a seizure."""

    RECORD_TYPE = "person_match"

    fugitive_id: str
    seizure_id: str
    detained_person: Person
    score: float
    reasons: list[str]
    status: MatchStatus = MatchStatus.PROPOSED
    extradition_request_id: str
    # Kept so that an analyst's confirmation of a possible match can say where the fugitive was located.
    fugitive_reference: str = ""
    wanted_by: str = ""
    place: Place | None = None
    located_on: date | None = None

    @classmethod
    def between(cls, fugitive: Fugitive, seen: DetainedPerson) -> PersonMatch | None:
        """The match of a fugitive and a detained person, the same whichever was stored first; None if the
        two cannot be the same person or the detention is in the country that wants them (AP5). A possible
        match is kept for an analyst's review and locates no one until it is confirmed."""
        result = fugitive.compare(seen.person, seen.place.country)
        if result is None:
            return None
        if result.possible:
            return cls.for_review(fugitive, seen, result)
        return cls.located(fugitive, seen, result)

    @classmethod
    def for_review(cls, fugitive: Fugitive, seen: DetainedPerson, result: MatchResult) -> PersonMatch:
        match = cls._new(fugitive, seen, result)
        match.status = MatchStatus.NEEDS_REVIEW
        match._raise(match._review_requested())
        return match

    @classmethod
    def _new(cls, fugitive: Fugitive, seen: DetainedPerson, result: MatchResult) -> PersonMatch:
        match_id = derived_id("PM", fugitive.id, seen.seizure_id, person_key(seen.person))
        return cls(
            id=match_id,
            markings=strictest([fugitive.markings, seen.markings]),
            fugitive_id=fugitive.id,
            seizure_id=seen.seizure_id,
            detained_person=seen.person,
            score=result.score,
            reasons=result.reasons,
            extradition_request_id=derived_id("EX", match_id),
            fugitive_reference=fugitive.fugitive_reference,
            wanted_by=fugitive.wanted_by,
            place=seen.place,
            located_on=seen.seized_on,
        )

    def _where(self) -> dict[str, Any]:
        """What a match's facts add to the match: its id and the country the person was detained in."""
        assert self.place is not None
        return {"match_id": self.id, "located_in": self.place.country}

    def _located(self) -> FugitiveLocated:
        return self.fact(FugitiveLocated, **self._where())

    def _review_requested(self) -> PersonMatchReviewRequested:
        return self.fact(PersonMatchReviewRequested, **self._where())

    @classmethod
    def located(cls, fugitive: Fugitive, seen: DetainedPerson, result: MatchResult) -> PersonMatch:
        match = cls._new(fugitive, seen, result)
        match._raise(match._located())
        return match

    @property
    def rejected(self) -> bool:
        return self.status is MatchStatus.REJECTED

    def provisional_arrest(self, fugitive: Fugitive, seen: DetainedPerson) -> ExtraditionRequest | None:
        """What the match calls for as it stands: a provisional arrest, unless an analyst rejected it.

        Asked of the stored match, so the request is never weaker than what joined the match since.
        """
        if self.rejected or self.status is MatchStatus.NEEDS_REVIEW:
            return None
        return ExtraditionRequest.provisional_arrest(
            self.extradition_request_id, fugitive, seen.person, seen.place.country, seen.seized_on, self.markings
        )

    def decide(self, decision: str, analyst: str, sender: Sender | None = None) -> None:
        """An analyst's decision; confirming a possible match is what locates the fugitive.

        Only the wanting country's central authority decides (:data:`MATCH_REVIEWER`): a rejection
        withdraws its provisional arrest. To anyone else the match is refused as not known.
        """
        if sender is not None and not is_central_authority_of(sender, self.wanted_by):
            raise NotYours(f"match {self.id} is for a fugitive wanted by {self.wanted_by}: {MATCH_REVIEWER}")
        new = MatchStatus(decision)
        if new is self.status:
            return
        reviewed, self.status = self.status is MatchStatus.NEEDS_REVIEW, new
        self._raise(self.fact(PersonMatchDecided, match_id=self.id, decision=new.value, analyst=analyst))
        if reviewed and new is MatchStatus.CONFIRMED and self.place is not None:
            self._raise(self._located())


class ExtraditionStatus(StrEnum):
    PROVISIONAL_ARREST_REQUESTED = "provisional_arrest_requested"
    ARRESTED = "arrested"
    FORMAL_REQUEST_FILED = "formal_request_filed"
    UNDER_JUDICIAL_REVIEW = "under_judicial_review"
    GRANTED = "granted"
    DENIED = "denied"
    TEMPORARILY_SURRENDERED = "temporarily_surrendered"
    SURRENDERED = "surrendered"
    WITHDRAWN = "withdrawn"


S = ExtraditionStatus
# Which step may follow which status; temporary surrender (1997 protocol) lends a person serving a
# sentence for trial and brings them back to await final surrender.
TRANSITIONS: dict[ExtraditionStep, tuple[set[ExtraditionStatus], ExtraditionStatus]] = {
    ExtraditionStep.ARRESTED: ({S.PROVISIONAL_ARREST_REQUESTED}, S.ARRESTED),
    ExtraditionStep.FORMAL_REQUEST_FILED: ({S.PROVISIONAL_ARREST_REQUESTED, S.ARRESTED}, S.FORMAL_REQUEST_FILED),
    ExtraditionStep.JUDICIAL_REVIEW_STARTED: ({S.FORMAL_REQUEST_FILED}, S.UNDER_JUDICIAL_REVIEW),
    ExtraditionStep.GRANTED: ({S.UNDER_JUDICIAL_REVIEW}, S.GRANTED),
    ExtraditionStep.DENIED: ({S.UNDER_JUDICIAL_REVIEW}, S.DENIED),
    ExtraditionStep.TEMPORARILY_SURRENDERED: ({S.GRANTED}, S.TEMPORARILY_SURRENDERED),
    ExtraditionStep.RETURNED: ({S.TEMPORARILY_SURRENDERED}, S.GRANTED),
    ExtraditionStep.SURRENDERED: ({S.GRANTED}, S.SURRENDERED),
    ExtraditionStep.WITHDRAWN: (
        {S.PROVISIONAL_ARREST_REQUESTED, S.ARRESTED, S.FORMAL_REQUEST_FILED, S.UNDER_JUDICIAL_REVIEW, S.GRANTED},
        S.WITHDRAWN,
    ),
}


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class ExtraditionRequest(Aggregate):
    RECORD_TYPE = "extradition_request"

    fugitive_id: str
    requesting_country: str
    requested_country: str
    person: Person
    charges: list[str]
    priority: bool
    status: ExtraditionStatus = ExtraditionStatus.PROVISIONAL_ARREST_REQUESTED
    history: list[dict[str, str]] = []

    @classmethod
    def provisional_arrest(
        cls,
        request_id: str,
        fugitive: Fugitive,
        person: Person,
        requested_country: str,
        detained_on: date,
        markings: Markings,
    ) -> ExtraditionRequest:
        """The fugitive is already in custody (detained at the seizure): the treaty clock runs from then."""
        request = cls(
            id=request_id,
            markings=markings,
            fugitive_id=fugitive.id,
            requesting_country=fugitive.wanted_by,
            requested_country=requested_country,
            person=person,
            charges=fugitive.charges,
            priority=fugitive.priority,
        )
        request._set_deadline(
            Deadline.starting(
                FORMAL_REQUEST,
                f"formal extradition request by {fugitive.wanted_by} for {fugitive.fugitive_reference}",
                _start_of(detained_on),
                FORMAL_REQUEST_PERIOD,
                warn_fraction=0.25,
            )
        )
        deadline = request.deadline(FORMAL_REQUEST)
        assert deadline is not None
        request._raise(
            request.fact(
                ProvisionalArrestRequested, extradition_request_id=request.id, formal_request_due_at=deadline.due_at
            )
        )
        return request

    def withdraw_for_rejected_match(self, on: date) -> None:
        """An analyst found the detained person is not the fugitive: a provisional arrest still only
        requested is withdrawn; a request already further along is left to the central authorities."""
        if self.status is ExtraditionStatus.PROVISIONAL_ARREST_REQUESTED:
            self.advance(ExtraditionStep.WITHDRAWN, on, "match rejected by analyst")

    def advance(self, step: ExtraditionStep, on: date, grounds: str | None, sender: Sender | None = None) -> None:
        """A step of the request, reported by the requesting country's central authority (AP16).

        To any other agency the request is refused as not known (it learns neither that it exists nor
        which country asked for it).
        """
        if sender is not None and not is_central_authority_of(sender, self.requesting_country):
            raise NotYours(
                f"only {self.requesting_country}'s central authority reports steps of extradition request "
                f"{self.id}, not {sender.agency} ({sender.kind}, {sender.country}) (AP16)"
            )
        allowed, target = TRANSITIONS[step]
        if self.status not in allowed:
            raise DomainRuleViolation(
                f"extradition request {self.id} is {self.status.value}: cannot record {step.value}",
                public=f"extradition request {self.id} cannot record {step.value} in its present state",
            )
        if step is ExtraditionStep.DENIED and not grounds:
            raise DomainRuleViolation("a denial must give its grounds")
        previous, self.status = self.status, target
        self.history = [*self.history, {"status": target.value, "on": on.isoformat()}]
        if step is ExtraditionStep.ARRESTED:  # the sixty days run from the arrest itself
            self._set_deadline(
                Deadline.starting(
                    FORMAL_REQUEST,
                    f"formal extradition request for {self.fugitive_id}",
                    _start_of(on),
                    FORMAL_REQUEST_PERIOD,
                )
            )
        if step in {ExtraditionStep.FORMAL_REQUEST_FILED, ExtraditionStep.WITHDRAWN}:
            self._close_deadline(FORMAL_REQUEST)
        self._raise(
            self.fact(
                ExtraditionStatusChanged,
                extradition_request_id=self.id,
                previous_status=previous.value,
                on=on,
                grounds=grounds,
            )
        )


M = MlatStatus
MLAT_FINAL = {M.EXECUTED, M.PARTIALLY_EXECUTED, M.REFUSED, M.WITHDRAWN}
MLAT_NEXT: dict[MlatStatus, set[MlatStatus]] = {
    M.RECEIVED: {M.UNDER_REVIEW, M.WITHDRAWN, M.REFUSED},
    M.UNDER_REVIEW: {M.INFORMATION_REQUESTED, M.IN_EXECUTION, M.REFUSED, M.WITHDRAWN},
    M.INFORMATION_REQUESTED: {M.UNDER_REVIEW, M.REFUSED, M.WITHDRAWN},
    M.IN_EXECUTION: {M.EXECUTED, M.PARTIALLY_EXECUTED, M.REFUSED, M.WITHDRAWN},
}


class MlatRequest(Aggregate):
    RECORD_TYPE = "mlat_request"

    mlat_reference: str
    requesting_country: str
    requested_country: str
    subject: str
    assistance: list[str]
    priority: bool
    status: MlatStatus = MlatStatus.RECEIVED
    grounds: str | None = None

    @staticmethod
    def id_for(agency: str, requesting_country: str, reference: str) -> str:
        """In the recording agency's namespace: its status reports find only its own requests."""
        return derived_id("ML", agency, requesting_country, reference)

    @classmethod
    def receive(
        cls, event: MlatRequestReceived, markings: Markings, now: datetime, by: str, sender: Sender | None = None
    ) -> MlatRequest:
        if event.requesting_country == event.requested_country:
            raise DomainRuleViolation("requesting and requested country must differ")
        require_kind(sender, {AgencyKind.CENTRAL_AUTHORITY}, CENTRAL_AUTHORITY, MLAT_REQUESTED_COUNTRY)
        require_own_country(sender, event.requested_country, "requested_country", MLAT_REQUESTED_COUNTRY)
        request = cls(
            id=cls.id_for(by, event.requesting_country, event.mlat_reference),
            markings=markings,
            **event.model_dump(
                include={
                    "mlat_reference",
                    "requesting_country",
                    "requested_country",
                    "subject",
                    "assistance",
                    "priority",
                }
            ),
        )
        request._set_deadline(
            Deadline.starting(MLAT_REVIEW, f"review of MLAT request {event.mlat_reference}", now, MLAT_REVIEW_PERIOD)
        )
        request._raise(request._changed(None))
        return request

    def move(self, status: MlatStatus, grounds: str | None, now: datetime) -> None:
        if status not in MLAT_NEXT.get(self.status, set()):
            raise DomainRuleViolation(
                f"MLAT request {self.mlat_reference} is {self.status.value}: cannot become {status.value}",
                public=f"MLAT request {self.mlat_reference} cannot become {status.value} in its present state",
            )
        if status is MlatStatus.REFUSED and not grounds:
            raise DomainRuleViolation("a refusal must give its grounds")
        previous, self.status, self.grounds = self.status, status, grounds
        if status in {M.INFORMATION_REQUESTED, M.IN_EXECUTION} or status in MLAT_FINAL:
            self._close_deadline(MLAT_REVIEW)
        if status is M.IN_EXECUTION:
            self._set_deadline(
                Deadline.starting(
                    MLAT_EXECUTION, f"execution of MLAT request {self.mlat_reference}", now, MLAT_EXECUTION_PERIOD
                )
            )
        if status in MLAT_FINAL:
            self._close_deadline(MLAT_EXECUTION)
        self._raise(self._changed(previous))

    def _changed(self, previous: MlatStatus | None) -> MlatStatusChanged:
        before = previous.value if previous else None
        return self.fact(MlatStatusChanged, mlat_request_id=self.id, previous_status=before)


class StatusReport(Aggregate):
    """Periodic report on priority cases for both countries (AP5 objective 3, AP16 action 3)."""

    RECORD_TYPE = "status_report"

    report: StatusReportPublished

    @classmethod
    def compile(
        cls,
        report_id: str,
        extraditions: list[ExtraditionRequest],
        mlats: list[MlatRequest],
        request_markings: Markings,
        language: Language,
        now: datetime,
    ) -> StatusReport:
        priority_x = [x for x in extraditions if x.priority]
        priority_m = [m for m in mlats if m.priority]
        rows_x = [
            {
                "extradition_request_id": x.id,
                "requesting_country": x.requesting_country,
                "requested_country": x.requested_country,
                "person": f"{x.person.given_names} {' '.join(x.person.surnames)}",
                "status": CODES["extradition_status"].label(x.status.value, language),
                "formal_request_due": d.due_at.date().isoformat() if (d := x.deadline(FORMAL_REQUEST)) else None,
            }
            for x in priority_x
        ]
        rows_m = [
            {
                "mlat_reference": m.mlat_reference,
                "requesting_country": m.requesting_country,
                "requested_country": m.requested_country,
                "subject": m.subject,
                "status": CODES["mlat_status"].label(m.status.value, language),
            }
            for m in priority_m
        ]
        report = StatusReportPublished(
            language=language,
            generated_at=now,
            extraditions=rows_x,
            mlat_requests=rows_m,
            totals={"priority_extraditions": len(rows_x), "priority_mlat_requests": len(rows_m)},
        )
        record = cls(
            id=report_id,
            markings=strictest([request_markings, *(r.markings for r in [*priority_x, *priority_m])]),
            report=report,
        )
        record._raise(report)
        return record
