"""Seizures, their amendments, route and method reports, and quarterly statistics (AP2, AP10, AP14).

Pure rules, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, Field

from alliance.contracts.disclosure_control import DisclosureRules
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
from alliance.contracts.registry import Registry
from alliance.domain.aggregate import Aggregate
from alliance.domain.codes import Language, load_code_lists
from alliance.domain.disclosure_control import (
    Audiences,
    Breakdown,
    Cells,
    Subsets,
    published_counts,
    require_closed,
    significant,
    withheld,
)
from alliance.domain.errors import NotYours
from alliance.domain.ids import derived_id
from alliance.domain.periods import Quarter, month_of
from alliance.domain.principals import Sender, require_own_country
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


MARKINGS_TIGHTENED = "the report was sent again under stricter markings"


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
        seizure._raise(seizure.fact(SeizureRecorded, seizure.contents, **seizure._measured()))
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
        self._raise(self.fact(SeizureCorrected, self.contents, **self._measured(), amendment_reason=amendment.reason))

    def reclassify(self, markings: Markings) -> None:
        """The agency sent its report again under stricter markings: the seizure takes them, and the services
        that derived records from it learn them from a correction (same contents, next revision), so
        that none of those records stays weaker than the report (AP9)."""
        before = self.markings
        self.absorb_markings(markings)
        if self.markings != before:
            self.revision += 1
            self._raise(
                self.fact(SeizureCorrected, self.contents, **self._measured(), amendment_reason=MARKINGS_TIGHTENED)
            )

    def _measured(self) -> dict[str, object]:
        """What a seizure's facts add to the record and its contents: its id, the drugs in kilograms, their total."""
        drugs = [
            RecordedDrug(**d.model_dump(), quantity_kg=to_kilograms(d.quantity, d.unit)) for d in self.contents.drugs
        ]
        return {"seizure_id": self.id, "drugs": drugs, "total_drugs_kg": round(sum(d.quantity_kg for d in drugs), 6)}


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
        labels = {lang: CODES["concealment_method"].label(method, lang) for lang in ("en", "es")} if method else None
        record._raise(
            record.fact(RouteReportPublished, report, route_report_id=record.id, concealment_method_label=labels)
        )
        return record


def quarterly_statistics(
    seizures: Iterable[Seizure], quarter: Quarter, countries: list[str], language: Language
) -> SeizureStatisticsPublished:
    """Totals per country of seizure for one quarter, drug names in the requested language (AP14)."""
    start, end = quarter.bounds()
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
        year=quarter.year,
        quarter=quarter.number,
        period=str(quarter),
        language=language,
        countries={k: CountryQuarter.model_validate(v) for k, v in totals.items()},
    )


# -- sanitised statistics: one disclosure-controlled release per quarter (AP9) ----------------------------

PARTNERS = ("MX", "US")  # every release has a row for both countries of the exchange
COUNTS = ("seizures", "firearms", "detained_persons")  # the guns and persons count some of the seizures
AMOUNTS = ("drugs_kg", "currency")


class ProtectedCountry(BaseModel):
    """One country's published figures in a sanitised release, by code; withheld figures are 0 or absent."""

    seizures: int = 0
    firearms: int = 0
    detained_persons: int = 0
    drugs_kg: dict[str, float] = Field(default_factory=dict, description="by drug code")
    currency: dict[str, float] = Field(default_factory=dict)
    withheld: list[str] = Field(default_factory=list)

    def labelled(self, language: Language) -> CountryQuarter:
        return CountryQuarter(
            seizures=self.seizures,
            firearms=self.firearms,
            detained_persons=self.detained_persons,
            drugs_kg=dict(sorted((CODES["drug"].label(code, language), kg) for code, kg in self.drugs_kg.items())),
            currency=self.currency,
            suppressed="seizures" in self.withheld,
            withheld=self.withheld,
        )


