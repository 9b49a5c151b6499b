"""A desk's undo of its own last action: `decide_undo` and the `reverted` event, driven purely."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from app.clock import FixedClock
from app.domain import rules
from app.domain.errors import Conflict, Forbidden, ValidationFailed
from app.domain.onsite import OnSite
from app.domain.privacy import event_view
from app.domain.projections import snapshot
from app.domain.visit import EVENT_TYPES, RESTORED_FIELDS, Visit, replay
from app.store.codec import visit_from_json, visit_to_json
from tests.conftest import START
from tests.support.factories import gen_answers
from tests.unit.domain_helpers import Log, make_site
from tests.unit.test_rules import raises


@pytest.fixture
def log() -> Log:
    return Log(make_site(), FixedClock(START))


def _same(a: Visit, b: Visit) -> bool:
    """Equal but for the version and the last event, which an undo moves forward."""
    return dataclasses.replace(a, version=0, last_seq=0) == dataclasses.replace(b, version=0, last_seq=0)


def _after_observation(log: Log) -> str:
    visit = log.to_observation()
    log.clock.advance(minutes=31)
    return visit.id


# undone type -> (bring a visit to where the action can be taken: its id; the action)
SCENARIOS: dict[str, tuple[Callable[[Log], str], Callable[[Log, str], Visit]]] = {
    "called": (lambda log: log.check_in().id, lambda log, vid: log.call_next("consent", "A")),
    "recalled": (lambda log: log.to_consent_desk().id, lambda log, vid: log.recall(vid)),
    "started": (lambda log: log.to_consent_desk().id, lambda log, vid: log.start(vid, "A")),
    "requeued": (lambda log: log.to_consent_desk().id, lambda log, vid: log.no_show(vid)),
    "consented": (lambda log: log.to_consent_desk().id,
                  lambda log, vid: log.consent(vid, allergy_history=True)),
    "deferred": (lambda log: log.to_consent_desk().id,
                 lambda log, vid: log.consent(vid, outcome="deferred", deferral_reason="fever",
                                              answers=gen_answers(fever=True), signature=None)),
    "refused": (lambda log: log.to_consent_desk().id,
                lambda log, vid: log.consent(vid, outcome="refused", signature=None)),
    "released": (_after_observation, lambda log, vid: log.release(vid)),
    "cancelled": (lambda log: log.to_consent_desk().id, lambda log, vid: log.cancel(vid)),
}


def test_every_undoable_type_has_a_scenario_and_is_an_event_type():
    assert set(SCENARIOS) | {"no_show"} == set(rules.UNDOABLE)
    assert set(rules.UNDOABLE) < set(EVENT_TYPES) and "reverted" in EVENT_TYPES


@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_undo_restores_exactly_the_visit_before_the_action(log, kind):
    setup, action = SCENARIOS[kind]
    visit_id = setup(log)
    before = list(log.events[visit_id])
    acted = action(log, visit_id)
    assert log.last_event(visit_id).type == kind
    log.clock.advance(seconds=rules.UNDO_SECONDS)  # the last moment an undo is allowed
    undone = log.undo(visit_id)
    assert _same(undone, replay(before)), kind
    assert not _same(undone, acted)
    assert (undone.version, undone.last_seq) == (acted.version + 1, log.seq)
    # the undo is a new event; nothing earlier changed, and a replay gives the same visit
    events = log.events[visit_id]
    assert events[:-1] == before + [events[-2]] and events[-2].type == kind
    reverted = events[-1]
    assert reverted.type == "reverted"
    assert reverted.data["reverts_seq"] == events[-2].seq and reverted.data["reverts_type"] == kind
    assert set(reverted.data["restore"]) == set(RESTORED_FIELDS)
    assert (reverted.station, reverted.desk) == (events[-2].station, events[-2].desk)
    assert replay(events) == undone
    json.dumps(reverted.data)  # stored as JSON
    assert visit_from_json(json.loads(json.dumps(visit_to_json(undone)))) == undone


def test_undo_of_a_no_show_that_closed_the_visit(log):
    log = Log(make_site(max_requeues=0), FixedClock(START))
    visit = log.to_consent_desk()
    before = list(log.events[visit.id])
    closed = log.no_show(visit.id)
    assert (closed.state, log.last_event(visit.id).type) == ("no_show", "no_show")
    undone = log.undo(visit.id)
    assert _same(undone, replay(before))
    assert (undone.state, undone.station, undone.desk, undone.closed_at) == ("called", "consent", "A", None)


def test_an_undone_call_puts_the_person_back_at_their_place_and_off_the_display(log):
    first = log.check_in()
    second = log.check_in()
    called = log.call_next("consent", "A")
    assert called.id == first.id
    calling = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())["calling"]
    assert [call["ticket"] for call in calling] == [first.ticket]
    undone = log.undo(first.id)
    assert (undone.state, undone.desk, undone.called_at, undone.queue_pos) == ("waiting", None, None, first.queue_pos)
    view = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())
    assert view["calling"] == []
    assert view["stations"]["consent"]["waiting"] == 2
    assert view["stations"]["consent"]["desks"]["A"] == {"state": "idle", "ticket": None}
    assert log.next_waiting("consent").id == first.id  # still ahead of the second person
    assert log.call_next("consent", "B").id == first.id
    assert log.call_next("consent", "A").id == second.id


def test_an_undone_consent_leaves_the_injection_queue_for_the_consent_desk(log):
    visit = log.to_consent_desk("B")
    log.start(visit.id, "B")
    log.consent(visit.id, allergy_history=True)
    undone = log.undo(visit.id)
    assert (undone.state, undone.station, undone.desk) == ("serving", "consent", "B")
    assert undone.consent is None and undone.extended_observation is False
    assert log.next_waiting("injection") is None
    # the desk records the right outcome afterwards
    assert log.consent(visit.id, desk="B").station == "injection"


def test_undone_recall_gives_back_the_earlier_call_time_and_count(log):
    visit = log.to_consent_desk()
    log.clock.advance(seconds=40)
    log.recall(visit.id)
    undone = log.undo(visit.id)
    assert (undone.called_at, undone.recalls) == (visit.called_at, 0)


def test_undone_release_puts_the_person_back_on_the_observation_board(log):
    visit_id = _after_observation(log)
    log.release(visit_id, station="exit")
    assert log.last_event(visit_id).station == "exit"
    undone = log.undo(visit_id)
    assert (undone.state, undone.station, undone.released_at, undone.closed_at) == ("observing", "observation", None, None)
    assert undone.vaccinated and undone.injection is not None
    view = snapshot(log.site, OnSite(log.active()), seq=log.seq, now=log.clock.now())
    assert view["observation"]["ready"] == [undone.ticket]


# --- refusals --------------------------------------------------------------------------------------

def test_only_the_last_event_can_be_undone(log):
    visit = log.to_consent_desk()
    called_seq = log.last_event(visit.id).seq
    log.start(visit.id, "A")
    with raises(Conflict, "undo_not_possible", "seq") as info:
        log.undo(visit.id, seq=called_seq)
    assert "last event" in info.value.message


@pytest.mark.parametrize("kind", ["checked_in", "injected", "aefi_reported", "aefi_resolved", "corrected",
                                  "turned_away", "reverted"])
def test_injections_adverse_events_check_ins_corrections_and_undos_are_never_undone(log, kind):
    if kind == "checked_in":
        visit_id = log.check_in().id
    elif kind == "turned_away":
        visit_id = log.check_in(health_code="red").id
    elif kind == "injected":
        visit_id = log.to_observation().id
    elif kind == "aefi_reported":
        visit_id = log.to_observation().id
        log.aefi(visit_id)
    elif kind == "aefi_resolved":
        visit_id = log.to_observation().id
        log.aefi(visit_id)
        log.aefi_outcome(visit_id, "recovered")
    elif kind == "corrected":
        visit_id = log.to_consent_desk().id
        log.correct(visit_id, state="left", station=None)
    else:
        visit_id = log.to_consent_desk().id
        log.undo(visit_id)
    assert log.last_event(visit_id).type == kind
    with raises(Conflict, "undo_not_possible", "seq") as info:
        log.undo(visit_id)
    assert f"a {kind} event cannot be undone" in info.value.message
    assert "supervisor" in info.value.message and "correction" in info.value.message


def test_only_whoever_recorded_the_action_may_undo_it(log):
    visit = log.to_consent_desk()
    with raises(Forbidden, "undo_not_yours") as info:
        log.undo(visit.id, actor="station:someone-else")
    assert log.actor in info.value.message
    assert log.undo(visit.id).state == "waiting"


def test_an_undo_after_the_undo_window_is_refused(log):
    visit = log.to_consent_desk()
    log.clock.advance(seconds=rules.UNDO_SECONDS + 1)
    with raises(Conflict, "undo_not_possible", "seq") as info:
        log.undo(visit.id)
    assert f"{rules.UNDO_SECONDS + 1} s ago" in info.value.message and "supervisor" in info.value.message


def test_an_event_of_another_visit_is_not_undone_here(log):
    first = log.to_consent_desk()
    second = log.check_in()
    with raises(ValidationFailed, "unknown_event", "seq"):
        rules.decide_undo(second, last_event=log.last_event(first.id), previous=second, actor=log.actor,
                          now=log.clock.now())


def test_no_undo_back_to_a_desk_that_has_called_someone_else(log):
    visit = log.to_consent_desk("A")
    log.consent(visit.id)
    other = log.check_in()
    assert log.call_next("consent", "A").id == other.id
    with raises(Conflict, "undo_not_possible", "seq") as info:
        log.undo(visit.id)
    assert "desk A" in info.value.message and other.ticket in info.value.message


def test_no_undo_of_a_cancel_once_the_person_has_another_open_visit(log):
    visit = log.check_in()
    log.cancel(visit.id)
    again = log.check_in(document_number=visit.person.document_number)
    with raises(Conflict, "undo_not_possible", "seq") as info:
        log.undo(visit.id)
    assert again.ticket in info.value.message


def test_a_refused_undo_records_nothing(log):
    visit = log.to_consent_desk()
    log.clock.advance(seconds=60)
    before = (dict(log.visits), log.seq, len(log.all_events))
    with pytest.raises(Conflict):
        log.undo(visit.id)
    assert (dict(log.visits), log.seq, len(log.all_events)) == before


def test_the_full_view_of_a_reverted_event_hides_the_restored_signature(log):
    visit = log.to_consent_desk()
    log.consent(visit.id, signature="data:image/png;base64,U0lH")
    log.call_next("injection", "1")
    log.undo(visit.id)  # back to the injection queue, the consent with its signature put back
    reverted = log.last_event(visit.id)
    assert reverted.data["restore"]["consent"]["signature"] == "data:image/png;base64,U0lH"
    assert event_view(reverted, "full")["data"]["restore"]["consent"]["signature"] == "(stored)"
    assert "data" not in event_view(reverted, "masked")
