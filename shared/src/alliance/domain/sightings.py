"""People seen in another domain's facts, kept so that matching runs from both sides.

A service that matches a person against its own records (fugitives, investigation subjects) also
keeps the people it saw in other domains' facts, so that a record registered later is matched
against them with the same evidence: arrival order never decides the outcome.
"""

from __future__ import annotations

from alliance.contracts.common import Person
from alliance.contracts.markings import Markings
from alliance.domain.aggregate import Aggregate
from alliance.domain.ids import derived_id
from person_matching.matching import surname_keys


class TracedPurchaser(Aggregate):
    """The first retail purchaser of a traced crime gun (flow 5), with the keys it is found by."""

    RECORD_TYPE = "traced_purchaser"

    trace_request_id: str
    purchaser: Person
    surname_keys: list[str]

    @classmethod
    def seen(cls, trace_request_id: str, purchaser: Person, markings: Markings) -> TracedPurchaser:
        return cls(
            id=derived_id("TP", trace_request_id),
            markings=markings,
            trace_request_id=trace_request_id,
            purchaser=purchaser,
            surname_keys=surname_keys(purchaser),
        )
