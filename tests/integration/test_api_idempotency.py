"""Idempotency-Key: a repeat returns the first answer and records nothing."""
from __future__ import annotations

from datetime import timedelta

from tests.support.api import (
    act,
    assert_error,
    call_next,
    check_in,
    checker,
    japi,
    load_site_variant,
    snapshot_seq,
)
from tests.support.factories import gen_checkin, gen_consent, gen_injection


def _twice(japi, path: str, body: dict, key: str, *, token: str | None = None, status: int = 200):
    """POST twice with one key; the second is a replay of the first. Returns the first's JSON."""
    first = japi.post(path, body, key=key, token=token)
    assert first.status_code == status, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    seq = snapshot_seq(japi)
    second = japi.post(path, body, key=key, token=token)
    assert second.status_code == status, second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    # The phone ticket's code is shown once, in the first answer only (the server keeps its hash).
    assert second.get_json() == _without_code(first.get_json()), path
    assert snapshot_seq(japi) == seq, f"the repeat of {path} recorded something"
    return _without_code(first.get_json())


def _without_code(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "ticket_page"}


def _events(japi, visit_id: str) -> list[dict]:
    return japi.get(f"/sites/demo/visits/{visit_id}").get_json()["events"]


def test_a_repeated_check_in_returns_the_same_visit_and_creates_no_second(japi):
    before = snapshot_seq(japi)
    body = gen_checkin()
    first = _twice(japi, "/sites/demo/visits", body, "checkin-1", status=201)
    assert first["visit"]["ticket"] == "A001"
    assert [visit["id"] for visit in japi.get("/sites/demo/visits").get_json()["visits"]] == [first["visit"]["id"]]
    assert len(_events(japi, first["visit"]["id"])) == 1
    # without the key the same body is a duplicate; a third repeat with the key is still a replay
    assert_error(japi.post("/sites/demo/visits", body), 409, "duplicate_visit")
    third = japi.post("/sites/demo/visits", body, key="checkin-1")
    assert third.status_code == 201 and third.get_json() == first
    assert snapshot_seq(japi) == before + 1
    assert check_in(japi)["ticket"] == "A002"  # the repeat took no ticket number
    # a turned-away check-in is replayed too
    turned = _twice(japi, "/sites/demo/visits", gen_checkin(health_code="red"), "door-0007", status=201)
    assert turned["visit"]["state"] == "turned_away" and turned["visit"]["ticket"] is None


def test_the_same_key_for_a_different_body_is_422_idempotency_key_reused(japi):
    before = snapshot_seq(japi)
    body = gen_checkin()
    assert japi.post("/sites/demo/visits", body, key="key-0001").status_code == 201
    other = gen_checkin()
    error = assert_error(japi.post("/sites/demo/visits", other, key="key-0001"), 422, "idempotency_key_reused",
                         "Idempotency-Key")
    assert error["fields"]["Idempotency-Key"]
    assert_error(japi.post("/sites/demo/visits", dict(body, dose_number=2), key="key-0001"), 422,
                 "idempotency_key_reused")
    assert snapshot_seq(japi) == before + 1
    # the other person is not blocked by that: with their own key they check in
    assert japi.post("/sites/demo/visits", other, key="key-0002").status_code == 201


def test_the_same_key_on_another_action_or_visit_is_422(japi):
    before = snapshot_seq(japi)
    first = check_in(japi)
    second = check_in(japi)
    call_next(japi, "consent", "A")
    call_next(japi, "consent", "B")
    assert act(japi, first["id"], "start", {"desk": "A"}, key="tablet-A-1").status_code == 200
    assert_error(japi.post(f"/sites/demo/visits/{second['id']}/start", {"desk": "B"}, key="tablet-A-1"), 422,
                 "idempotency_key_reused")
    assert_error(japi.post(f"/sites/demo/visits/{first['id']}/recall", {}, key="tablet-A-1"), 422,
                 "idempotency_key_reused")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="tablet-A-1"), 422,
                 "idempotency_key_reused")
    assert_error(japi.post("/sites/demo/visits", gen_checkin(), key="tablet-A-1"), 422, "idempotency_key_reused")
    assert snapshot_seq(japi) == before + 5  # two check-ins, two calls, one start


