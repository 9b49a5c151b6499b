"""POST /sites/{site}/visits/{id}/undo: a desk takes back its own last action within a few seconds."""
from __future__ import annotations

import time

from app.domain import rules
from app.live import socketio
from tests.integration.test_sealing import SIGNATURE, _all_stored_text
from tests.support.api import (
    act,
    assert_error,
    call_next,
    check_in,
    checker,
    japi,
    snapshot_seq,
    to_observation,
)
from tests.support.factories import gen_answers, gen_consent


def _history(japi, visit_id: str) -> list[dict]:
    response = japi.get(f"/sites/demo/visits/{visit_id}")
    assert response.status_code == 200
    return response.get_json()["events"]


def _call(japi, station: str, desk: str, token: str) -> tuple[dict, int]:
    response = japi.post(f"/sites/demo/stations/{station}/call-next", {"desk": desk}, token=token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["visit"], response.get_json()["seq"]


def _undo(japi, visit_id: str, seq: int, token: str, *, key: str | None = None, expect: int = 200):
    return act(japi, visit_id, "undo", {"seq": seq}, token=token, key=key, expect=expect)


def test_an_undone_call_puts_the_person_back_in_the_queue_at_their_place_and_off_the_display(japi, tokens):
    consent = tokens.station("consent")
    first = check_in(japi)
    second = check_in(japi)
    called, seq = _call(japi, "consent", "A", consent)
    assert called["id"] == first["id"]
    calling = japi.get("/sites/demo/snapshot", token=tokens.display).get_json()["calling"]
    assert [call["ticket"] for call in calling] == [first["ticket"]]

    response = _undo(japi, first["id"], seq, consent)
    body = response.get_json()
    assert (body["visit"]["state"], body["visit"]["station"], body["visit"]["desk"]) == ("waiting", "consent", None)
    assert body["visit"]["called_at"] is None
    assert body["seq"] == seq + 1
    snap = japi.get("/sites/demo/snapshot", token=tokens.display).get_json()
    assert snap["calling"] == [] and snap["seq"] == seq + 1
    assert snap["stations"]["consent"]["waiting"] == 2 and snap["stations"]["consent"]["called"] == 0
    assert snap["stations"]["consent"]["desks"]["A"] == {"state": "idle", "ticket": None}
    # still first in line: the next call (any desk) takes them, then the second person
    assert call_next(japi, "consent", "B")["id"] == first["id"]
    assert call_next(japi, "consent", "A")["id"] == second["id"]
    # nothing was rewritten: the call is still in the history, followed by its undo
    events = _history(japi, first["id"])
    assert [event["type"] for event in events] == ["checked_in", "called", "reverted", "called"]
    reverted = events[2]
    assert reverted["data"]["reverts_seq"] == seq and reverted["data"]["reverts_type"] == "called"
    assert reverted["data"]["restore"]["state"] == "waiting"
    assert (reverted["station"], reverted["desk"], reverted["actor"]) == ("consent", "A", "station:station-consent")


def test_the_consent_desk_undoes_a_consent_although_the_person_already_waits_at_injection(japi, tokens):
    consent = tokens.station("consent")
    visit = check_in(japi)
    _call(japi, "consent", "B", consent)
    response = act(japi, visit["id"], "consent", gen_consent("B", allergy_history=True), token=consent)
    after = response.get_json()
    assert (after["visit"]["state"], after["visit"]["station"]) == ("waiting", "injection")
    # the person is out of the consent station's reach now, but the undo is about the desk's own event
    assert_error(act(japi, visit["id"], "cancel", {"reason": "x"}, token=consent, expect=403), 403, "forbidden")
    undone = _undo(japi, visit["id"], after["seq"], consent).get_json()["visit"]
    assert (undone["state"], undone["station"], undone["desk"]) == ("called", "consent", "B")
    assert undone["consent"] is None
    assert japi.get("/sites/demo/visits", state="waiting", station="injection").get_json()["visits"] == []
    # the desk then records the right outcome
    deferred = act(japi, visit["id"], "consent", gen_consent("B", outcome="deferred", deferral_reason="fever",
                                                             answers=gen_answers(fever=True),
                                                             signature=None), token=consent).get_json()
    assert deferred["visit"]["state"] == "deferred"


def test_an_undo_repeated_with_the_same_idempotency_key_is_applied_once(japi, tokens, services):
    consent = tokens.station("consent")
    visit = check_in(japi)
    _, seq = _call(japi, "consent", "A", consent)
    first = _undo(japi, visit["id"], seq, consent, key="undo-once")
    again = _undo(japi, visit["id"], seq, consent, key="undo-once")
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    assert again.get_json() == first.get_json()
    assert [event["type"] for event in _history(japi, visit["id"])] == ["checked_in", "called", "reverted"]
    assert snapshot_seq(japi) == seq + 1
    # without the key, a second undo of the same event is refused: it is not the last event any more
    error = assert_error(_undo(japi, visit["id"], seq, consent, expect=409), 409, "undo_not_possible", "seq")
    assert "last event" in error["message"]
    # and an undo cannot be undone
    error = assert_error(_undo(japi, visit["id"], seq + 1, consent, expect=409), 409, "undo_not_possible")
    assert "supervisor" in error["message"]
    assert snapshot_seq(japi) == seq + 1


def test_another_station_or_another_caller_cannot_undo_a_desks_action(japi, tokens):
    consent = tokens.station("consent")
    visit = check_in(japi)
    _, seq = _call(japi, "consent", "A", consent)
    for station in ("injection", "observation", "exit"):
        assert_error(_undo(japi, visit["id"], seq, tokens.station(station), expect=403), 403, "forbidden")
    assert_error(_undo(japi, visit["id"], seq, tokens.display, expect=403), 403, "role_forbidden")
    assert_error(_undo(japi, visit["id"], seq, tokens.make("city_supervisor", site=None), expect=403),
                 403, "role_forbidden")
    # check-in reaches consent, but did not record the call
    error = assert_error(_undo(japi, visit["id"], seq, tokens.station("checkin"), expect=403), 403, "undo_not_yours")
    # a supervisor did not record it either: a supervisor corrects
    error = assert_error(_undo(japi, visit["id"], seq, tokens.supervisor, expect=403), 403, "undo_not_yours")
    assert "station:station-consent" in error["message"]
    assert snapshot_seq(japi) == seq
    assert _undo(japi, visit["id"], seq, consent).get_json()["visit"]["state"] == "waiting"


def test_an_undo_after_the_window_or_of_an_injection_is_refused(japi, tokens, clock):
    consent = tokens.station("consent")
    visit = check_in(japi)
    _, seq = _call(japi, "consent", "A", consent)
    clock.advance(seconds=rules.UNDO_SECONDS + 1)
    error = assert_error(_undo(japi, visit["id"], seq, consent, expect=409), 409, "undo_not_possible", "seq")
    assert "supervisor" in error["message"]
    act(japi, visit["id"], "cancel", {"reason": "left"}, token=consent)  # frees desk A
    # an injection is never undone, not even at once by the booth that recorded it
    injection = tokens.station("injection")
    observing = to_observation(japi, desk="2")
    injected = _history(japi, observing)[-1]
    assert injected["type"] == "injected"
    act(japi, observing, "undo", {"seq": injected["seq"]}, token=tokens.admin, expect=409)
    error = assert_error(_undo(japi, observing, injected["seq"], injection, expect=409), 409, "undo_not_possible")
    assert "injected" in error["message"] and "correction" in error["message"]


def test_an_admin_undoes_its_own_release_and_the_person_is_observed_again(japi, clock):
    visit_id = to_observation(japi)
    clock.advance(minutes=31)
    released = act(japi, visit_id, "release", {}).get_json()
    assert released["visit"]["state"] == "released"
    undone = _undo(japi, visit_id, released["seq"], japi.api.token).get_json()["visit"]
    assert (undone["state"], undone["station"], undone["released_at"]) == ("observing", "observation", None)
    assert undone["observation"]["may_leave"] is True and undone["vaccinated"] is True
    assert japi.get("/sites/demo/snapshot").get_json()["observation"]["ready"] == [undone["ticket"]]


def test_the_check_in_desk_undoes_its_cancel_of_someone_waiting_at_consent(japi, tokens):
    checkin = tokens.station("checkin")
    visit = check_in(japi, token=checkin)
    cancelled = act(japi, visit["id"], "cancel", {"reason": "wrong queue"}, token=checkin).get_json()
    assert cancelled["visit"]["state"] == "left"
    undone = _undo(japi, visit["id"], cancelled["seq"], checkin).get_json()["visit"]
    assert (undone["state"], undone["station"], undone["closed_reason"]) == ("waiting", "consent", None)
    assert undone["ticket"] == visit["ticket"]


def test_a_bad_seq_is_refused_naming_it(japi, tokens):
    consent = tokens.station("consent")
    visit = check_in(japi)
    other = check_in(japi)
    _, seq = _call(japi, "consent", "A", consent)
    assert_error(_undo(japi, other["id"], seq, consent, expect=422), 422, "unknown_event", "seq")
    assert_error(_undo(japi, visit["id"], 10_000, consent, expect=422), 422, "unknown_event", "seq")
    for body in ({}, {"seq": 0}, {"seq": "3"}, {"seq": 2**60}, {"seq": seq, "why": "x"}):
        response = japi.post(f"/sites/demo/visits/{visit['id']}/undo", body, token=consent)
        assert_error(response, 422, "validation_failed")
    assert snapshot_seq(japi) == seq


def test_the_display_drops_an_undone_call(app, japi, tokens):
    """Live: the call is announced at once; after the undo the display's next snapshot has no call."""
    consent = tokens.station("consent")
    visit = check_in(japi)
    display = socketio.test_client(app, auth={"token": tokens.display})
    try:
        assert display.emit("join", {"site": "demo", "view": "display"}, callback=True)["ok"] is True
        display.get_received()
        _, seq = _call(japi, "consent", "A", consent)
        _undo(japi, visit["id"], seq, consent)
        deadline = time.monotonic() + 3
        messages: list[dict] = []
        while time.monotonic() < deadline:
            messages += display.get_received()
            snapshots = [m["args"][0] for m in messages if m["name"] == "snapshot"]
            if snapshots and snapshots[-1]["seq"] == seq + 1:
                break
            time.sleep(0.02)
        calls = [m["args"][0] for m in messages if m["name"] == "call"]
        assert [call["seq"] for call in calls] == [seq]  # the undo itself is not announced as a call
        assert snapshots[-1]["seq"] == seq + 1
        assert snapshots[-1]["calling"] == [] and snapshots[-1]["stations"]["consent"]["waiting"] == 1
    finally:
        if display.is_connected():
            display.disconnect()


def test_the_consent_an_undo_puts_back_is_sealed_in_the_database_yet_reads_back(japi, tokens, services):
    visit = check_in(japi)
    call_next(japi, "consent", "A")
    answers = gen_answers(pregnancy=False)
    act(japi, visit["id"], "consent", gen_consent("A", signature=SIGNATURE, answers=answers))
    injection = tokens.station("injection")
    _, seq = _call(japi, "injection", "3", injection)
    undone = _undo(japi, visit["id"], seq, injection).get_json()["visit"]
    assert (undone["state"], undone["station"], undone["consent"]["signed"]) == ("waiting", "injection", True)
    reverted = _history(japi, visit["id"])[-1]
    assert reverted["type"] == "reverted"
    assert reverted["data"]["restore"]["consent"]["answers"] == answers  # a supervisor reads it back
    assert reverted["data"]["restore"]["consent"]["signature"] == "(stored)"  # but not the image
    stored = _all_stored_text(services.store.engine)
    for secret in (SIGNATURE, "U0VDUkVU", '"answers"'):
        assert secret not in stored, secret
    assert call_next(japi, "injection", "3")["id"] == visit["id"]
