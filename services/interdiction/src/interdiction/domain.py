"""Seizures, their amendments, route and method reports, and quarterly statistics (AP2, AP10, AP14).

Pure rules, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from alliance.contracts.interdiction import (
    CountryQuarter,
    RecordedDrug,
    RouteReportPublished,
    RouteReportSubmitted,
    SeizureAmended,
    SeizureContents,
    SeizureCorrected,
    SeizureRecorded,
    SeizureReported,
    SeizureStatisticsPublished,
)
from alliance.contracts.markings import Markings, strictest
from alliance.domain.aggregate import Aggregate
from alliance.domain.codes import Language, load_code_lists
from alliance.domain.errors import NotYours
from alliance.domain.ids import derived_id
from alliance.domain.periods import month_of
from alliance.domain.principals import Sender, require_own_country
from alliance.domain.release import SMALL_COUNT
from alliance.domain.units import to_kilograms

CODES = load_code_lists("interdiction")
# AP2 1.1 and AP14 1: each country reports the seizures its agencies made; the place's country is what the
# quarterly figures, the forfeiture (AP13) and the provisional arrest (AP5) of the seizure are charged to.
OWN_SEIZURES = "an agency reports seizures made in its own country (AP2 1.1, AP14 1)"


def seizure_id(reporting_source: str, report_reference: str) -> str:
    """One seizure per agency case number: a report sent twice is still one seizure."""
    return derived_id("SZ", reporting_source, report_reference)


def code(text: str) -> str:
    """Codes are written as snake_case; agencies may send 'Tractor-Trailer' or 'tractor trailer'."""
    return "_".join(text.strip().lower().replace("-", " ").split())


def checked_contents(contents: SeizureContents) -> SeizureContents:
    """Drug types, conveyances and concealment methods must come from the shared bilingual code lists."""
    drugs = [d.model_copy(update={"drug": CODES["drug"].require(code(d.drug))}) for d in contents.drugs]
    update: dict[str, object] = {"drugs": drugs}
    if contents.conveyance:
        kind = CODES["conveyance"].require(code(contents.conveyance.kind))
        update["conveyance"] = contents.conveyance.model_copy(update={"kind": kind})
    if contents.concealment_method:
        update["concealment_method"] = CODES["concealment_method"].require(code(contents.concealment_method))
    return contents.model_copy(update=update)


class Seizure(Aggregate):
    RECORD_TYPE = "seizure"

    report_reference: str
    reporting_agency: str
    recorded_at: datetime
    contents: SeizureContents
    revision: int = 1

    @property
    def seized_on(self) -> date:
        """The day of the seizure as statistics count it: quarters are UTC quarters."""
        return self.contents.seized_at.astimezone(UTC).date()

    def lookup_keys(self) -> dict[str, Any]:
        return {"seized_month": month_of(self.seized_on)}  # statistics look seizures up by month (AP14)

    @classmethod
    def record(
        cls,
        report: SeizureReported,
        *,
        reporting_source: str,
        markings: Markings,
        recorded_at: datetime,
        sender: Sender | None = None,
    ) -> Seizure:
        """Record a reported seizure; produces ``seizure recorded``."""
        contents = checked_contents(report.seizure)
        require_own_country(sender, contents.place.country, "place.country", OWN_SEIZURES)
        seizure = cls(
            id=seizure_id(reporting_source, report.report_reference),
            markings=markings,
            report_reference=report.report_reference,
            reporting_agency=reporting_source,
            recorded_at=recorded_at,
            contents=contents,
        )
        seizure._raise(SeizureRecorded(**seizure._fact_fields()))
        return seizure

    def amend(
        self, amendment: SeizureAmended, *, source: str, markings: Markings, sender: Sender | None = None
    ) -> None:
        """Only the reporting agency corrects its seizure; markings of both versions apply from now on."""
        if source != self.reporting_agency:
            raise NotYours(f"seizure {self.report_reference} can only be amended by {self.reporting_agency}")
        require_own_country(sender, amendment.seizure.place.country, "place.country", OWN_SEIZURES)
        self.absorb_markings(markings)
        self.contents = checked_contents(amendment.seizure)
        self.revision += 1
        self._raise(SeizureCorrected(**self._fact_fields(), revision=self.revision, amendment_reason=amendment.reason))

    def _fact_fields(self) -> dict[str, object]:
        c = self.contents
        drugs = [RecordedDrug(**d.model_dump(), quantity_kg=to_kilograms(d.quantity, d.unit)) for d in c.drugs]
        return {
            "seizure_id": self.id,
            "report_reference": self.report_reference,
            "reporting_agency": self.reporting_agency,
            "recorded_at": self.recorded_at,
            **c.model_dump(exclude={"drugs"}),
            "drugs": drugs,
            "total_drugs_kg": round(sum(d.quantity_kg for d in drugs), 6),
        }


class RouteReport(Aggregate):
    """Route and method intelligence, shared with the other country under the sender's markings (AP10)."""

    RECORD_TYPE = "route_report"

    report: RouteReportSubmitted
    reporting_agency: str

    @classmethod
    def submit(cls, report: RouteReportSubmitted, source: str, markings: Markings) -> RouteReport:
        drugs = [CODES["drug"].require(code(d)) for d in report.drugs]
        method = (
            CODES["concealment_method"].require(code(report.concealment_method)) if report.concealment_method else None
        )
        report = report.model_copy(update={"drugs": drugs, "concealment_method": method})
        record = cls(
            id=derived_id("RR", source, report.report_reference),
            markings=markings,
            report=report,
            reporting_agency=source,
        )
        record._raise(
            RouteReportPublished(
                route_report_id=record.id,
                reporting_agency=source,
                concealment_method_label={
                    lang: CODES["concealment_method"].label(method, lang) for lang in ("en", "es")
                }
                if method
                else None,
                **report.model_dump(exclude={"drugs", "concealment_method"}),
                drugs=drugs,
                concealment_method=method,
            )
        )
        return record


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC) if quarter == 4 else datetime(year, 3 * quarter + 1, 1, tzinfo=UTC)
    return start, end


