"""Read endpoints: the snapshot, the site description and the visit detail."""
from __future__ import annotations

from datetime import timedelta

from app.domain.stock import STOCK_STREAM
from app.domain.vocabulary import CHECKLIST, DEFERRAL_REASONS, SCREENING_QUESTIONS
from tests.support.api import (
    act,
    call_next,
    check_in,
    checker,
    japi,
    snapshot_seq,
    to_observation,
)
from tests.support.factories import gen_checkin, gen_consent, gen_injection

STATIONS = ("checkin", "consent", "injection", "observation", "exit")
DESKS = {"checkin": ["1", "2"], "consent": ["A", "B"], "injection": ["1", "2", "3", "4", "5", "6"],
         "observation": ["1"], "exit": ["1"]}


# --- snapshot -------------------------------------------------------------------------------------

def test_the_snapshot_of_an_empty_site_matches_the_contract(japi, tokens, clock, services):
    response = japi.get("/sites/demo/snapshot", token=tokens.display)
    assert response.status_code == 200
    snapshot = response.get_json()
    assert {"site", "seq", "stations", "calling", "observation"} <= set(snapshot)
    assert snapshot["site"] == "demo"
    # No visit yet: the site's log holds only the lots its file lists, and the snapshot is at its end.
    logged = services.store.site_events("demo")
    assert all(event.visit_id == STOCK_STREAM for event in logged)
    assert [event.seq for event in logged] == list(range(1, snapshot["seq"] + 1))
    assert set(snapshot["stations"]) == set(STATIONS)
    for station in STATIONS:
        entry = snapshot["stations"][station]
        assert {"waiting", "called", "serving", "desks"} <= set(entry)
        assert (entry["waiting"], entry["called"], entry["serving"]) == (0, 0, 0)
        assert sorted(entry["desks"]) == sorted(DESKS[station])
        assert all(desk == {"state": "idle", "ticket": None} for desk in entry["desks"].values())
    assert snapshot["calling"] == []
    assert {"count", "capacity", "ready"} <= set(snapshot["observation"])
    assert snapshot["observation"]["count"] == 0
    assert snapshot["observation"]["capacity"] == 60
    assert snapshot["observation"]["ready"] == []


def test_the_snapshot_follows_people_through_the_stations(japi, clock):
    first = check_in(japi)
    second = check_in(japi)
    check_in(japi)
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["stations"]["consent"]["waiting"] == 3
    clock.advance(minutes=1)
    call_next(japi, "consent", "A")
    clock.advance(minutes=1)
    call_next(japi, "consent", "B")
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    consent = snapshot["stations"]["consent"]
    assert (consent["waiting"], consent["called"], consent["serving"]) == (1, 2, 0)
    assert consent["desks"]["A"] == {"state": "called", "ticket": "A001"}
    assert consent["desks"]["B"] == {"state": "called", "ticket": "A002"}
    # the most recent call first
    assert snapshot["calling"] == [
        {"ticket": "A002", "station": "consent", "desk": "B", "at": clock.now().isoformat()},
        {"ticket": "A001", "station": "consent", "desk": "A", "at": (clock.now() - timedelta(minutes=1)).isoformat()},
    ]
    clock.advance(minutes=1)
    act(japi, first["id"], "recall")  # a recall is announced again: it moves to the top
    act(japi, second["id"], "start", {"desk": "B"})
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    consent = snapshot["stations"]["consent"]
    assert (consent["waiting"], consent["called"], consent["serving"]) == (1, 1, 1)
    assert consent["desks"]["B"] == {"state": "serving", "ticket": "A002"}
    assert snapshot["calling"] == [{"ticket": "A001", "station": "consent", "desk": "A", "at": clock.now().isoformat()}]
    act(japi, second["id"], "consent", gen_consent("B"))
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["stations"]["consent"]["desks"]["B"] == {"state": "idle", "ticket": None}
    assert snapshot["stations"]["injection"]["waiting"] == 1
    clock.advance(minutes=1)
    call_next(japi, "injection", "5")
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert [call["ticket"] for call in snapshot["calling"]] == ["A002", "A001"]
    assert snapshot["stations"]["injection"]["desks"]["5"] == {"state": "called", "ticket": "A002"}
    assert snapshot["calling"][0]["station"] == "injection" and snapshot["calling"][0]["desk"] == "5"
    act(japi, second["id"], "injection", gen_injection("5"))
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["observation"]["count"] == 1
    assert snapshot["stations"]["injection"]["called"] == 0


