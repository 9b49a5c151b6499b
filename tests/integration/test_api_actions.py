"""POST /sites/{site}/visits/{id}/{action}: consent, injection, release, AEFI, cancel, correct."""
from __future__ import annotations

from datetime import timedelta

from tests.support.api import (
    act,
    assert_error,
    call_next,
    check_in,
    checker,
    japi,
    snapshot_seq,
    to_injection_queue,
    to_observation,
)
from tests.support.factories import EXPIRED_LOT, gen_answers, gen_consent, gen_injection

ACTIONS = ("start", "recall", "no-show", "cancel", "consent", "injection", "release", "aefi", "aefi-outcome",
           "correct", "undo")


def _history(japi, visit_id: str, token: str | None = None) -> list[dict]:
    response = japi.get(f"/sites/demo/visits/{visit_id}", token=token)
    assert response.status_code == 200
    return response.get_json()["events"]


def _aefi(clock, **overrides) -> dict:
    body = {
        "symptoms": ["urticaria", "dizziness"],
        "onset_at": (clock.now() - timedelta(minutes=2)).isoformat(),
        "severity": "minor",
        "actions": "antihistamine given",
    }
    body.update(overrides)
    return body


# --- unknown visit --------------------------------------------------------------------------------

def test_every_action_on_an_unknown_visit_is_404(japi, clock):
    bodies = {
        "start": {"desk": "A"}, "cancel": {"reason": "x"}, "consent": gen_consent("A"),
        "injection": gen_injection("1"), "aefi": _aefi(clock), "aefi-outcome": {"outcome": "recovered"},
        "correct": {"reason": "x", "state": "left", "corrects_seq": 1}, "undo": {"seq": 1},
    }
    for action in ACTIONS:
        response = japi.post(f"/sites/demo/visits/{'f' * 32}/{action}", bodies.get(action, {}))
        assert_error(response, 404, "unknown_visit")
    assert_error(japi.get(f"/sites/demo/visits/{'f' * 32}"), 404, "unknown_visit")
    assert_error(japi.get("/sites/demo/visits/nope"), 404)


def test_every_action_validates_its_body(japi):
    visit = check_in(japi)
    before = snapshot_seq(japi)
    for action in ACTIONS:
        response = japi.post(f"/sites/demo/visits/{visit['id']}/{action}", {"unexpected": True})
        assert_error(response, 422, "validation_failed", "unexpected")
        assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/{action}", raw="[1, 2]"), 400, "malformed_json")
        assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/{action}", raw="{"), 400, "malformed_json")
    assert snapshot_seq(japi) == before


# --- consent --------------------------------------------------------------------------------------

def test_consent_eligible_goes_on_to_injection_deferred_and_refused_close(japi):
    visit = check_in(japi)
    call_next(japi, "consent", "A")
    response = act(japi, visit["id"], "consent", gen_consent("A"))
    after = response.get_json()["visit"]
    assert (after["state"], after["station"], after["desk"]) == ("waiting", "injection", None)
    assert after["consent"]["outcome"] == "eligible" and after["consent"]["signed"] is True
    assert after["consent"]["answers"] == gen_answers()
    # deferred and refused close the visit
    deferred = check_in(japi)
    refused = check_in(japi)
    call_next(japi, "consent", "A")
    call_next(japi, "consent", "B")
    body = gen_consent("A", outcome="deferred", answers=gen_answers(fever=True), deferral_reason="fever",
                       signature=None)
    closed = act(japi, deferred["id"], "consent", body).get_json()["visit"]
    assert (closed["state"], closed["station"], closed["closed_reason"]) == ("deferred", None, "fever")
    closed = act(japi, refused["id"], "consent", gen_consent("B", outcome="refused", signature=None)).get_json()
    assert (closed["visit"]["state"], closed["visit"]["closed_reason"]) == ("refused", "refused")


def test_consent_bad_input_is_422_naming_the_field(japi):
    visit = check_in(japi)
    call_next(japi, "consent", "A")
    before = snapshot_seq(japi)
    path = f"/sites/demo/visits/{visit['id']}/consent"
    answers = gen_answers()
    del answers["pregnancy"]
    cases = [
        (gen_consent("A", answers=answers), "answers"),
        (gen_consent("A", answers=dict(gen_answers(), smoker=False)), "answers"),
        (gen_consent("A", answers=gen_answers(fever=True)), "outcome"),
        (gen_consent("A", signature=None), "signature"),
        (gen_consent("A", signature="scribble"), "signature"),
        (gen_consent("A", outcome="deferred", signature=None), "deferral_reason"),
        (gen_consent("A", outcome="deferred", deferral_reason="bored", signature=None), "deferral_reason"),
        (gen_consent("A", deferral_reason="fever"), "deferral_reason"),
        (gen_consent("A", outcome="maybe"), "outcome"),
        (gen_consent("A", allergy_history="no"), "allergy_history"),
        (gen_consent("A", answers={"fever": "no"}), "answers.fever"),
    ]
    for body, field in cases:
        assert_error(japi.post(path, body), 422, field=field)
    assert_error(japi.post(path, gen_consent("B")), 409, "wrong_desk", "desk")
    assert snapshot_seq(japi) == before
    # someone not called to consent
    waiting = check_in(japi)
    assert_error(japi.post(f"/sites/demo/visits/{waiting['id']}/consent", gen_consent("A")), 409,
                 "invalid_transition")


def test_allergy_history_extends_observation(japi, clock):
    visit_id = to_observation(japi, consent=gen_consent("A", allergy_history=True))
    visit = japi.get(f"/sites/demo/visits/{visit_id}").get_json()["visit"]
    assert visit["observation"]["minutes"] == 60 and visit["observation"]["extended"] is True
    clock.advance(minutes=30)
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {}), 409, "early_release")
    clock.advance(minutes=30)
    assert act(japi, visit_id, "release").get_json()["visit"]["state"] == "released"