def test_every_visit_action_repeated_with_its_key_is_replayed_without_a_second_event(japi, clock, tokens):
    before = snapshot_seq(japi)
    visit = _twice(japi, "/sites/demo/visits", gen_checkin(), "idem-checkin", status=201)["visit"]
    base = f"/sites/demo/visits/{visit['id']}"
    called = _twice(japi, "/sites/demo/stations/consent/call-next", {"desk": "A"}, "idem-call-consent")
    assert called["visit"]["id"] == visit["id"] and called["visit"]["state"] == "called"
    assert _twice(japi, base + "/recall", {}, "idem-recall")["visit"]["recalls"] == 1
    assert _twice(japi, base + "/start", {"desk": "A"}, "idem-start")["visit"]["state"] == "serving"
    assert _twice(japi, base + "/consent", gen_consent("A"), "idem-consent")["visit"]["station"] == "injection"
    _twice(japi, "/sites/demo/stations/injection/call-next", {"desk": "4"}, "idem-call-injection")
    # a no-show repeated sends the person to the back of the queue once
    assert _twice(japi, base + "/no-show", {}, "idem-no-show")["visit"]["requeues"] == 1
    _twice(japi, "/sites/demo/stations/injection/call-next", {"desk": "4"}, "idem-call-injection-2")
    injected = _twice(japi, base + "/injection", gen_injection("4"), "idem-injection")["visit"]
    assert injected["state"] == "observing"
    clock.advance(minutes=5)
    aefi = {"symptoms": ["pallor"], "onset_at": (clock.now() - timedelta(minutes=1)).isoformat(), "severity": "minor"}
    assert len(_twice(japi, base + "/aefi", aefi, "idem-aefi")["visit"]["aefi"]) == 1
    assert _twice(japi, base + "/aefi-outcome", {"outcome": "recovered"}, "idem-aefi-outcome")["visit"]["state"] == \
        "observing"
    clock.advance(minutes=25)
    assert _twice(japi, base + "/release", {}, "idem-release")["visit"]["state"] == "released"
    types = [event["type"] for event in _events(japi, visit["id"])]
    assert types == ["checked_in", "called", "recalled", "started", "consented", "called", "requeued", "called",
                     "injected", "aefi_reported", "aefi_resolved", "released"]
    assert snapshot_seq(japi) == before + len(types)


def test_cancel_and_correct_are_replayed(japi, tokens):
    visit = check_in(japi)
    base = f"/sites/demo/visits/{visit['id']}"
    assert _twice(japi, base + "/cancel", {"reason": "queue too long"}, "cancel-0001")["visit"]["state"] == "left"
    seq = _events(japi, visit["id"])[-1]["seq"]
    body = {"reason": "cancelled by mistake", "state": "waiting", "station": "consent", "corrects_seq": seq}
    assert _twice(japi, base + "/correct", body, "correct-0001", token=tokens.supervisor)["visit"]["state"] == "waiting"
    assert [event["type"] for event in _events(japi, visit["id"])] == ["checked_in", "cancelled", "corrected"]


def test_a_replay_answers_as_the_first_time_even_after_the_visit_moved_on(japi):
    visit = japi.post("/sites/demo/visits", gen_checkin(), key="early-001").get_json()["visit"]
    first_call = japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="call-0001").get_json()
    act(japi, visit["id"], "consent", gen_consent("A"))
    replay = japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="call-0001")
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first_call
    assert replay.get_json()["visit"]["state"] == "called"
    again = japi.post("/sites/demo/visits", gen_checkin(), key="early-001")
    assert_error(again, 422, "idempotency_key_reused")
    current = japi.get(f"/sites/demo/visits/{visit['id']}").get_json()["visit"]
    assert (current["state"], current["station"]) == ("waiting", "injection")


def test_requests_that_recorded_nothing_keep_no_key(japi):
    # a 204 (nobody waiting) and a 409 store no key: retrying with it simply tries again
    assert japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="retry-001").status_code == 204
    visit = check_in(japi)
    called = japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="retry-001")
    assert called.status_code == 200 and "Idempotent-Replayed" not in called.headers
    assert called.get_json()["visit"]["id"] == visit["id"]
    other = check_in(japi)
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="retry-002"), 409, "desk_busy")
    act(japi, visit["id"], "cancel", {"reason": "left"})
    retried = japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, key="retry-002")
    assert retried.status_code == 200 and retried.get_json()["visit"]["id"] == other["id"]
    # a 422 keeps no key either
    assert_error(japi.post("/sites/demo/visits", gen_checkin(dose_number=9), key="retry-003"), 422, field="dose_number")
    assert japi.post("/sites/demo/visits", gen_checkin(), key="retry-003").status_code == 201


def test_keys_are_per_site_and_a_bad_key_is_400_naming_the_header(japi, services, tmp_path):
    load_site_variant(services, tmp_path, "north")
    before = snapshot_seq(japi)
    body = gen_checkin()
    demo = japi.post("/sites/demo/visits", body, key="shared-key")
    assert demo.status_code == 201
    north = japi.post("/sites/north/visits", gen_checkin(), key="shared-key")
    assert north.status_code == 201 and "Idempotent-Replayed" not in north.headers
    assert north.get_json()["visit"]["site"] == "north"
    # the header itself is checked: 8 to 128 printable ASCII characters, no space, never trimmed
    for key in (" ", "short", "x" * 129, "tab\there-1", "new\u0085line", "平板-登记1-0001", " padded-key ",
                "with space"):
        response = japi.post("/sites/demo/visits", gen_checkin(), key=key)
        assert_error(response, 400, "invalid_idempotency_key", "Idempotency-Key")
    assert japi.post("/sites/demo/visits", gen_checkin(), key="x" * 128).status_code == 201
    assert japi.post("/sites/demo/visits", gen_checkin(), key="tablet-1:0001~!").status_code == 201
    assert snapshot_seq(japi) == before + 3


def test_a_replay_for_a_station_token_is_masked_too(japi, tokens):
    token = tokens.station("checkin")
    body = gen_checkin()
    first = japi.post("/sites/demo/visits", body, key="masked-1", token=token)
    second = japi.post("/sites/demo/visits", body, key="masked-1", token=token)
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert second.get_json() == _without_code(first.get_json())
    assert "document_number" not in second.get_json()["visit"]["person"]
    assert body["document_number"] not in second.get_data(as_text=True)
