"""Queues: POST .../stations/{station}/call-next and GET /sites/{site}/visits."""
from __future__ import annotations

import pytest

from tests.support.api import (
    act,
    assert_error,
    call_next,
    check_in,
    checker,
    japi,
    load_site_variant,
    snapshot_seq,
    to_injection_queue,
    to_observation,
)
from tests.support.factories import gen_consent, gen_injection, gen_resident_id


@pytest.fixture
def small(services, tmp_path):
    """A site like the demo site with two observation seats."""
    return load_site_variant(services, tmp_path, "small", seats=2)


def test_call_next_calls_the_head_of_the_queue_to_the_desk(japi, clock):
    first = check_in(japi)
    second = check_in(japi)
    clock.advance(minutes=1)
    response = japi.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    assert response.status_code == 200
    visit = response.get_json()["visit"]
    assert visit["id"] == first["id"]
    assert (visit["state"], visit["station"], visit["desk"]) == ("called", "consent", "B")
    assert visit["called_at"] == clock.now().isoformat()
    assert call_next(japi, "consent", "A")["id"] == second["id"]
    # the injection booths call from the injection queue only
    act(japi, first["id"], "consent", gen_consent("B"))
    check_in(japi)  # waits at consent, not at injection
    called = call_next(japi, "injection", "6")
    assert called["id"] == first["id"] and called["station"] == "injection" and called["desk"] == "6"
    assert japi.post("/sites/demo/stations/injection/call-next", {"desk": "5"}).status_code == 204
    injected = act(japi, first["id"], "injection", gen_injection("6")).get_json()["visit"]
    assert injected["state"] == "observing"


def test_call_next_with_nobody_waiting_is_204_and_records_nothing(japi):
    before = snapshot_seq(japi)
    response = japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert japi.post("/sites/demo/stations/injection/call-next", {"desk": "3"}).status_code == 204
    assert snapshot_seq(japi) == before


def test_call_next_at_a_busy_desk_is_409_desk_busy(japi):
    before = snapshot_seq(japi)
    check_in(japi)
    waiting = check_in(japi)
    call_next(japi, "consent", "A")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}), 409, "desk_busy")
    called = call_next(japi, "consent", "B")
    assert called["id"] == waiting["id"]
    # serving is still busy
    act(japi, called["id"], "start", {"desk": "B"})
    check_in(japi)
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "B"}), 409, "desk_busy")
    assert snapshot_seq(japi) == before + 6  # three check-ins, two calls, one start: the 409s recorded nothing
    # the desk is free again once the person at it has an outcome
    act(japi, called["id"], "consent", gen_consent("B"))
    assert call_next(japi, "consent", "B")["state"] == "called"


def test_call_next_unknown_station_404_unknown_desk_422_station_without_queue_409(japi):
    check_in(japi)
    before = snapshot_seq(japi)
    assert_error(japi.post("/sites/demo/stations/vaccination/call-next", {"desk": "A"}), 404, "unknown_station")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "Z"}), 422, "validation_failed",
                 "desk")
    assert_error(japi.post("/sites/demo/stations/injection/call-next", {"desk": "7"}), 422, field="desk")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {}), 422, field="desk")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": 1}), 422, field="desk")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A", "x": 1}), 422, field="x")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", raw="[]"), 400, "malformed_json")
    # stations without a queue
    for station in ("observation", "exit", "checkin"):
        assert_error(japi.post(f"/sites/demo/stations/{station}/call-next", {"desk": "1"}), 409, "no_queue")
    assert snapshot_seq(japi) == before


def test_injection_booths_stop_calling_when_observation_is_full(japi, small, clock):
    assert small.observation.seats == 2
    first = to_observation(japi, "small", desk="1")
    second = to_observation(japi, "small", desk="2")
    third = to_injection_queue(japi, "small")
    seq = snapshot_seq(japi, "small")
    error = assert_error(japi.post("/sites/small/stations/injection/call-next", {"desk": "3"}), 409,
                         "observation_full")
    assert "full" in error["message"]
    assert snapshot_seq(japi, "small") == seq
    snapshot = japi.get("/sites/small/snapshot").get_json()
    assert snapshot["observation"]["count"] == 2 and snapshot["observation"]["capacity"] == 2
    # consent keeps calling: the gate is for injection only
    fourth = check_in(japi, "small")
    assert call_next(japi, "consent", "A", "small")["id"] == fourth["id"]
    clock.advance(minutes=30)
    act(japi, first, "release", site="small")
    assert call_next(japi, "injection", "3", "small")["id"] == third
    # one observing + one at a booth fill the two seats too
    assert_error(japi.post("/sites/small/stations/injection/call-next", {"desk": "4"}), 409, "observation_full")
    act(japi, second, "release", site="small")