# --- injection ------------------------------------------------------------------------------------

def test_injection_records_the_dose_and_starts_observation(japi, clock, tokens):
    visit_id = to_injection_queue(japi)
    call_next(japi, "injection", "2")
    response = act(japi, visit_id, "injection", gen_injection("2", site="right_deltoid"),
                   token=tokens.station("injection"))
    visit = response.get_json()["visit"]
    assert (visit["state"], visit["station"], visit["vaccinated"]) == ("observing", "observation", True)
    injection = visit["injection"]
    assert injection["product"] == "coronavac" and injection["lot"] == "202610A127"
    assert injection["expires_on"] == "2027-10-15"
    assert injection["site"] == "right_deltoid" and injection["route"] == "IM"
    assert injection["dose_number"] == 1 and injection["desk"] == "2"
    assert injection["vaccinator"] == "station-injection"
    assert "Sinovac" in injection["manufacturer"]
    observation = visit["observation"]
    assert observation["started_at"] == clock.now().isoformat()
    assert observation["leave_at"] == (clock.now() + timedelta(minutes=30)).isoformat()
    assert observation["remaining_seconds"] == 1800 and observation["may_leave"] is False


def test_an_expired_lot_is_422_naming_lot(japi):
    visit_id = to_injection_queue(japi)
    call_next(japi, "injection", "1")
    error = assert_error(japi.post(f"/sites/demo/visits/{visit_id}/injection", gen_injection("1", **EXPIRED_LOT)),
                         422, "validation_failed", "lot")
    assert "expired" in error["fields"]["lot"]
    assert set(error["fields"]) == {"lot"}
    assert japi.get(f"/sites/demo/visits/{visit_id}").get_json()["visit"]["state"] == "called"


def test_an_incomplete_checklist_is_422_naming_checklist(japi):
    visit_id = to_injection_queue(japi)
    call_next(japi, "injection", "1")
    path = f"/sites/demo/visits/{visit_id}/injection"
    checklist = gen_injection()["checklist"]
    for short in (checklist[:-1], [], checklist[1:] + ["check_weather"]):
        error = assert_error(japi.post(path, gen_injection("1", checklist=short)), 422, "validation_failed",
                             "checklist")
        assert set(error["fields"]) == {"checklist"}
    assert_error(japi.post(path, gen_injection("1", checklist=checklist + ["check_weather"])), 422,
                 field="checklist")


def test_other_injection_mistakes_are_422_naming_the_field(japi):
    visit_id = to_injection_queue(japi)
    call_next(japi, "injection", "1")
    path = f"/sites/demo/visits/{visit_id}/injection"
    cases = [
        (gen_injection("1", product="sputnik"), "product"),
        (gen_injection("1", lot="NOPE"), "lot"),
        (gen_injection("1", lot="Z20261103"), "lot"),  # a lot of another product
        (gen_injection("1", dose_number=2), "dose_number"),
        (gen_injection("1", dose_number="1"), "dose_number"),
        (gen_injection("1", site="left_gluteus"), "site"),
        (gen_injection("1", route="SC"), "route"),
        (gen_injection("1", checklist="all"), "checklist"),
    ]
    for body, field in cases:
        assert_error(japi.post(path, body), 422, field=field)
    assert_error(japi.post(path, gen_injection("2")), 409, "wrong_desk")
    assert japi.get(f"/sites/demo/visits/{visit_id}").get_json()["visit"]["state"] == "called"


