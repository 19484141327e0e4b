"""Crime-gun tracing (AP6 and AP7): trace requests, serial-number restorations, export
licences, trafficking indicators and trace statistics. Pure rules, no I/O."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from alliance.contracts.common import Person, Place
from alliance.contracts.disclosure_control import DisclosureRules
from alliance.contracts.firearms import (
    Dealer,
    ExportLicenceIssued,
    ExportLicenceRecorded,
    IndicatorKind,
    LicensedFirearm,
    RestorationFailed,
    RestorationRequested,
    RestorationSucceeded,
    TraceCompleted,
    TraceNotCompleted,
    TraceRequestInProgress,
    TraceRequestSubmitted,
    TraceStatisticsPublished,
    TraffickingIndicatorRaised,
)
from alliance.contracts.interdiction import FirearmItem, FirearmType, SeizureRecorded
from alliance.contracts.markings import Markings, strictest
from alliance.contracts.registry import AgencyKind, Registry
from alliance.domain.aggregate import Aggregate
from alliance.domain.codes import CodeList, Language, load_code_lists
from alliance.domain.deadlines import Deadline
from alliance.domain.disclosure_control import (
    Audiences,
    Breakdown,
    Cells,
    Subsets,
    published_counts,
    require_closed,
    withheld,
)
from alliance.domain.errors import DomainRuleViolation, NotYours
from alliance.domain.ids import derived_id
from alliance.domain.names import fold
from alliance.domain.periods import Quarter, month_of
from alliance.domain.principals import Sender, require_kind
from person_matching.matching import person_key

CODES = load_code_lists("firearms")
TRACING_CENTER_REPLY = "tracing_center_reply"
# The names of the deadline kinds this domain sets (a closed set: metrics are labelled by them).
DEADLINE_KINDS = (TRACING_CENTER_REPLY,)
TRACING_CENTER_REPLY_PERIOD = timedelta(hours=24)
# ATF treats a time-to-crime under three years as an indicator of trafficking (AP6.7).
SHORT_TIME_TO_CRIME_DAYS = 3 * 365
# The same first retail purchaser behind this many traced guns within the window is an indicator.
REPEAT_PURCHASES = 2
REPEAT_PURCHASE_WINDOW = timedelta(days=365)
# AP6.8: an export licence is valid for one year.
LICENCE_VALIDITY = timedelta(days=365)

# Who may act, from the sender's registry entry (never from a data field); to any other agency the
# request is refused as not known (it learns nothing of the record).
# AP6 5: crime guns of both countries are traced by the tracing centre (ATF's NTC, eTrace);
# AP6 7: an obliterated serial is restored by a forensic laboratory (or the tracing centre's own);
# AP6 8: export licences are issued by the exporting country's licensing authority.
TRACING_CENTRE_ANSWERS = "the tracing centre answers trace requests (AP6 5)"
LABORATORY_RESTORES = "a forensic laboratory or the tracing centre restores serial numbers (AP6 7)"
LICENSING_AUTHORITY = "the licensing authority issues export licences for exports from its country (AP6 8)"


class TraceStatus(StrEnum):
    SUBMITTED = "submitted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


class RestorationStatus(StrEnum):
    REQUESTED = "requested"
    RESTORED = "restored"
    FAILED = "failed"


def serial_key(maker: str, serial: str) -> str:
    """Match a gun across records: serial without separators, plus the maker's first word."""
    words = fold(maker).split()
    return f"{words[0] if words else ''}|{''.join(ch for ch in serial.upper() if ch.isalnum())}"


class RecoveredFirearm(Aggregate):
    """What every request about one recovered gun knows: the gun and where it was recovered."""

    seizure_id: str
    item_number: int
    maker: str
    model: str | None = None
    caliber: str | None = None
    firearm_type: FirearmType
    recovery_place: Place
    recovery_date: date
    requesting_agency: str

    def lookup_keys(self) -> dict[str, Any]:
        return {"recovery_month": month_of(self.recovery_date)}  # statistics look records up by month

    @staticmethod
    def gun_and_recovery() -> set[str]:
        """The fields above, the gun and its recovery: taken from the seized item and the seizure, and over
        from a restoration by the trace that follows it."""
        return set(RecoveredFirearm.model_fields) - set(Aggregate.model_fields)


