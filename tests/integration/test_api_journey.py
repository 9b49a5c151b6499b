"""Happy-path journeys through every endpoint, every response checked against the OpenAPI document."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.support.api import (
    PREFIX,
    act,
    assert_error,
    call_next,
    check_in,
    checker,
    japi,
    load_site_variant,
    openapi_document,
)
from tests.support.factories import EXPIRED_LOT, gen_answers, gen_checkin, gen_consent, gen_injection, gen_resident_id


def _operations(document) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def test_a_day_at_the_site_touches_every_endpoint_and_matches_the_document(japi, clock, tokens, client, services,
                                                                          tmp_path):
    supervisor = tokens.supervisor
    # reading the site
    assert japi.request("GET", "/openapi.json").status_code == 200
    assert japi.get("/sites").get_json()["sites"][0]["id"] == "demo"
    assert japi.get("/sites/demo").status_code == 200
    start = japi.get("/sites/demo/snapshot").get_json()["seq"]  # the site file's deliveries
    assert start == 3

    # the door: one green, one red
    alice = check_in(japi, name="李华")
    turned = japi.post("/sites/demo/visits", gen_checkin(health_code="red"))
    assert turned.status_code == 201 and turned.get_json()["visit"]["state"] == "turned_away"
    bob = check_in(japi, name="赵强")
    carol = check_in(japi, name="孙丽")
    dan = check_in(japi, name="周杰")
    queue = japi.get("/sites/demo/visits", state="waiting", station="consent").get_json()["visits"]
    assert [visit["ticket"] for visit in queue] == ["A001", "A002", "A003", "A004"]

    # consent: alice eligible (after a recall and start), bob no-show twice, carol deferred then corrected,
    # dan cancels (after an undone cancel)
    assert call_next(japi, "consent", "A")["id"] == alice["id"]
    act(japi, alice["id"], "recall")
    act(japi, alice["id"], "start", {"desk": "A"})
    act(japi, alice["id"], "consent", gen_consent("A", signature="data:image/png;base64,iVBORw0KGgo="))
    assert call_next(japi, "consent", "B")["id"] == bob["id"]
    assert act(japi, bob["id"], "no-show").get_json()["visit"]["state"] == "waiting"
    assert call_next(japi, "consent", "B")["id"] == carol["id"]
    deferred = act(japi, carol["id"], "consent", gen_consent("B", outcome="deferred", deferral_reason="fever",
                                                              answers=gen_answers(fever=True), signature=None))
    assert deferred.get_json()["visit"]["state"] == "deferred"
    assert call_next(japi, "consent", "A")["id"] == dan["id"]
    cancelled = act(japi, dan["id"], "cancel", {"reason": "wrong ticket"}).get_json()
    # the desk tapped it for the wrong person: undone at once, then dan does leave
    undone = act(japi, dan["id"], "undo", {"seq": cancelled["seq"]}).get_json()["visit"]
    assert (undone["state"], undone["desk"]) == ("called", "A")
    act(japi, dan["id"], "cancel", {"reason": "could not wait"})
    assert call_next(japi, "consent", "A")["id"] == bob["id"]
    assert act(japi, bob["id"], "no-show").get_json()["visit"]["state"] == "no_show"
    carol_events = japi.get(f"/sites/demo/visits/{carol['id']}", token=supervisor).get_json()["events"]
    corrected = act(japi, carol["id"], "correct", {
        "reason": "fever was a thermometer error", "state": "waiting", "station": "consent",
        "corrects_seq": carol_events[-1]["seq"]}, token=supervisor)
    assert corrected.get_json()["visit"]["state"] == "waiting"
    assert call_next(japi, "consent", "B")["id"] == carol["id"]
    act(japi, carol["id"], "consent", gen_consent("B"))
    assert japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}).status_code == 204

    # injection: alice and carol
    assert call_next(japi, "injection", "1")["id"] == alice["id"]
    act(japi, alice["id"], "injection", gen_injection("1"))
    assert call_next(japi, "injection", "2")["id"] == carol["id"]
    act(japi, carol["id"], "injection", gen_injection("2", product="zf2001", lot="Z20261103"))
    assert japi.post("/sites/demo/stations/injection/call-next", {"desk": "3"}).status_code == 204
    # bookings: a file in, found at the desk, one checked in by its code, one cancelled and moved
    day = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    rows = [f"{day}T{slot},{name},resident_id,{gen_resident_id()},,1,Unit A"
            for slot, name in (("15:00", "陈一"), ("15:30", "陈二"))]
    csv_file = ("slot_start,name,document_type,document_number,phone,dose_number,group\n" + "\n".join(rows)).encode()
    headers = {**japi.api._headers(None, None), "Content-Type": "text/csv"}
    assert japi.request("POST", "/sites/demo/appointments", data=csv_file, headers=headers).status_code == 201
    booked = japi.get("/sites/demo/appointments", date=day).get_json()["appointments"]
    found = japi.post("/sites/demo/appointments/lookup", {"code": booked[0]["code"]}).get_json()["appointment"]
    by_booking = japi.post("/sites/demo/visits", {"appointment_code": found["code"], "health_code": "green"})
    assert by_booking.status_code == 201
    act(japi, by_booking.get_json()["visit"]["id"], "cancel", {"reason": "came for the booking, will come back"})
    assert japi.post(f"/sites/demo/appointments/{booked[1]['code']}/cancel", {}).status_code == 200
    assert japi.post(f"/sites/demo/appointments/{booked[1]['code']}/rebook", {"slot_start": f"{day}T16:00"}).status_code == 200
    assert japi.get("/sites/demo/appointments/summary", date=day).get_json()["slots"][0]["arrived"] == 1
    # a lost slip gets a new phone code; the exit's scanner finds alice by her slip
    new_code = japi.post(f"/sites/demo/visits/{alice['id']}/ticket-code").get_json()["ticket_page"]["url"]
    assert japi.post("/sites/demo/slips/lookup", {"scanned": new_code}).get_json()["visit"]["id"] == alice["id"]

    # observation: carol reacts and is transferred, alice leaves after 30 minutes
    clock.advance(minutes=15)
    aefi = {"symptoms": ["wheezing", "hives"], "onset_at": (clock.now() - timedelta(minutes=3)).isoformat(),
            "severity": "severe", "actions": "adrenaline 0.3 mg IM", "serious_criteria": []}
    assert act(japi, carol["id"], "aefi", aefi).get_json()["visit"]["state"] == "emergency"
    assert act(japi, carol["id"], "aefi-outcome", {"outcome": "transferred", "notes": "ambulance"}).get_json()[
        "visit"]["state"] == "transferred"
    clock.advance(minutes=15)
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["observation"]["ready"] == ["A001"]
    assert act(japi, alice["id"], "release").get_json()["visit"]["state"] == "released"

    # the end of the day: every person is accounted for
    everyone = japi.get("/sites/demo/visits").get_json()["visits"]
    states = sorted(visit["state"] for visit in everyone)
    assert states == ["left", "left", "no_show", "released", "transferred", "turned_away"]
    detail = japi.get(f"/sites/demo/visits/{alice['id']}").get_json()
    assert [event["type"] for event in detail["events"]] == [
        "checked_in", "called", "recalled", "started", "consented", "called", "injected", "released"]
    assert japi.get("/sites/demo/snapshot").get_json()["seq"] == start + 31  # with the booked visitor who checked in and left

    # who am I, and the audit trail of the day: the supervisor's correction and full-record views
    assert japi.get("/me").get_json()["role"] == "admin"
    # the admin's lists of accounts and tokens (the tokens of this test among them)
    assert japi.get("/users").get_json()["next"] is None
    assert len(japi.get("/tokens", limit="500").get_json()["tokens"]) >= 2
    trail = japi.get("/audit", site="demo").get_json()["entries"]
    actions = [entry["action"] for entry in trail]
    assert "override.correction" in actions and "record.viewed" in actions
    correction = next(entry for entry in trail if entry["action"] == "override.correction")
    assert correction["actor"] == "site_supervisor:site_supervisor-demo" and correction["detail"]["reason"]
    assert correction["subject"] == f"visit:{carol['id']}"

    # the supervisor's figures of the day: the dashboard, the reports, the trend
    dashboard = japi.get("/sites/demo/dashboard").get_json()
    assert dashboard["seq"] == start + 31 and dashboard["target"]["doses"] >= 1
    report = japi.get("/sites/demo/reports/daily").get_json()
    assert report["closed_loop"]["consistent"] and report["totals"]["doses"] == dashboard["target"]["doses"]
    csv_file = japi.get("/sites/demo/reports/daily", format="csv", check=False)
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    assert japi.get("/sites/demo/trend", days="3").get_json()["days"][-1]["doses"] == report["totals"]["doses"]
    assert japi.get("/reports/city/daily").get_json()["sites"][0]["rank"] == 1
    city_trend = japi.get("/reports/city/trend", days="3").get_json()["sites"]
    assert city_trend[0]["days"][-1]["doses"] == report["totals"]["doses"]
    what_if = japi.get("/sites/demo/what-if", consent="2", injection="6", seats="60").get_json()
    assert what_if["proposed"]["servers"] == {"consent": 2, "injection": 6}
    # the day's immunizations for the registry (a file: its media type is checked against the document)
    doses = japi.get("/sites/demo/exports/immunizations", date=day, format="fhir-ndjson")
    assert doses.mimetype == "application/fhir+ndjson" and len(doses.get_data().splitlines()) == 2

    # vaccine stock: a delivery, a vial opened and discarded, a move, the closing count, explained, closed
    load_site_variant(services, tmp_path, "east")
    lot = {"product": "bbibp-corv", "lot": "J2611", "expires_on": "2027-03-01", "doses_per_vial": 5, "vials": 4}
    assert japi.post("/sites/demo/stock/receipts", lot).status_code == 201
    assert japi.post("/sites/demo/stock/vials", {"lot": "J2611", "desk": "3"}).status_code == 201
    assert japi.get("/sites/demo/stock/lots").get_json()["lots"][0]["open_vials"][0]["doses_left"] == 5
    assert japi.post("/sites/demo/stock/waste", {"lot": "J2611", "doses": 5, "reason": "contaminated", "vial": 1,
                                                 "desk": "3"}).status_code == 201
    assert japi.post("/sites/demo/stock/moves", {"lot": "J2611", "vials": 1, "to_site": "east"}).status_code == 201
    for line in japi.get("/sites/demo/stock", date=day).get_json()["lots"]:
        counted = line["left"] - (1 if line["lot"] == "J2611" else 0)
        assert japi.post("/sites/demo/stock/counts", {"lot": line["lot"], "doses": counted,
                                                      "moment": "closing"}).status_code == 201
    assert japi.post("/sites/demo/stock/explanations", {"date": day, "lot": "J2611",
                                                        "explanation": "one dose spilt"}).status_code == 201
    assert japi.post("/sites/demo/stock/close", {"date": day}).status_code == 201
    closed = japi.get("/sites/demo/stock", date=day).get_json()
    assert closed["closed"] and closed["unexplained"] == []
    assert [line["given"] for line in closed["lots"] if line["lot"] in ("202610A127", "Z20261103")] == [1, 1]

    # every documented operation was exercised with a success
    document = openapi_document(client)
    succeeded = {(method, path) for method, path, status in japi.seen if status.startswith("2")}
    assert _operations(document) - succeeded == set()
    assert ("POST", "/sites/{site}/stations/{station}/call-next", "204") in japi.seen
    assert ("POST", "/sites/{site}/visits", "201") in japi.seen


def test_every_endpoint_answers_errors_in_the_documented_shape(japi, clock, tokens, client):
    visit = check_in(japi)
    base = f"/sites/demo/visits/{visit['id']}"
    consent = tokens.station("consent")
    display = tokens.display
    # 400
    for path in ("/sites/demo/visits", "/sites/demo/stations/consent/call-next",
                 *(f"{base}/{action}" for action in ("start", "recall", "no-show", "cancel", "consent", "injection",
                                                     "release", "aefi", "aefi-outcome", "correct", "undo"))):
        assert_error(japi.post(path, raw="[]"), 400, "malformed_json")
    # 403
    assert_error(japi.get("/sites/demo/visits", token=display), 403)
    assert_error(japi.get(base, token=display), 403)
    assert_error(japi.post(base + "/correct", {"reason": "x", "state": "left", "corrects_seq": 1}, token=consent),
                 403)
    # 404
    for path in ("/sites/nowhere", "/sites/nowhere/snapshot", "/sites/nowhere/visits",
                 "/sites/demo/visits/" + "9" * 32):
        assert_error(japi.get(path), 404)
    assert_error(japi.post("/sites/demo/stations/triage/call-next", {"desk": "A"}), 404, "unknown_station")
    assert_error(japi.post("/sites/demo/slips/lookup", {"scanned": "siteflow:demo:nobody"}), 404, "unknown_visit")
    assert_error(japi.post("/sites/demo/visits/" + "9" * 32 + "/ticket-code"), 404)
    headers = {**japi.api._headers(None, None), "Content-Type": "text/csv"}
    assert_error(japi.request("POST", "/sites/demo/appointments", data=b"wrong,header\n", headers=headers), 400)
    assert_error(japi.post("/sites/demo/appointments/lookup", {"code": "ZZZZ2222"}), 404, "unknown_appointment")
    assert_error(japi.post("/sites/demo/appointments/ZZZZ2222/cancel", {}), 404, "unknown_appointment")
    assert_error(japi.post("/sites/demo/appointments/ZZZZ2222/rebook", {"slot_start": "x"}), 422)
    # 409
    assert_error(japi.post(base + "/start", {"desk": "A"}), 409, "invalid_transition")
    call_next(japi, "consent", "A")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}), 409, "desk_busy")
    act(japi, visit["id"], "consent", gen_consent("A"))
    call_next(japi, "injection", "1")
    # 422
    assert_error(japi.post(base + "/injection", gen_injection("1", **EXPIRED_LOT)), 422, field="lot")
    assert_error(japi.get("/sites/demo/visits", state="nope"), 422, field="state")
    assert_error(japi.get("/sites/demo/exports/immunizations", date="2026-11-24", format="xml"), 422, field="format")
    assert_error(japi.get("/sites/demo/exports/immunizations", date="2026-11-24", format="csv", token=consent), 403)
    stock_day = "2026-11-24"
    assert_error(japi.get("/sites/demo/stock", date="24.11.2026"), 422, field="date")
    assert_error(japi.get("/sites/demo/stock/lots", token=consent), 403)
    assert_error(japi.post("/sites/demo/stock/receipts", {"product": "coronavac", "lot": "L1", "expires_on": "2027-01-01",
                                                          "doses_per_vial": 1, "vials": -1}), 422, field="vials")
    assert_error(japi.post("/sites/demo/stock/moves", {"lot": "NOTHELD", "vials": 1, "to_site": "demo"}), 422,
                 field="to_site")
    assert_error(japi.post("/sites/demo/stock/waste", {"lot": "NOTHELD", "doses": 1, "reason": "broken"}), 422,
                 field="lot")
    assert_error(japi.post("/sites/demo/stock/counts", {"lot": "NOTHELD", "doses": 1, "moment": "closing"}), 422,
                 field="lot")
    assert_error(japi.post("/sites/demo/stock/vials", {"lot": "202610A127", "desk": "1"}), 422, field="lot")
    assert_error(japi.post("/sites/demo/stock/explanations", {"date": stock_day, "lot": "202610A127",
                                                              "explanation": "nothing"}), 409, "nothing_to_explain")
    assert_error(japi.post("/sites/demo/stock/close", {"date": stock_day}), 409, "stock_not_reconciled")
    document = openapi_document(client)
    seen_errors = {(method, path) for method, path, status in japi.seen if status[0] == "4"}
    posts = {(method, path) for method, path in _operations(document) if method == "POST"}
    assert posts - seen_errors == set()
    # the document itself, without a token
    response = client.get(PREFIX + "/openapi.json")
    assert response.status_code == 200
    japi.checker.check(response)
