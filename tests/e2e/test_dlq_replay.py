"""Dead-letter replay: a refused event, fixed and replayed, is processed once; a second replay does nothing."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from harness import (
    BOOTSTRAP,
    STACK_HOME,
    VENV_BIN,
    Agency,
    System,
    operator_cli,
    read_all,
    read_until,
    security,
    wait_drained,
)

pytestmark = pytest.mark.e2e

REPORTED = "org.alliance.interdiction.seizure.reported.v1"
AMENDED = "org.alliance.interdiction.seizure.amended.v1"
CORRECTED = "org.alliance.interdiction.seizure.corrected.v1"
SEIZURE = {
    "mode": "land",
    "seized_at": "2026-11-20T10:00:00-06:00",
    "place": {"description": "Nogales", "country": "US"},
    "drugs": [{"drug": "cocaine", "quantity": 3, "unit": "kg"}],
}


def replay(system: System, event_id: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ALLIANCE_NAMESPACE": system.namespace, "ALLIANCE_KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP}
    secret = str(security.secret_file(STACK_HOME, security.OPERATOR))
    command = [str(VENV_BIN / "alliance"), "dlq", "replay", event_id, "--format", "json", "--password-file", secret]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def test_a_fixed_dead_letter_replayed_is_processed_once_and_a_second_replay_does_nothing(
    system: System, agency: Agency
) -> None:
    reference = f"RPL-{uuid.uuid4().hex[:8]}"
    intake = system.topic("alliance.interdiction.intake")
    dead_topic = system.topic("alliance.interdiction.deadletter")
    events = system.topic("alliance.interdiction.events")
    amendment = {"report_reference": reference, "reason": "weight re-measured", "seizure": SEIZURE}

    # The amendment arrives before the seizure it amends is reported: refused after the wait, with a reason.
    amended = await agency.send(intake, amendment, event_type=AMENDED, key=reference)
    await read_until([dead_topic], lambda rs: any(r.headers.get("ce_id") == amended for r in rs))
    # The fix: the seizure is reported.
    await agency.send(intake, {"report_reference": reference, "seizure": SEIZURE}, event_type=REPORTED, key=reference)
    await wait_drained(system.group("interdiction", "intake"), [agency.topic_for(intake)])

    first = replay(system, amended)
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)[0]
    assert done["event_id"] == amended
    assert done["replayed_by"] == "operator"
    assert done["intake_topic"] == agency.topic_for(intake)
    assert done["reason"].startswith("rule violated")

    def corrected(records: list) -> list:  # type: ignore[type-arg]
        return [r for r in records if r.type == CORRECTED and r.json().get("report_reference") == reference]

    await read_until([events], lambda rs: len(corrected(rs)) >= 1)

    second = replay(system, amended)
    assert second.returncode == 1
    assert "replayed already, by operator" in second.stderr

    # After everything is read: one correction, one dead letter, one replay record naming who did it.
    await wait_drained(system.group("interdiction", "intake"), [agency.topic_for(intake)])
    assert len(corrected(await read_all([events]))) == 1
    assert len([r for r in await read_all([dead_topic]) if r.headers.get("ce_id") == amended]) == 1
    replays = [r for r in operator_cli(system, "dlq", "replays", "--format", "json") if r["event_id"] == amended]
    assert len(replays) == 1
    assert replays[0]["replayed_by"] == "operator"