class TraceRequest(RecoveredFirearm):
    RECORD_TYPE = "trace_request"

    serial_number: str
    serial_key: str
    importer: str | None = None
    country_of_manufacture: str | None = None
    restored_from: str | None = None
    status: TraceStatus = TraceStatus.SUBMITTED
    dealer: Dealer | None = None
    purchaser: Person | None = None
    sale_date: date | None = None
    time_to_crime_days: int | None = None
    not_completed_reason: str | None = None
    indicators: list[str] = []

    @classmethod
    def submit(
        cls,
        seizure: SeizureRecorded,
        item_number: int,
        gun: FirearmItem,
        markings: Markings,
        now: datetime,
        reply_period: timedelta = TRACING_CENTER_REPLY_PERIOD,
    ) -> TraceRequest:
        """Open a trace for a gun with a legible serial; the tracing center must reply in time."""
        if not gun.serial_number or gun.serial_obliterated:
            raise ValueError("a trace needs a legible serial number: request a restoration instead")
        request = cls(
            id=derived_id("TR", seizure.seizure_id, item_number),
            markings=markings,
            serial_number=gun.serial_number,
            serial_key=serial_key(gun.maker, gun.serial_number),
            importer=gun.importer,
            country_of_manufacture=gun.country_of_manufacture,
            **_recovery(seizure, item_number, gun),
        )
        request._start(now, reply_period)
        return request

    @classmethod
    def after_restoration(
        cls,
        restoration: RestorationRequest,
        serial: str,
        now: datetime,
        reply_period: timedelta = TRACING_CENTER_REPLY_PERIOD,
    ) -> TraceRequest:
        """The trace proceeds with the restored serial number (AP6)."""
        request = cls(
            id=derived_id("TR", restoration.id),
            markings=restoration.markings,
            serial_number=serial,
            serial_key=serial_key(restoration.maker, serial),
            restored_from=restoration.id,
            **restoration.model_dump(include=RecoveredFirearm.gun_and_recovery()),
        )
        request._start(now, reply_period)
        return request

    def _start(self, now: datetime, reply_period: timedelta) -> None:
        self._set_deadline(
            Deadline.starting(
                TRACING_CENTER_REPLY,
                f"tracing center reply for {self.maker} serial {self.serial_number}",
                now,
                reply_period,
            )
        )
        self._raise(self.fact(TraceRequestSubmitted, trace_request_id=self.id))

    def answered_by(self, sender: Sender | None) -> None:
        """Only a tracing centre answers a trace request (:data:`TRACING_CENTRE_ANSWERS`)."""
        if sender is not None and sender.kind != AgencyKind.TRACING_CENTRE.value:
            raise NotYours(f"{sender.agency} ({sender.kind}) is not a tracing centre: {TRACING_CENTRE_ANSWERS}")

    def _require(self, allowed: set[TraceStatus], action: str) -> None:
        if self.status not in allowed:
            raise DomainRuleViolation(
                f"trace request {self.id} is {self.status.value}: cannot {action}",
                public=f"trace request {self.id}: cannot {action} in its present state",
            )

    def acknowledge(self, tracing_center_reference: str | None) -> None:
        self._require({TraceStatus.SUBMITTED}, "mark it in progress")
        self.status = TraceStatus.IN_PROGRESS
        self._close_deadline(TRACING_CENTER_REPLY)
        self._raise(
            self.fact(
                TraceRequestInProgress, trace_request_id=self.id, tracing_center_reference=tracing_center_reference
            )
        )

    def complete(self, dealer: Dealer, purchaser: Person, sale_date: date) -> None:
        """Record the tracing center's answer and its time-to-crime; flags a short one (AP6.7)."""
        self._require({TraceStatus.SUBMITTED, TraceStatus.IN_PROGRESS}, "record a result")
        if sale_date > self.recovery_date:
            raise DomainRuleViolation(
                f"sale date {sale_date} is after the recovery date {self.recovery_date}",
                public=f"sale date {sale_date} is after the gun's recovery date",
            )
        self.status = TraceStatus.COMPLETED
        self.dealer, self.purchaser, self.sale_date = dealer, purchaser, sale_date
        self.time_to_crime_days = (self.recovery_date - sale_date).days
        self._close_deadline(TRACING_CENTER_REPLY)
        self._raise(self.fact(TraceCompleted, trace_request_id=self.id))
        if self.time_to_crime_days < SHORT_TIME_TO_CRIME_DAYS:
            self._indicate(
                IndicatorKind.SHORT_TIME_TO_CRIME,
                derived_id("TI", self.id, "ttc"),
                f"time-to-crime of {self.time_to_crime_days} days (under {SHORT_TIME_TO_CRIME_DAYS})",
                {
                    "time_to_crime_days": self.time_to_crime_days,
                    "sale_date": sale_date.isoformat(),
                    "recovery_date": self.recovery_date.isoformat(),
                    "dealer": dealer.name,
                },
            )

    def fail(self, reason: str) -> None:
        self._require({TraceStatus.SUBMITTED, TraceStatus.IN_PROGRESS}, "record a result")
        self.status = TraceStatus.NOT_COMPLETED
        self.not_completed_reason = reason
        self._close_deadline(TRACING_CENTER_REPLY)
        self._raise(self.fact(TraceNotCompleted, trace_request_id=self.id, reason=reason))

    def flag_licensed_export(self, licence: ExportLicence) -> None:
        """A gun legally exported under a licence was recovered in a crime (AP6.7)."""
        self.absorb_markings(licence.markings)
        within = licence.issued_on <= self.recovery_date <= licence.valid_until
        self._indicate(
            IndicatorKind.LICENSED_EXPORT_RECOVERED,
            derived_id("TI", self.id, licence.id),
            f"exported under licence {licence.licence_number} to {licence.destination_country}, "
            f"recovered {self.recovery_date} in {self.recovery_place.country}",
            {
                "licence_number": licence.licence_number,
                "exporter": licence.exporter,
                "consignee": licence.consignee,
                "destination_country": licence.destination_country,
                "issued_on": licence.issued_on.isoformat(),
                "recovered_while_licence_valid": within,
                "recovery_place": self.recovery_place.description,
            },
        )

    def _indicate(self, kind: IndicatorKind, indicator_id: str, summary: str, evidence: dict[str, object]) -> None:
        if indicator_id in self.indicators:
            return
        self.indicators = [*self.indicators, indicator_id]
        self._raise(
            TraffickingIndicatorRaised(
                indicator_id=indicator_id,
                indicator=kind,
                summary=summary,
                trace_request_ids=[self.id],
                evidence=evidence,
            )
        )