def quarterly_statistics(
    seizures: Iterable[Seizure], year: int, quarter: int, countries: list[str], language: Language
) -> SeizureStatisticsPublished:
    """Totals per country of seizure for one quarter, drug names in the requested language (AP14)."""
    start, end = quarter_bounds(year, quarter)
    totals: dict[str, dict[str, object]] = {}
    drugs: dict[str, defaultdict[str, float]] = {c: defaultdict(float) for c in countries}
    money: dict[str, defaultdict[str, float]] = {c: defaultdict(float) for c in countries}
    counts = {c: {"seizures": 0, "firearms": 0, "detained_persons": 0} for c in countries}
    for s in seizures:
        c = s.contents
        country = c.place.country
        if country not in counts or not (start <= c.seized_at < end):
            continue
        counts[country]["seizures"] += 1
        counts[country]["firearms"] += len(c.firearms)
        counts[country]["detained_persons"] += len(c.detained_persons)
        for d in c.drugs:
            drugs[country][CODES["drug"].label(d.drug, language)] += to_kilograms(d.quantity, d.unit)
        for m in c.currency:
            money[country][m.currency] += m.amount
    for country in countries:
        totals[country] = {
            **counts[country],
            "drugs_kg": {k: round(v, 3) for k, v in sorted(drugs[country].items())},
            "currency": {k: round(v, 2) for k, v in sorted(money[country].items())},
        }
    return SeizureStatisticsPublished(
        year=year,
        quarter=quarter,
        language=language,
        countries={k: CountryQuarter.model_validate(v) for k, v in totals.items()},
    )


def sanitise(
    figures: SeizureStatisticsPublished, seizures: Iterable[Seizure], language: Language
) -> SeizureStatisticsPublished:
    """Counts without identities: a country, drug or currency figure from fewer than SMALL_COUNT
    seizures is suppressed, so no single record can be read back from the aggregate (AP9)."""
    contributing: dict[tuple[str, str], int] = defaultdict(int)
    for s in seizures:
        country = s.contents.place.country
        drugs = {f"drug:{CODES['drug'].label(d.drug, language)}" for d in s.contents.drugs}
        for key in drugs | {f"currency:{m.currency}" for m in s.contents.currency}:
            contributing[(country, key)] += 1
    kept: dict[str, CountryQuarter] = {}
    for country, quarter in figures.countries.items():
        if quarter.seizures < SMALL_COUNT:
            kept[country] = CountryQuarter(
                seizures=0, drugs_kg={}, firearms=0, currency={}, detained_persons=0, suppressed=True
            )
            continue
        kept[country] = quarter.model_copy(
            update={
                "drugs_kg": {
                    label: kg
                    for label, kg in quarter.drugs_kg.items()
                    if contributing[(country, f"drug:{label}")] >= SMALL_COUNT
                },
                "currency": {
                    code: amount
                    for code, amount in quarter.currency.items()
                    if contributing[(country, f"currency:{code}")] >= SMALL_COUNT
                },
            }
        )
    return figures.model_copy(update={"countries": kept, "sanitised": True})


class SeizureStatistics(Aggregate):
    """One quarterly exchange, stored so it can be audited and reproduced from the seizures."""

    RECORD_TYPE = "seizure_statistics"

    figures: SeizureStatisticsPublished

    @classmethod
    def compile(
        cls,
        report_id: str,
        seizures: list[Seizure],
        request_markings: Markings,
        year: int,
        quarter: int,
        countries: list[str],
        language: Language,
        sanitised: bool = False,
    ) -> SeizureStatistics:
        """Figures derived from records carry the strictest markings of every record counted.

        Sanitised figures (small counts suppressed, no identities) are released under the request's
        markings instead: one RED seizure does not make the whole exchange RED.
        """
        start, end = quarter_bounds(year, quarter)
        counted = [s for s in seizures if s.contents.place.country in countries and start <= s.contents.seized_at < end]
        figures = quarterly_statistics(counted, year, quarter, countries, language)
        if sanitised:
            figures = sanitise(figures, counted, language)
            markings = request_markings
        else:
            markings = strictest([request_markings, *(s.markings for s in counted)])
        record = cls(id=report_id, markings=markings, figures=figures)
        record._raise(figures)
        return record