# --- release --------------------------------------------------------------------------------------

def test_release_before_30_minutes_is_409_and_at_30_minutes_is_200(japi, clock, tokens):
    visit_id = to_observation(japi)
    observation = tokens.station("observation")
    clock.advance(minutes=29, seconds=59)
    error = assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {}, token=observation), 409,
                         "early_release")
    assert error["fields"]["remaining_seconds"] == "1"
    assert japi.get(f"/sites/demo/visits/{visit_id}").get_json()["visit"]["state"] == "observing"
    clock.advance(seconds=1)
    visit = act(japi, visit_id, "release", token=observation).get_json()["visit"]
    assert (visit["state"], visit["station"]) == ("released", None)
    assert visit["released_at"] == clock.now().isoformat()
    assert visit["release_override"] is None
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {}), 409, "invalid_transition")


def test_a_supervisor_may_release_early_with_a_reason_and_only_with_one(japi, clock, tokens):
    visit_id = to_observation(japi)
    clock.advance(minutes=10)
    response = act(japi, visit_id, "release", {"override_reason": "  family emergency, checked by doctor  "},
                   token=tokens.supervisor)
    visit = response.get_json()["visit"]
    assert visit["state"] == "released"
    assert visit["release_override"] == "family emergency, checked by doctor"
    released = _history(japi, visit_id)[-1]
    assert released["type"] == "released"
    assert released["data"]["override_reason"] == "family emergency, checked by doctor"
    assert released["data"]["early_by_seconds"] == 20 * 60
    # even a supervisor gives a reason
    visit_id = to_observation(japi, desk="2")
    clock.advance(minutes=10)
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {}, token=tokens.supervisor), 409,
                 "early_release")
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {"override_reason": ""},
                           token=tokens.supervisor), 422, field="override_reason")
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {"override_reason": "   "},
                           token=tokens.supervisor), 422, field="override_reason")


def test_a_station_token_cannot_override_an_early_release(japi, clock, tokens):
    visit_id = to_observation(japi)
    clock.advance(minutes=10)
    seq = snapshot_seq(japi)
    response = japi.post(f"/sites/demo/visits/{visit_id}/release", {"override_reason": "wants to go"},
                         token=tokens.station("observation"))
    assert_error(response, 403, "forbidden")
    assert snapshot_seq(japi) == seq