class RestorationRequest(RecoveredFirearm):
    RECORD_TYPE = "restoration_request"

    status: RestorationStatus = RestorationStatus.REQUESTED
    restored_serial_number: str | None = None
    notes: str | None = None

    @classmethod
    def request(
        cls, seizure: SeizureRecorded, item_number: int, gun: FirearmItem, markings: Markings
    ) -> RestorationRequest:
        """Ask a laboratory to restore an obliterated serial; produces ``restoration requested``."""
        request = cls(
            id=derived_id("SR", seizure.seizure_id, item_number),
            markings=markings,
            **_recovery(seizure, item_number, gun),
        )
        request._raise(request.fact(RestorationRequested, restoration_request_id=request.id))
        return request

    def answered_by(self, sender: Sender | None) -> None:
        """Only a laboratory (or the tracing centre) reports a restoration (:data:`LABORATORY_RESTORES`)."""
        kinds = {AgencyKind.FORENSIC_LABORATORY.value, AgencyKind.TRACING_CENTRE.value}
        if sender is not None and sender.kind not in kinds:
            raise NotYours(f"{sender.agency} ({sender.kind}) is not a laboratory: {LABORATORY_RESTORES}")

    def _require_requested(self) -> None:
        if self.status is not RestorationStatus.REQUESTED:
            raise DomainRuleViolation(
                f"restoration {self.id} is already {self.status.value}",
                public=f"restoration {self.id} already has its result",
            )

    def restore(self, serial: str, notes: str | None) -> None:
        self._require_requested()
        self.status, self.restored_serial_number, self.notes = RestorationStatus.RESTORED, serial, notes
        self._raise(self.fact(RestorationSucceeded, restoration_request_id=self.id))

    def fail(self, notes: str | None) -> None:
        self._require_requested()
        self.status, self.notes = RestorationStatus.FAILED, notes
        self._raise(self.fact(RestorationFailed, restoration_request_id=self.id))