def test_seq_increases_by_exactly_one_per_recorded_action(japi, clock, tokens):
    seqs = [snapshot_seq(japi)]

    def step(response, status=200):
        assert response.status_code == status, response.get_json()
        seqs.append(snapshot_seq(japi))

    visit = check_in(japi)
    seqs.append(snapshot_seq(japi))
    base = f"/sites/demo/visits/{visit['id']}"
    step(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}))
    step(japi.post(base + "/recall", {}))
    step(japi.post(base + "/start", {"desk": "A"}))
    step(japi.post(base + "/consent", gen_consent("A")))
    step(japi.post("/sites/demo/stations/injection/call-next", {"desk": "1"}))
    step(japi.post(base + "/injection", gen_injection("1")))
    clock.advance(minutes=30)
    step(japi.post(base + "/release", {}))
    step(japi.post("/sites/demo/visits", gen_checkin(health_code="yellow")), 201)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    history = japi.get(base).get_json()["events"]
    assert [event["seq"] for event in history] == list(range(seqs[0] + 1, seqs[0] + 9))
    # nothing recorded, nothing counted: 204, 4xx, reads
    before = snapshot_seq(japi)
    assert japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}).status_code == 204
    assert japi.post(base + "/release", {}).status_code == 409
    assert japi.post("/sites/demo/visits", gen_checkin(dose_number="2")).status_code == 422
    assert japi.post(base + "/correct", {"reason": "x", "state": "left", "corrects_seq": history[0]["seq"]},
                     token=tokens.station("exit")).status_code == 403
    japi.get("/sites/demo")
    japi.get("/sites/demo/visits")
    assert snapshot_seq(japi) == before


def test_ready_lists_a_ticket_only_once_its_30_minutes_are_up(japi, clock):
    first = to_observation(japi, desk="1")
    clock.advance(minutes=5)
    second = to_observation(japi, desk="2")
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["observation"]["count"] == 2 and snapshot["observation"]["ready"] == []
    clock.advance(minutes=24, seconds=59)  # first: 29:59
    assert japi.get("/sites/demo/snapshot").get_json()["observation"]["ready"] == []
    clock.advance(seconds=1)  # first: 30:00
    assert japi.get("/sites/demo/snapshot").get_json()["observation"]["ready"] == ["A001"]
    visit = japi.get(f"/sites/demo/visits/{first}").get_json()["visit"]
    assert visit["observation"]["may_leave"] is True and visit["observation"]["remaining_seconds"] == 0
    clock.advance(minutes=5)  # second: 30:00
    assert japi.get("/sites/demo/snapshot").get_json()["observation"]["ready"] == ["A001", "A002"]
    act(japi, first, "release")
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["observation"]["ready"] == ["A002"] and snapshot["observation"]["count"] == 1
    act(japi, second, "release")
    observation = japi.get("/sites/demo/snapshot").get_json()["observation"]
    assert (observation["count"], observation["ready"]) == (0, [])


def test_the_snapshot_holds_no_personal_data(japi, tokens):
    body = gen_checkin(name="欧阳修", phone="13912345678")
    japi.post("/sites/demo/visits", body)
    call_next(japi, "consent", "A")
    text = japi.get("/sites/demo/snapshot", token=tokens.display).get_data(as_text=True)
    for secret in (body["document_number"], body["document_number"][-4:], "欧阳修", "欧*修", "13912345678", "5678"):
        assert secret not in text


# --- site information ---------------------------------------------------------------------------

