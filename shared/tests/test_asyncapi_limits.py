from alliance.contracts.interdiction import SeizureRecorded, SeizureReported
from alliance.contracts.limits import MAX_ITEMS_PER_SEIZURE, MAX_JSON_DEPTH, MAX_RECORD_BYTES
from alliance.runtime.asyncapi import document


def test_the_limits_are_published_for_integrators() -> None:
    doc = document("interdiction", "1", {"in": [SeizureReported]}, {"out": [SeizureRecorded]}, "kafka:9092")
    limits = doc["info"]["x-alliance-limits"]
    assert (limits["maxRecordBytes"], limits["maxJsonDepth"]) == (MAX_RECORD_BYTES, MAX_JSON_DEPTH)
    # Referenced types live under components/schemas, where the payloads' $refs point.
    contents = doc["components"]["schemas"]["SeizureContents"]["properties"]
    assert contents["firearms"]["maxItems"] == MAX_ITEMS_PER_SEIZURE