def _recovery(seizure: SeizureRecorded, item_number: int, gun: FirearmItem) -> dict[str, object]:
    """What every request about the gun knows: the gun's description (the fields a recovered firearm shares
    with the seized item: maker, model, calibre, type; none of them a request's state) and its recovery."""
    return {
        **gun.model_dump(include=RecoveredFirearm.gun_and_recovery()),
        "seizure_id": seizure.seizure_id,
        "item_number": item_number,
        "recovery_place": seizure.place,
        "recovery_date": seizure.seized_at.date(),
        "requesting_agency": seizure.reporting_agency,
    }


def requests_for_seizure(
    seizure: SeizureRecorded,
    seizure_markings: Markings,
    now: datetime,
    reply_period: timedelta = TRACING_CENTER_REPLY_PERIOD,
) -> list[TraceRequest | RestorationRequest]:
    """Every recovered crime gun is traced (AP6); an obliterated serial is restored first (AP6, 7).

    Each request carries the seizure's markings or stricter: they never weaken along the flow.
    """
    markings = strictest([seizure_markings])
    requests: list[TraceRequest | RestorationRequest] = []
    for item_number, gun in enumerate(seizure.firearms, start=1):
        if gun.serial_obliterated or not gun.serial_number:
            requests.append(RestorationRequest.request(seizure, item_number, gun, markings))
        else:
            requests.append(TraceRequest.submit(seizure, item_number, gun, markings, now, reply_period))
    return requests


class ExportLicence(Aggregate):
    RECORD_TYPE = "export_licence"

    licence_number: str
    exporter: str
    consignee: str
    destination_country: str
    issued_on: date
    valid_until: date
    firearms: list[LicensedFirearm]
    serial_keys: list[str]

    @classmethod
    def record(
        cls, licence: ExportLicenceIssued, source: str, markings: Markings, sender: Sender | None = None
    ) -> ExportLicence:
        require_kind(sender, {AgencyKind.EXPORT_LICENSING}, "a licensing authority", LICENSING_AUTHORITY)
        if sender is not None and licence.destination_country == sender.country:
            raise DomainRuleViolation(
                f"destination_country {licence.destination_country} is the issuing country: {LICENSING_AUTHORITY}"
            )
        record = cls(
            id=derived_id("EL", source, licence.licence_number),
            markings=markings,
            licence_number=licence.licence_number,
            exporter=licence.exporter,
            consignee=licence.consignee,
            destination_country=licence.destination_country,
            issued_on=licence.issued_on,
            valid_until=licence.issued_on + LICENCE_VALIDITY,
            firearms=licence.firearms,
            serial_keys=[serial_key(f.maker, f.serial_number) for f in licence.firearms],
        )
        record._raise(record.fact(ExportLicenceRecorded, licence_id=record.id))
        return record


def purchaser_key(person: Person) -> str:
    """The same first retail purchaser across traces."""
    return person_key(person)


class Purchaser(Aggregate):
    """A first retail purchaser seen in completed traces; repeat purchases are an indicator (AP6)."""

    RECORD_TYPE = "purchaser"

    person: Person
    purchases: list[dict[str, str]] = []
    indicators: list[str] = []

    @classmethod
    def first_seen(cls, person: Person, markings: Markings) -> Purchaser:
        return cls(id=derived_id("PU", purchaser_key(person)), markings=markings, person=person)

    def record_purchase(self, trace: TraceRequest) -> None:
        if trace.sale_date is None or any(p["trace_request_id"] == trace.id for p in self.purchases):
            return
        self.absorb_markings(trace.markings)
        self.purchases = [
            *self.purchases,
            {
                "trace_request_id": trace.id,
                "sale_date": trace.sale_date.isoformat(),
                "dealer": trace.dealer.name if trace.dealer else "",
                "serial_number": trace.serial_number,
            },
        ]
        window = [
            p
            for p in self.purchases
            if abs(date.fromisoformat(p["sale_date"]) - trace.sale_date) <= REPEAT_PURCHASE_WINDOW
        ]
        if len(window) < REPEAT_PURCHASES:
            return
        indicator_id = derived_id("TI", self.id, trace.id)
        self.indicators = [*self.indicators, indicator_id]
        names = f"{self.person.given_names} {' '.join(self.person.surnames)}"
        self._raise(
            TraffickingIndicatorRaised(
                indicator_id=indicator_id,
                indicator=IndicatorKind.REPEAT_PURCHASER,
                summary=f"{names} bought {len(window)} traced guns within {REPEAT_PURCHASE_WINDOW.days} days",
                trace_request_ids=[p["trace_request_id"] for p in window],
                evidence={"purchaser": self.person.model_dump(mode="json", exclude_none=True), "purchases": window},
            )
        )