def test_the_exit_station_may_release(japi, clock, tokens):
    # permissions.RULES grants visit.release to the "observation" and "exit" stations, and the
    # exit desk is where release (离场) is recorded; the person is still "at observation" then.
    visit_id = to_observation(japi)
    clock.advance(minutes=30)
    response = japi.post(f"/sites/demo/visits/{visit_id}/release", {}, token=tokens.station("exit"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["visit"]["state"] == "released"


# --- adverse events ---------------------------------------------------------------------------------

def test_an_aefi_moves_the_person_to_emergency_and_transferred_closes_the_visit(japi, clock, tokens):
    visit_id = to_observation(japi)
    clock.advance(minutes=12)
    body = _aefi(clock, severity="serious", serious_criteria=["life_threatening"])
    visit = act(japi, visit_id, "aefi", body, token=tokens.station("observation")).get_json()["visit"]
    assert (visit["state"], visit["station"]) == ("emergency", "emergency")
    report = visit["aefi"][0]
    assert report["severity"] == "serious" and report["symptoms"] == ["urticaria", "dizziness"]
    assert report["outcome"] is None
    assert report["report_due_at"] == (clock.now() + timedelta(hours=2)).isoformat()
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["emergency"]["count"] == 1 and snapshot["observation"]["count"] == 0
    clock.advance(minutes=20)
    closed = act(japi, visit_id, "aefi-outcome", {"outcome": "transferred", "notes": "green channel, No.3 Hospital"},
                 token=tokens.supervisor).get_json()["visit"]
    assert (closed["state"], closed["station"], closed["closed_reason"]) == ("transferred", None, "aefi_transferred")
    assert closed["aefi"][0]["outcome"] == "transferred"
    assert closed["vaccinated"] is True
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/release", {}), 409, "invalid_transition")
    assert [event["type"] for event in _history(japi, visit_id)][-2:] == ["aefi_reported", "aefi_resolved"]


def test_an_aefi_recovered_on_site_returns_to_observation(japi, clock):
    visit_id = to_observation(japi)
    clock.advance(minutes=5)
    act(japi, visit_id, "aefi", _aefi(clock))
    back = act(japi, visit_id, "aefi-outcome", {"outcome": "recovered"}).get_json()["visit"]
    assert (back["state"], back["station"]) == ("observing", "observation")
    assert back["aefi"][0]["report_due_at"] == (clock.now() + timedelta(hours=48)).isoformat()
    clock.advance(minutes=25)
    assert act(japi, visit_id, "release").get_json()["visit"]["state"] == "released"
    # a report may carry its outcome at once
    visit_id = to_observation(japi, desk="2")
    clock.advance(minutes=5)
    visit = act(japi, visit_id, "aefi", _aefi(clock, outcome="transferred")).get_json()["visit"]
    assert visit["state"] == "transferred"


def test_observation_staff_record_the_outcome_of_an_aefi(japi, clock, tokens):
    # permissions.RULES grants visit.aefi_outcome to the observation and exit stations; the
    # person is in the emergency area then, and no station token can be for "emergency".
    visit_id = to_observation(japi)
    clock.advance(minutes=5)
    observation = tokens.station("observation")
    act(japi, visit_id, "aefi", _aefi(clock), token=observation)
    response = japi.post(f"/sites/demo/visits/{visit_id}/aefi-outcome", {"outcome": "recovered"}, token=observation)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["visit"]["state"] == "observing"


def test_aefi_bad_input(japi, clock):
    visit_id = to_observation(japi)
    not_vaccinated = check_in(japi)
    assert_error(japi.post(f"/sites/demo/visits/{not_vaccinated['id']}/aefi", _aefi(clock)), 409,
                 "invalid_transition")
    path = f"/sites/demo/visits/{visit_id}/aefi"
    clock.advance(minutes=5)
    cases = [
        (_aefi(clock, symptoms=[]), "symptoms"),
        (_aefi(clock, symptoms=["  "]), "symptoms"),
        (_aefi(clock, severity="serious"), "serious_criteria"),
        (_aefi(clock, severity="serious", serious_criteria=["boredom"]), "serious_criteria"),
        (_aefi(clock, severity="mild"), "severity"),
        (_aefi(clock, onset_at=(clock.now() - timedelta(hours=1)).isoformat()), "onset_at"),
        (_aefi(clock, onset_at=(clock.now() + timedelta(hours=1)).isoformat()), "onset_at"),
        (_aefi(clock, onset_at="2026-11-24T09:03:00"), "onset_at"),  # no time zone
        (_aefi(clock, outcome="died"), "outcome"),
    ]
    for body, field in cases:
        assert_error(japi.post(path, body), 422, field=field)
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/aefi-outcome", {"outcome": "recovered"}), 409,
                 "invalid_transition")
    act(japi, visit_id, "aefi", _aefi(clock))
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/aefi-outcome", {"outcome": "fine"}), 422,
                 field="outcome")


# --- cancel ---------------------------------------------------------------------------------------

def test_cancel_closes_the_visit_as_left_with_the_reason(japi):
    called = check_in(japi)
    waiting = check_in(japi)
    assert call_next(japi, "consent", "A")["id"] == called["id"]
    for visit in (waiting, called):
        closed = act(japi, visit["id"], "cancel", {"reason": "  felt unwell, will come tomorrow "}).get_json()["visit"]
        assert (closed["state"], closed["station"], closed["desk"]) == ("left", None, None)
        assert closed["closed_reason"] == "felt unwell, will come tomorrow"
    assert_error(japi.post(f"/sites/demo/visits/{waiting['id']}/cancel", {"reason": "again"}), 409,
                 "invalid_transition")
    assert_error(japi.post(f"/sites/demo/visits/{waiting['id']}/cancel", {}), 422, field="reason")
    assert japi.post("/sites/demo/stations/consent/call-next", {"desk": "B"}).status_code == 204
    # a vaccinated person leaves through release, not cancel
    visit_id = to_observation(japi)
    assert_error(japi.post(f"/sites/demo/visits/{visit_id}/cancel", {"reason": "x"}), 409, "invalid_transition")


def test_text_with_a_nul_character_is_refused_or_stored_never_a_500(japi):
    visit = check_in(japi)
    response = japi.post(f"/sites/demo/visits/{visit['id']}/cancel", {"reason": "left\u0000"})
    assert response.status_code in (200, 422), (response.status_code, response.get_json())


# --- corrections ----------------------------------------------------------------------------------

def test_a_station_token_cannot_correct(japi, tokens):
    visit = check_in(japi)
    before = snapshot_seq(japi)
    checked_in = _history(japi, visit["id"])[0]
    assert checked_in["type"] == "checked_in"
    body = {"reason": "wrong person", "state": "left", "corrects_seq": checked_in["seq"]}
    for station in ("checkin", "consent", "injection", "observation", "exit"):
        assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/correct", body, token=tokens.station(station)),
                     403, "role_forbidden")
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/correct", body, token=tokens.display), 403)
    assert snapshot_seq(japi) == before


