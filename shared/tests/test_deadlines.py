from datetime import UTC, datetime, timedelta

from alliance.contracts.markings import TLP, Markings
from alliance.domain.aggregate import Aggregate
from alliance.domain.deadlines import Deadline, DeadlineApproaching, DeadlineBreached, DeadlineState

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
MARKINGS = Markings(tlp=TLP.AMBER, releasable_to=("MX", "US"), originators=("mx-cofepris",))


class Notification(Aggregate):
    RECORD_TYPE = "notification"

    def open_reply_window(self) -> None:
        self._set_deadline(Deadline.starting("reply", "importing country reply", T0, timedelta(days=8)))

    def reply(self) -> None:
        self._close_deadline("reply")


def fresh() -> Notification:
    n = Notification(id="N1", markings=MARKINGS)
    n.open_reply_window()
    return n


def test_deadline_warns_when_a_quarter_of_the_period_remains() -> None:
    d = Deadline.starting("reply", "x", T0, timedelta(days=8))
    assert d.due_at == T0 + timedelta(days=8)
    assert d.warn_at == T0 + timedelta(days=6)


def test_approaching_then_breached_each_exactly_once() -> None:
    n = fresh()
    assert n.next_deadline_at() == T0 + timedelta(days=6)
    assert not n.escalate_deadlines(T0 + timedelta(days=5), "chemicals")
    assert n.escalate_deadlines(T0 + timedelta(days=6, hours=1), "chemicals")
    assert not n.escalate_deadlines(T0 + timedelta(days=7), "chemicals")
    assert n.next_deadline_at() == T0 + timedelta(days=8)
    assert n.escalate_deadlines(T0 + timedelta(days=9), "chemicals")
    assert not n.escalate_deadlines(T0 + timedelta(days=30), "chemicals")
    assert [type(e) for e in n.pending_events] == [DeadlineApproaching, DeadlineBreached]
    breached = n.pending_events[1]
    assert isinstance(breached, DeadlineBreached)
    assert (breached.record_id, breached.record_type, breached.kind) == ("N1", "notification", "reply")
    assert n.next_deadline_at() is None


def test_a_clock_that_was_down_raises_both_at_once() -> None:
    n = fresh()
    assert n.escalate_deadlines(T0 + timedelta(days=20), "chemicals")
    assert [type(e) for e in n.pending_events] == [DeadlineApproaching, DeadlineBreached]


def test_a_met_deadline_never_escalates() -> None:
    n = fresh()
    n.reply()
    assert n.deadline("reply") is not None
    assert n.deadline("reply").state is DeadlineState.MET  # type: ignore[union-attr]
    assert n.next_deadline_at() is None
    assert not n.escalate_deadlines(T0 + timedelta(days=30), "chemicals")


def test_deadlines_survive_the_round_trip_through_the_store_shape() -> None:
    n = fresh()
    n.escalate_deadlines(T0 + timedelta(days=7), "chemicals")
    doc = {"_id": n.id, "version": 3, "markings": MARKINGS.model_dump(mode="json"), **n.state()}
    assert isinstance(doc["next_deadline_at"], datetime)
    again = Notification.from_document(doc)
    assert again.deadlines == n.deadlines
    assert again.version == 3


def test_absorbed_markings_never_weaken() -> None:
    n = fresh()
    n.absorb_markings(Markings(tlp=TLP.RED, releasable_to=("US",), originators=("us-dea",), originator_control=True))
    assert n.markings.tlp is TLP.RED
    assert n.markings.releasable_to == ("US",)
    assert n.markings.originators == ("mx-cofepris", "us-dea")