def trace_statistics(
    traces: Iterable[TraceRequest],
    restorations: Iterable[RestorationRequest],
    period_start: date,
    period_end: date,
    language: Language,
) -> TraceStatisticsPublished:
    """Statistics for the periodic exchange (AP6.5.4), by recovery date within the period."""
    in_period = [t for t in traces if period_start <= t.recovery_date <= period_end]
    restored = [r for r in restorations if period_start <= r.recovery_date <= period_end]
    ttc = [t.time_to_crime_days for t in in_period if t.time_to_crime_days is not None]
    label = {name: CODES[name] for name in ("trace_status", "firearm_type", "restoration_status")}
    return TraceStatisticsPublished(
        period_start=period_start,
        period_end=period_end,
        language=language,
        trace_requests=len(in_period),
        by_status=_labelled(Counter(t.status.value for t in in_period), label["trace_status"], language),
        by_firearm_type=_labelled(Counter(t.firearm_type.value for t in in_period), label["firearm_type"], language),
        by_recovery_country=dict(sorted(Counter(t.recovery_place.country for t in in_period).items())),
        restorations=_labelled(Counter(r.status.value for r in restored), label["restoration_status"], language),
        median_time_to_crime_days=statistics.median(ttc) if ttc else None,
        short_time_to_crime=sum(1 for d in ttc if d < SHORT_TIME_TO_CRIME_DAYS),
    )


def _labelled(counts: Counter[str], codes: CodeList, language: Language) -> dict[str, int]:
    return {codes.label(code, language): n for code, n in sorted(counts.items())}


class TraceStatisticsReport(Aggregate):
    """One answer to a trace statistics request, kept so it can be audited (and, not sanitised, reproduced)."""

    RECORD_TYPE = "trace_statistics"

    report: TraceStatisticsPublished

    @classmethod
    def compile(
        cls,
        report_id: str,
        traces: list[TraceRequest],
        restorations: list[RestorationRequest],
        request_markings: Markings,
        period_start: date,
        period_end: date,
        language: Language,
        period: Quarter | None = None,
    ) -> TraceStatisticsReport:
        """Figures derived from records carry the strictest markings of every record counted."""
        report = trace_statistics(traces, restorations, period_start, period_end, language)
        if period is not None:
            report = report.model_copy(update={"period": str(period)})
        counted = [t.markings for t in traces if period_start <= t.recovery_date <= period_end]
        counted += [r.markings for r in restorations if period_start <= r.recovery_date <= period_end]
        return cls._published(report_id, strictest([request_markings, *counted]), report)

    @classmethod
    def sanitised(
        cls, report_id: str, release: SanitisedTraceQuarter, request_markings: Markings, language: Language
    ) -> TraceStatisticsReport:
        """The quarter's one sanitised release, under the request's markings: one RED trace does not make
        the whole exchange RED, and every request for the quarter gets the same figures."""
        return cls._published(report_id, request_markings, release.answer(language))

    @classmethod
    def _published(cls, report_id: str, markings: Markings, report: TraceStatisticsPublished) -> TraceStatisticsReport:
        record = cls(id=report_id, markings=markings, report=report)
        record._raise(report)
        return record


# -- sanitised statistics: one disclosure-controlled release per quarter (AP9) ----------------------------

BREAKDOWNS = ("by_status", "by_firearm_type", "by_recovery_country")  # each adds up to trace_requests
SHORT, LONG = "short_time_to_crime", "long_time_to_crime"  # the completed traces; LONG is never published