def test_a_supervisor_corrects_a_deferral_recorded_by_mistake(japi, tokens):
    visit = check_in(japi)
    call_next(japi, "consent", "A")
    act(japi, visit["id"], "consent",
        gen_consent("A", outcome="deferred", deferral_reason="fever", answers=gen_answers(fever=True), signature=None))
    history = _history(japi, visit["id"])
    deferred_seq = history[-1]["seq"]
    assert history[-1]["type"] == "deferred"
    body = {"reason": "thermometer was faulty; re-measured 36.6", "state": "waiting", "station": "consent",
            "corrects_seq": deferred_seq}
    response = act(japi, visit["id"], "correct", body, token=tokens.supervisor)
    corrected = response.get_json()["visit"]
    assert (corrected["state"], corrected["station"], corrected["closed_reason"]) == ("waiting", "consent", None)
    events = _history(japi, visit["id"], token=tokens.supervisor)
    assert [event["type"] for event in events] == ["checked_in", "called", "deferred", "corrected"]
    last = events[-1]
    assert last["data"]["corrects_seq"] == deferred_seq
    assert last["data"]["corrects_type"] == "deferred"
    assert last["data"]["reason"] == "thermometer was faulty; re-measured 36.6"
    assert last["data"]["from"] == {"state": "deferred", "station": None}
    assert last["data"]["to"] == {"state": "waiting", "station": "consent"}
    assert last["actor"] == "site_supervisor:site_supervisor-demo"
    # the deferred event is still there: nothing is rewritten
    assert events[2]["type"] == "deferred" and events[2]["seq"] == deferred_seq
    assert call_next(japi, "consent", "B")["id"] == visit["id"]
    # a correction can also close a visit as left (correcting its check-in)
    assert events[0]["type"] == "checked_in"
    closed = act(japi, visit["id"], "correct", {"reason": "duplicate registration", "state": "left",
                                                "corrects_seq": events[0]["seq"]},
                 token=tokens.supervisor).get_json()["visit"]
    assert (closed["state"], closed["closed_reason"]) == ("left", "duplicate registration")


def test_bad_corrections(japi, tokens):
    vaccinated = to_observation(japi, desk="1")
    other = check_in(japi)
    visit = check_in(japi)
    path = f"/sites/demo/visits/{visit['id']}/correct"
    supervisor = tokens.supervisor
    own = _history(japi, visit["id"])[0]["seq"]
    theirs = _history(japi, other["id"])[0]["seq"]
    cases = [
        ({"reason": "x", "state": "left", "corrects_seq": theirs}, 422, "corrects_seq"),  # another visit's event
        ({"reason": "x", "state": "left", "corrects_seq": 999}, 422, "corrects_seq"),
        ({"reason": "x", "state": "left", "corrects_seq": 0}, 422, "corrects_seq"),
        ({"reason": "x", "state": "released", "corrects_seq": own}, 422, "state"),
        ({"reason": "x", "state": "waiting", "corrects_seq": own}, 422, "station"),
        ({"reason": "x", "state": "waiting", "station": "injection", "corrects_seq": own}, 422, "station"),
        ({"reason": "", "state": "left", "corrects_seq": own}, 422, "reason"),
        ({"reason": "   ", "state": "left", "corrects_seq": own}, 422, "reason"),
        ({"state": "left", "corrects_seq": own}, 422, "reason"),
        ({"reason": "x", "state": "left", "corrects_seq": str(own)}, 422, "corrects_seq"),
    ]
    for body, status, field in cases:
        assert_error(japi.post(path, body, token=supervisor), status, field=field)
    assert japi.get(f"/sites/demo/visits/{visit['id']}").get_json()["visit"]["state"] == "waiting"
    first_seq = _history(japi, vaccinated)[0]["seq"]
    assert_error(japi.post(f"/sites/demo/visits/{vaccinated}/correct",
                           {"reason": "x", "state": "left", "corrects_seq": first_seq}, token=supervisor),
                 409, "invalid_transition")


def test_a_correction_naming_a_huge_event_number_is_422_not_500(japi, tokens):
    visit = check_in(japi)
    for seq in (2**31, 2**63, 10**20):
        response = japi.post(f"/sites/demo/visits/{visit['id']}/correct",
                             {"reason": "x", "state": "left", "corrects_seq": seq}, token=tokens.supervisor)
        assert_error(response, 422, field="corrects_seq")
