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
from alliance.domain.aggregate import Aggregate
from alliance.domain.codes import CodeList, Language, load_code_lists
from alliance.domain.deadlines import Deadline
from alliance.domain.errors import DomainRuleViolation
from alliance.domain.ids import derived_id
from alliance.domain.names import fold
from alliance.domain.periods import month_of
from alliance.domain.release import SMALL_COUNT, suppress_small_counts
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
            **restoration.model_dump(include=set(RecoveredFirearm.model_fields) - set(Aggregate.model_fields)),
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
        self._raise(
            TraceRequestSubmitted(
                trace_request_id=self.id,
                **self.model_dump(
                    include={
                        "seizure_id",
                        "item_number",
                        "maker",
                        "model",
                        "caliber",
                        "firearm_type",
                        "recovery_place",
                        "recovery_date",
                        "requesting_agency",
                        "status",
                        "serial_number",
                        "importer",
                        "country_of_manufacture",
                    }
                ),
            )
        )

    def _require(self, allowed: set[TraceStatus], action: str) -> None:
        if self.status not in allowed:
            raise DomainRuleViolation(f"trace request {self.id} is {self.status.value}: cannot {action}")

    def acknowledge(self, tracing_center_reference: str | None) -> None:
        self._require({TraceStatus.SUBMITTED}, "mark it in progress")
        self.status = TraceStatus.IN_PROGRESS
        self._close_deadline(TRACING_CENTER_REPLY)
        self._raise(
            TraceRequestInProgress(
                trace_request_id=self.id, status=self.status, tracing_center_reference=tracing_center_reference
            )
        )

    def complete(self, dealer: Dealer, purchaser: Person, sale_date: date) -> None:
        """Record the tracing center's answer and its time-to-crime; flags a short one (AP6.7)."""
        self._require({TraceStatus.SUBMITTED, TraceStatus.IN_PROGRESS}, "record a result")
        if sale_date > self.recovery_date:
            raise DomainRuleViolation(f"sale date {sale_date} is after the recovery date {self.recovery_date}")
        self.status = TraceStatus.COMPLETED
        self.dealer, self.purchaser, self.sale_date = dealer, purchaser, sale_date
        self.time_to_crime_days = (self.recovery_date - sale_date).days
        self._close_deadline(TRACING_CENTER_REPLY)
        self._raise(
            TraceCompleted(
                trace_request_id=self.id,
                seizure_id=self.seizure_id,
                serial_number=self.serial_number,
                maker=self.maker,
                dealer=dealer,
                purchaser=purchaser,
                sale_date=sale_date,
                recovery_date=self.recovery_date,
                time_to_crime_days=self.time_to_crime_days,
                status=self.status,
            )
        )
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
        self._raise(TraceNotCompleted(trace_request_id=self.id, reason=reason, status=self.status))

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
        request._raise(
            RestorationRequested(
                restoration_request_id=request.id,
                status=request.status,
                **request.model_dump(include=set(RecoveredFirearm.model_fields) - set(Aggregate.model_fields)),
            )
        )
        return request

    def _require_requested(self) -> None:
        if self.status is not RestorationStatus.REQUESTED:
            raise DomainRuleViolation(f"restoration {self.id} is already {self.status.value}")

    def restore(self, serial: str, notes: str | None) -> None:
        self._require_requested()
        self.status, self.restored_serial_number, self.notes = RestorationStatus.RESTORED, serial, notes
        self._raise(
            RestorationSucceeded(restoration_request_id=self.id, restored_serial_number=serial, status=self.status)
        )

    def fail(self, notes: str | None) -> None:
        self._require_requested()
        self.status, self.notes = RestorationStatus.FAILED, notes
        self._raise(RestorationFailed(restoration_request_id=self.id, notes=notes, status=self.status))


def _recovery(seizure: SeizureRecorded, item_number: int, gun: FirearmItem) -> dict[str, object]:
    return {
        "seizure_id": seizure.seizure_id,
        "item_number": item_number,
        "maker": gun.maker,
        "model": gun.model,
        "caliber": gun.caliber,
        "firearm_type": gun.firearm_type,
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
    def record(cls, licence: ExportLicenceIssued, source: str, markings: Markings) -> ExportLicence:
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
        record._raise(
            ExportLicenceRecorded(
                licence_id=record.id,
                **record.model_dump(
                    include={
                        "licence_number",
                        "exporter",
                        "consignee",
                        "destination_country",
                        "issued_on",
                        "valid_until",
                        "firearms",
                    }
                ),
            )
        )
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


def sanitise(report: TraceStatisticsPublished) -> TraceStatisticsPublished:
    """Counts without identities: every figure from fewer than SMALL_COUNT records is left out (AP9)."""
    suppressed = [
        name
        for name in ("by_status", "by_firearm_type", "by_recovery_country", "restorations")
        if suppress_small_counts(getattr(report, name)) != getattr(report, name)
    ]
    few = report.trace_requests < SMALL_COUNT
    short = report.short_time_to_crime if report.short_time_to_crime >= SMALL_COUNT else 0
    if 0 < report.short_time_to_crime < SMALL_COUNT:
        suppressed.append("short_time_to_crime")
    return report.model_copy(
        update={
            "trace_requests": 0 if few else report.trace_requests,
            "by_status": suppress_small_counts(report.by_status),
            "by_firearm_type": suppress_small_counts(report.by_firearm_type),
            "by_recovery_country": suppress_small_counts(report.by_recovery_country),
            "restorations": suppress_small_counts(report.restorations),
            "median_time_to_crime_days": None if few else report.median_time_to_crime_days,
            "short_time_to_crime": short,
            "sanitised": True,
            "suppressed": [*(["trace_requests", "median_time_to_crime_days"] if few else []), *suppressed],
        }
    )


def _labelled(counts: Counter[str], codes: CodeList, language: Language) -> dict[str, int]:
    return {codes.label(code, language): n for code, n in sorted(counts.items())}


class TraceStatisticsReport(Aggregate):
    """One periodic exchange of trace statistics, kept so it can be reproduced and audited."""

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
        sanitised: bool = False,
    ) -> TraceStatisticsReport:
        """Figures derived from records carry the strictest markings of every record counted.

        Sanitised figures (no count from fewer than SMALL_COUNT records) are released under the
        request's markings instead: one RED trace does not make the whole exchange RED.
        """
        report = trace_statistics(traces, restorations, period_start, period_end, language)
        counted = [t.markings for t in traces if period_start <= t.recovery_date <= period_end]
        counted += [r.markings for r in restorations if period_start <= r.recovery_date <= period_end]
        if sanitised:
            report = sanitise(report)
            markings = request_markings
        else:
            markings = strictest([request_markings, *counted])
        record = cls(id=report_id, markings=markings, report=report)
        record._raise(report)
        return record