def test_people_being_injected_count_towards_the_observation_seats(japi, small):
    to_injection_queue(japi, "small")
    second = check_in(japi, "small")
    call_next(japi, "consent", "A", "small")
    act(japi, second["id"], "consent", gen_consent("A"), site="small")
    call_next(japi, "injection", "1", "small")
    call_next(japi, "injection", "2", "small")
    assert_error(japi.post("/sites/small/stations/injection/call-next", {"desk": "3"}), 409, "observation_full")


def test_the_queue_lists_priority_first_then_first_come_first_served(japi):
    plain1 = check_in(japi)
    plain2 = check_in(japi)
    requested = check_in(japi, priority=True)
    senior = check_in(japi, document_number=gen_resident_id(birth="19500101"))
    plain3 = check_in(japi)
    expected = [requested["id"], senior["id"], plain1["id"], plain2["id"], plain3["id"]]
    response = japi.get("/sites/demo/visits", state="waiting", station="consent")
    assert response.status_code == 200
    visits = response.get_json()["visits"]
    assert [visit["id"] for visit in visits] == expected
    assert [visit["ticket"] for visit in visits] == ["A003", "A004", "A001", "A002", "A005"]
    # call-next follows the same order
    assert [call_next(japi, "consent", desk)["id"] for desk in ("A", "B")] == expected[:2]
    rest = japi.get("/sites/demo/visits", state="waiting", station="consent").get_json()["visits"]
    assert [visit["id"] for visit in rest] == expected[2:]
    called = japi.get("/sites/demo/visits", state="called", station="consent").get_json()["visits"]
    assert {visit["id"] for visit in called} == set(expected[:2])
    both = japi.get("/sites/demo/visits", state="waiting,called").get_json()["visits"]
    assert len(both) == 5


def test_a_no_show_goes_to_the_back_of_the_queue_once_then_is_closed(japi):
    first = check_in(japi)
    second = check_in(japi)
    call_next(japi, "consent", "A")
    requeued = act(japi, first["id"], "no-show").get_json()["visit"]
    assert (requeued["state"], requeued["station"], requeued["desk"], requeued["requeues"]) == \
        ("waiting", "consent", None, 1)
    queue = japi.get("/sites/demo/visits", state="waiting", station="consent").get_json()["visits"]
    assert [visit["id"] for visit in queue] == [second["id"], first["id"]]
    assert call_next(japi, "consent", "A")["id"] == second["id"]
    assert call_next(japi, "consent", "B")["id"] == first["id"]
    closed = act(japi, first["id"], "no-show").get_json()["visit"]
    assert (closed["state"], closed["station"], closed["closed_reason"]) == ("no_show", None, "no_show")
    assert_error(japi.post(f"/sites/demo/visits/{first['id']}/no-show", {}), 409, "invalid_transition")


def test_list_visits_rejects_bad_parameters_with_422(japi):
    assert_error(japi.get("/sites/demo/visits", state="sleeping"), 422, "validation_failed", "state")
    assert_error(japi.get("/sites/demo/visits", state="waiting,sleeping"), 422, field="state")
    assert_error(japi.get("/sites/demo/visits", station="bar"), 422, field="station")
    assert_error(japi.get("/sites/demo/visits", date="24/11/2026"), 422, field="date")
    for limit in ("0", "1001", "-1", "ten"):
        assert_error(japi.get("/sites/demo/visits", limit=limit), 422, field="limit")


def test_list_visits_by_date_and_limit(japi, clock):
    check_in(japi)
    check_in(japi)
    clock.advance(days=1)
    today = check_in(japi)
    assert [visit["id"] for visit in japi.get("/sites/demo/visits").get_json()["visits"]] == [today["id"]]
    yesterday = japi.get("/sites/demo/visits", date="2026-11-24").get_json()["visits"]
    assert [visit["ticket"] for visit in yesterday] == ["A001", "A002"]
    assert len(japi.get("/sites/demo/visits", date="2026-11-24", limit="1").get_json()["visits"]) == 1


def test_start_recall_and_wrong_desk(japi, clock):
    visit = check_in(japi)
    call_next(japi, "consent", "A")
    clock.advance(minutes=1)
    recalled = act(japi, visit["id"], "recall").get_json()["visit"]
    assert recalled["recalls"] == 1 and recalled["state"] == "called"
    assert recalled["called_at"] == clock.now().isoformat()
    assert act(japi, visit["id"], "recall").get_json()["visit"]["recalls"] == 2
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/recall", {}), 409, "recall_limit")
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/start", {"desk": "B"}), 409, "wrong_desk")
    started = act(japi, visit["id"], "start", {"desk": "A"}).get_json()["visit"]
    assert (started["state"], started["desk"]) == ("serving", "A")
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/start", {"desk": "A"}), 409, "invalid_transition")
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/recall", {}), 409, "invalid_transition")