class SanitisedTraceQuarter(Aggregate):
    """The one sanitised release of a quarter's trace statistics, by code: fixed when first asked for after
    the quarter closed and never computed again, so no two releases of a quarter can be subtracted (AP9).

    Kept under the strictest markings of every record it counts; what it publishes is disclosure-controlled
    for every agency (``alliance.domain.disclosure_control``), so answers go out under the requests' markings.
    A seizure is the unit: the guns of one seizure are one contributor.
    """

    RECORD_TYPE = "sanitised_trace_quarter"

    period: str
    released_at: datetime
    rules_version: str
    trace_requests: int = 0
    by_status: dict[str, int] = {}
    by_firearm_type: dict[str, int] = {}
    by_recovery_country: dict[str, int] = {}
    restorations: dict[str, int] = {}
    short_time_to_crime: int = 0
    withheld: list[str] = []

    @staticmethod
    def id_of(quarter: Quarter) -> str:
        return derived_id("TQ", str(quarter))

    @classmethod
    def fix(
        cls,
        quarter: Quarter,
        traces: list[TraceRequest],
        restorations: list[RestorationRequest],
        registry: Registry,
        markings: Markings,
        now: datetime,
        rules: DisclosureRules,
    ) -> SanitisedTraceQuarter:
        """Fix the quarter's figures: every figure any few agencies could read a seizure's guns back from is
        withheld (also when a total minus its published parts would give it), counts rounded to the base."""
        require_closed(quarter, now, rules)
        first, last = quarter.first_day, quarter.last_day
        traces = [t for t in traces if first <= t.recovery_date <= last]
        restorations = [r for r in restorations if first <= r.recovery_date <= last]
        audiences = Audiences(registry)
        cells = Cells()
        for t in traces:
            knowers = audiences.of(t.markings)
            for key in (
                "trace_requests",
                f"by_status|{t.status.value}",
                f"by_firearm_type|{t.firearm_type.value}",
                f"by_recovery_country|{t.recovery_place.country}",
            ):
                cells.add(key, t.seizure_id, knowers)
            if t.time_to_crime_days is not None:
                cells.add(SHORT if t.time_to_crime_days < SHORT_TIME_TO_CRIME_DAYS else LONG, t.seizure_id, knowers)
        for r in restorations:
            cells.add(f"restorations|{r.status.value}", r.seizure_id, audiences.of(r.markings))
        keys = sorted(cells.contributions)
        breakdowns = [
            Breakdown(name, tuple(k for k in keys if k.startswith(f"{name}|")), "trace_requests") for name in BREAKDOWNS
        ]
        breakdowns += [
            Breakdown("time_to_crime", (SHORT, LONG), f"by_status|{TraceStatus.COMPLETED.value}"),
            Breakdown("restorations", tuple(k for k in keys if k.startswith("restorations|"))),
        ]
        subsets = [Subsets("by_status", (SHORT,))]  # the short times-to-crime are some of the completed traces
        held = withheld(cells, rules, breakdowns, subsets, hidden=[LONG])
        keys = ["trace_requests", SHORT, *(k for k in cells.contributions if "|" in k)]
        counts = published_counts({k: cells.count(k) for k in keys}, held, rules.rounding.count_base, breakdowns)

        def dimension(name: str) -> dict[str, int]:
            return {k.split("|", 1)[1]: n for k, n in sorted(counts.items()) if k.startswith(f"{name}|")}

        names = ["trace_requests", SHORT, *BREAKDOWNS, "restorations"]
        return cls(
            id=cls.id_of(quarter),
            markings=strictest([markings, *(t.markings for t in traces), *(r.markings for r in restorations)]),
            period=str(quarter),
            released_at=now,
            rules_version=rules.version,
            trace_requests=counts.get("trace_requests", 0),
            by_status=dimension("by_status"),
            by_firearm_type=dimension("by_firearm_type"),
            by_recovery_country=dimension("by_recovery_country"),
            restorations=dimension("restorations"),
            short_time_to_crime=counts.get(SHORT, 0),
            withheld=[name for name in names if name in held],
        )

    def answer(self, language: Language) -> TraceStatisticsPublished:
        """The release labelled in one request's language. No median: a median is one trace's own value."""
        quarter = Quarter.parse(self.period)
        label = {name: CODES[name] for name in ("trace_status", "firearm_type", "restoration_status")}
        return TraceStatisticsPublished(
            period_start=quarter.first_day,
            period_end=quarter.last_day,
            period=self.period,
            language=language,
            trace_requests=self.trace_requests,
            by_status=_labelled(Counter(self.by_status), label["trace_status"], language),
            by_firearm_type=_labelled(Counter(self.by_firearm_type), label["firearm_type"], language),
            by_recovery_country=self.by_recovery_country,
            restorations=_labelled(Counter(self.restorations), label["restoration_status"], language),
            median_time_to_crime_days=None,
            short_time_to_crime=self.short_time_to_crime,
            sanitised=True,
            suppressed=[*self.withheld, "median_time_to_crime_days"],
            release_id=self.id,
            released_at=self.released_at,
            disclosure_rules=self.rules_version,
        )