def test_site_info_lists_what_a_tablet_needs(japi, tokens):
    response = japi.get("/sites/demo", token=tokens.display)
    assert response.status_code == 200
    site = response.get_json()
    assert site["id"] == "demo" and site["timezone"] == "Asia/Shanghai"
    assert site["name"] and site["name_zh"] == "滨江社区新冠疫苗临时接种点"
    assert set(site["stations"]) == set(STATIONS)
    for station in STATIONS:
        assert site["stations"][station]["desks"] == DESKS[station]
        label = site["stations"][station]["label"]
        assert label["zh"] and label["en"]
    assert site["observation"]["minutes"] == 30
    assert site["observation"]["seats"] == 60
    assert site["observation"]["extended_minutes"] == 60
    products = {product["code"]: product for product in site["products"]}
    assert set(products) == {"coronavac", "bbibp-corv", "zf2001"}
    lots = {lot["lot"]: lot for lot in products["coronavac"]["lots"]}
    assert lots["202610A127"]["expires_on"] == "2027-10-15" and lots["202610A127"]["expired"] is False
    assert lots["202604A033"]["expires_on"] == "2026-10-31" and lots["202604A033"]["expired"] is True
    assert all(lot["expired"] is False for lot in products["zf2001"]["lots"])
    for product in products.values():
        assert product["name"] and product["name_zh"] and product["manufacturer"] and product["route"] == "IM"
        for lot in product["lots"]:
            assert set(lot) >= {"lot", "expires_on", "expired"}
    for key, codes in (("screening_questions", SCREENING_QUESTIONS), ("deferral_reasons", DEFERRAL_REASONS),
                       ("checklist", CHECKLIST)):
        items = site[key]
        assert [item["code"] for item in items] == list(codes), key
        for item in items:
            assert isinstance(item["zh"], str) and item["zh"], (key, item)
            assert isinstance(item["en"], str) and item["en"], (key, item)
    assert len(site["checklist"]) == 11
    assert [item["code"] for item in site["screening_questions"]] == [
        "fever", "acute_illness", "chronic_uncontrolled", "vaccine_allergy", "neurological", "pregnancy"]


def test_lot_expiry_follows_the_site_date(japi, clock):
    clock.advance(days=365)  # 2027-11-24: every coronavac lot is expired
    site = japi.get("/sites/demo").get_json()
    lots = {lot["lot"]: lot["expired"] for product in site["products"] for lot in product["lots"]}
    assert lots == {"202610A127": True, "202604A033": True, "202609B2114": True, "Z20261103": True}


# --- visit detail ---------------------------------------------------------------------------------

def test_the_visit_detail_has_the_visit_and_its_history_in_seq_order(japi, clock, tokens):
    before = snapshot_seq(japi)
    other = check_in(japi)  # interleaved events of another visit are not in this history
    visit = check_in(japi)
    act(japi, other["id"], "cancel", {"reason": "left"})
    call_next(japi, "consent", "A")
    clock.advance(minutes=2)
    act(japi, visit["id"], "start", {"desk": "A"})
    act(japi, visit["id"], "consent", gen_consent("A"))
    response = japi.get(f"/sites/demo/visits/{visit['id']}", token=tokens.supervisor)
    assert response.status_code == 200
    detail = response.get_json()
    assert set(detail) == {"visit", "events"}
    assert detail["visit"]["id"] == visit["id"]
    assert (detail["visit"]["state"], detail["visit"]["station"]) == ("waiting", "injection")
    events = detail["events"]
    assert [event["type"] for event in events] == ["checked_in", "called", "started", "consented"]
    assert [event["seq"] for event in events] == [before + 2, before + 4, before + 5, before + 6]
    assert events[1]["station"] == "consent" and events[1]["desk"] == "A"
    assert events[2]["at"] == clock.now().isoformat()
    assert {event["actor"] for event in events} == {"admin:admin-all"}
    assert detail["visit"]["version"] == len(events)


def test_the_snapshot_estimates_the_wait_from_recent_services_and_open_desks(japi, clock):
    people = [check_in(japi) for _ in range(8)]
    consent = japi.get("/sites/demo/snapshot").get_json()["stations"]["consent"]
    assert consent["expected_wait_minutes"] is None  # nothing served yet: no guess
    for person in people[:4]:  # desk A alone serves four people, 4 minutes each
        call_next(japi, "consent", "A")
        clock.advance(minutes=4)
        act(japi, person["id"], "consent", gen_consent("A"))
    consent = japi.get("/sites/demo/snapshot").get_json()["stations"]["consent"]
    assert consent["waiting"] == 4 and consent["desks_open"] == 1
    assert consent["expected_wait_minutes"] == 16  # 4 waiting x 4 minutes / 1 desk
    clock.advance(minutes=31)  # the services leave the 30-minute window
    assert japi.get("/sites/demo/snapshot").get_json()["stations"]["consent"]["expected_wait_minutes"] is None