class SanitisedSeizureQuarter(Aggregate):
    """The one sanitised release of a quarter: fixed when first asked for after the quarter closed, and
    never computed again, so no two releases of a quarter can be subtracted from each other (AP9).

    Kept under the strictest markings of every seizure it counts (it is derived from them); what it
    publishes is disclosure-controlled for every agency (see ``alliance.domain.disclosure_control``),
    so each answer goes out under the markings of the request it answers.
    """

    RECORD_TYPE = "sanitised_seizure_quarter"

    period: str
    released_at: datetime
    rules_version: str
    countries: dict[str, ProtectedCountry]

    @staticmethod
    def id_of(quarter: Quarter) -> str:
        return derived_id("SQ", str(quarter))

    @classmethod
    def fix(
        cls,
        quarter: Quarter,
        seizures: list[Seizure],
        registry: Registry,
        markings: Markings,
        now: datetime,
        rules: DisclosureRules,
    ) -> SanitisedSeizureQuarter:
        """Fix the quarter's figures: every figure any few agencies could read a seizure back from is
        withheld, counts are rounded to the base and amounts to significant figures (the rules' data)."""
        require_closed(quarter, now, rules)
        start, end = quarter.bounds()
        counted = [s for s in seizures if start <= s.contents.seized_at < end]
        audiences = Audiences(registry)
        cells = Cells()
        for s in counted:
            c, knowers = s.contents, audiences.of(s.markings)
            country = c.place.country
            cells.add(f"{country}|seizures", s.id, knowers)
            cells.add(f"{country}|firearms", s.id, knowers, len(c.firearms))
            cells.add(f"{country}|detained_persons", s.id, knowers, len(c.detained_persons))
            for d in c.drugs:
                cells.add(f"{country}|drugs_kg|{d.drug}", s.id, knowers, to_kilograms(d.quantity, d.unit))
            for m in c.currency:
                cells.add(f"{country}|currency|{m.currency}", s.id, knowers, m.amount)
        countries = _countries(counted)
        breakdowns = [  # the kilograms of each drug, the amount of each currency: published whole or not at all
            Breakdown(f"{c}|{name}", tuple(k for k in sorted(cells.contributions) if k.startswith(f"{c}|{name}|")))
            for c in countries
            for name in AMOUNTS
        ]
        subsets = [
            Subsets(f"{c}|seizures", tuple(f"{c}|{name}" for name in (*COUNTS[1:], *AMOUNTS))) for c in countries
        ]
        held = withheld(cells, rules, breakdowns, subsets)
        keys = [f"{country}|{name}" for country in countries for name in COUNTS]
        counts = published_counts({key: cells.count(key) for key in keys}, held, rules.rounding.count_base)
        figures = rules.rounding.amount_significant_figures

        def amounts(country: str, name: str) -> dict[str, float]:
            prefix = f"{country}|{name}|"
            return {
                key.removeprefix(prefix): significant(cells.value(key), figures)
                for key in sorted(cells.contributions)
                if key.startswith(prefix) and key not in held
            }

        rows = {
            country: ProtectedCountry(
                **{name: counts.get(f"{country}|{name}", 0) for name in COUNTS},
                drugs_kg=amounts(country, "drugs_kg"),
                currency=amounts(country, "currency"),
                withheld=sorted(name for name in (*COUNTS, *AMOUNTS) if f"{country}|{name}" in held),
            )
            for country in countries
        }
        return cls(
            id=cls.id_of(quarter),
            markings=strictest([markings, *(s.markings for s in counted)]),
            period=str(quarter),
            released_at=now,
            rules_version=rules.version,
            countries=rows,
        )

    def answer(self, countries: list[str], language: Language) -> SeizureStatisticsPublished:
        """The release as published to one request: the countries asked for, labelled in its language."""
        quarter = Quarter.parse(self.period)
        return SeizureStatisticsPublished(
            year=quarter.year,
            quarter=quarter.number,
            period=self.period,
            language=language,
            countries={c: self.countries.get(c, ProtectedCountry()).labelled(language) for c in countries},
            sanitised=True,
            release_id=self.id,
            released_at=self.released_at,
            disclosure_rules=self.rules_version,
        )


def _countries(seizures: list[Seizure]) -> list[str]:
    return sorted({*PARTNERS, *(s.contents.place.country for s in seizures)})


class SeizureStatistics(Aggregate):
    """One answer to a statistics request, stored so it can be audited (and, not sanitised, reproduced)."""

    RECORD_TYPE = "seizure_statistics"

    figures: SeizureStatisticsPublished

    @classmethod
    def compile(
        cls,
        report_id: str,
        seizures: list[Seizure],
        request_markings: Markings,
        quarter: Quarter,
        countries: list[str],
        language: Language,
    ) -> SeizureStatistics:
        """Figures derived from records carry the strictest markings of every record counted."""
        start, end = quarter.bounds()
        counted = [s for s in seizures if s.contents.place.country in countries and start <= s.contents.seized_at < end]
        figures = quarterly_statistics(counted, quarter, countries, language)
        markings = strictest([request_markings, *(s.markings for s in counted)])
        return cls._published(report_id, markings, figures)

    @classmethod
    def sanitised(
        cls,
        report_id: str,
        release: SanitisedSeizureQuarter,
        request_markings: Markings,
        countries: list[str],
        language: Language,
    ) -> SeizureStatistics:
        """The quarter's one sanitised release, under the request's markings: one RED seizure does not
        make the whole exchange RED, and every request for the quarter gets the same figures."""
        return cls._published(report_id, request_markings, release.answer(countries, language))

    @classmethod
    def _published(cls, report_id: str, markings: Markings, figures: SeizureStatisticsPublished) -> SeizureStatistics:
        record = cls(id=report_id, markings=markings, figures=figures)
        record._raise(figures)
        return record
