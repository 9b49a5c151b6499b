"""Vaccine stock over the API: deliveries, the injection's draw, open vials and their clock,
waste, moves, counts, the day's sheet and its closing; bad input records nothing."""
from __future__ import annotations

from datetime import date

from app.domain.stock import STOCK_STREAM, Entry, StockLedger
from app.flow.figures import day_bounds
from tests.support.api import act, assert_error, call_next, check_in, load_site_variant, snapshot_seq, to_observation
from tests.support.factories import gen_consent, gen_injection

DAY = "2026-11-24"  # the test clock's day at the demo site
NEW_LOT = {"product": "coronavac", "lot": "API2611X", "expires_on": "2027-06-30", "doses_per_vial": 1, "vials": 3}
MULTI = {"product": "bbibp-corv", "lot": "MD5LOT1", "expires_on": "2027-06-30", "doses_per_vial": 5, "vials": 2}


def receive(japi, body: dict, *, site: str = "demo", expect: int = 201, token: str | None = None):
    answer = japi.post(f"/sites/{site}/stock/receipts", body, token=token)
    assert answer.status_code == expect, answer.get_json()
    return answer.get_json()


def sheet(japi, site: str = "demo", day: str = DAY) -> dict:
    answer = japi.get(f"/sites/{site}/stock", date=day)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def row(japi, lot: str, site: str = "demo", day: str = DAY) -> dict:
    return next(line for line in sheet(japi, site, day)["lots"] if line["lot"] == lot)


def inject_from(japi, lot: str, product: str, *, desk: str = "1", expect: int = 200):
    visit = check_in(japi)
    assert call_next(japi, "consent", "A")["id"] == visit["id"]
    act(japi, visit["id"], "consent", gen_consent("A"))
    assert call_next(japi, "injection", desk)["id"] == visit["id"]
    path = f"/sites/demo/visits/{visit['id']}/injection"
    answer = japi.post(path, gen_injection(desk, product=product, lot=lot))
    assert answer.status_code == expect, answer.get_json()
    return visit["id"], answer


def test_a_delivered_lot_not_in_the_site_file_is_usable_at_once_and_each_injection_draws_a_dose(japi):
    recorded = receive(japi, NEW_LOT)
    assert recorded["type"] == "stock_received" and recorded["lot"]["doses"] == 3
    inject_from(japi, "API2611X", "coronavac")
    line = row(japi, "API2611X")
    assert {key: line[key] for key in ("product", "expires_on", "opening", "received", "moved_out", "given",
                                       "wasted", "left", "balanced")} == {
        "product": "coronavac", "expires_on": "2027-06-30", "opening": 0, "received": 3, "moved_out": 0,
        "given": 1, "wasted": 0, "left": 2, "balanced": True}
    # The site file's lots were delivered when it was loaded: the demo's day starts with them.
    coronavac = row(japi, "202610A127")
    assert coronavac["received"] == 1500 and coronavac["left"] == 1500


def test_an_injection_from_an_empty_lot_is_a_409_naming_the_lot_and_records_nothing(japi):
    receive(japi, {**NEW_LOT, "vials": 1})
    inject_from(japi, "API2611X", "coronavac")
    before = snapshot_seq(japi)
    visit_id, answer = inject_from(japi, "API2611X", "coronavac", expect=409)
    error = assert_error(answer, 409, "lot_empty", "lot")
    assert "API2611X" in error["message"]
    assert snapshot_seq(japi) == before + 4  # check-in, call, consent, call: not the injection
    assert japi.get(f"/sites/demo/visits/{visit_id}").get_json()["visit"]["state"] == "called"
    # A lot the site does not hold at all: refused, naming the field.
    answer = japi.post(f"/sites/demo/visits/{visit_id}/injection", gen_injection("1", lot="NOSUCHLOT"))
    assert_error(answer, 422, "validation_failed", "lot")


def test_bad_stock_input_gets_a_clear_4xx_and_records_nothing(japi, tokens):
    receive(japi, NEW_LOT)
    before_seq, before_sheet = snapshot_seq(japi), sheet(japi)["lots"]
    cases = [
        ("receipts", {**NEW_LOT, "vials": -2}, 422, "vials"),
        ("receipts", {**NEW_LOT, "vials": 0}, 422, "vials"),
        ("receipts", {**NEW_LOT, "product": "nosuchvaccine", "lot": "Q1"}, 422, "product"),
        ("receipts", {**NEW_LOT, "lot": "OLD1", "expires_on": "2026-11-23"}, 422, "expires_on"),
        ("receipts", {**NEW_LOT, "expires_on": "2027-07-01"}, 422, "expires_on"),  # another expiry for a lot held
        ("receipts", {**NEW_LOT, "vials": "3"}, 422, "vials"),
        ("waste", {"lot": "NOTHELD", "doses": 1, "reason": "broken"}, 422, "lot"),
        ("waste", {"lot": "API2611X", "doses": -1, "reason": "broken"}, 422, "doses"),
        ("waste", {"lot": "API2611X", "doses": 1, "reason": "dropped"}, 422, "reason"),
        ("waste", {"lot": "API2611X", "doses": 4, "reason": "broken"}, 409, "doses"),
        ("moves", {"lot": "NOTHELD", "vials": 1, "to_site": "demo"}, 422, "to_site"),
        ("moves", {"lot": "API2611X", "vials": 1, "to_site": "nosuchsite"}, 422, "to_site"),
        ("counts", {"lot": "NOTHELD", "doses": 3, "moment": "closing"}, 422, "lot"),
        ("counts", {"lot": "API2611X", "doses": -3, "moment": "closing"}, 422, "doses"),
    ]
    for path, body, status, field in cases:
        answer = japi.post(f"/sites/demo/stock/{path}", body)
        assert_error(answer, status, None, field)
    assert snapshot_seq(japi) == before_seq
    assert sheet(japi)["lots"] == before_sheet
    # A move naming a lot this site does not hold (to a real site).
    answer = japi.post("/sites/demo/stock/moves", {"lot": "NOTHELD", "vials": 1, "to_site": "other"})
    assert_error(answer, 422, None, "to_site")  # no site "other" either: the first problem named
    # Who may: the injection desk wastes, the check-in desk may not; deliveries are the supervisors'.
    assert_error(japi.post("/sites/demo/stock/receipts", NEW_LOT, token=tokens.station("injection")), 403)
    assert_error(japi.post("/sites/demo/stock/waste", {"lot": "API2611X", "doses": 1, "reason": "broken"},
                           token=tokens.station("checkin")), 403)
    assert snapshot_seq(japi) == before_seq


def test_a_move_takes_vials_out_of_one_site_and_into_the_other_in_one_step(japi, services, tmp_path):
    load_site_variant(services, tmp_path, "east")
    receive(japi, NEW_LOT)
    assert_error(japi.post("/sites/demo/stock/moves", {"lot": "NOTHELD", "vials": 1, "to_site": "east"}), 422,
                 "lot_not_held", "lot")
    assert_error(japi.post("/sites/demo/stock/moves", {"lot": "API2611X", "vials": 5, "to_site": "east"}), 409,
                 "not_enough_stock", "vials")
    answer = japi.post("/sites/demo/stock/moves", {"lot": "API2611X", "vials": 2, "to_site": "east"})
    assert answer.status_code == 201, answer.get_json()
    assert row(japi, "API2611X")["moved_out"] == 2 and row(japi, "API2611X")["left"] == 1
    east = row(japi, "API2611X", site="east")
    assert (east["received"], east["moved_in"], east["left"], east["balanced"]) == (2, 2, 2, True)


def test_a_multi_dose_vial_opens_counts_down_and_its_rest_is_wasted_when_its_time_is_up(japi, clock, tokens):
    receive(japi, MULTI)
    injection = tokens.station("injection")
    opened = japi.post("/sites/demo/stock/vials", {"lot": "MD5LOT1", "desk": "1"}, token=injection)
    assert opened.status_code == 201, opened.get_json()
    vial = opened.get_json()["lot"]["open_vials"][0]
    assert (vial["vial"], vial["desk"], vial["doses_left"], vial["minutes_left"]) == (1, "1", 5, 360)
    assert_error(japi.post("/sites/demo/stock/vials", {"lot": "MD5LOT1", "desk": "1"}, token=injection), 409,
                 "vial_already_open", "lot")
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")
    # Booth 2 has no open vial: its first dose opens the lot's second vial.
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="2")
    lots = {item["lot"]: item for item in japi.get("/sites/demo/stock/lots", token=injection).get_json()["lots"]}
    vials = {item["desk"]: item for item in lots["MD5LOT1"]["open_vials"]}
    assert (vials["1"]["doses_left"], vials["2"]["doses_left"], lots["MD5LOT1"]["unopened_vials"]) == (3, 4, 0)
    line = row(japi, "MD5LOT1")
    assert (line["given"], line["wasted"], line["left"], line["vials_opened"]) == (3, 0, 7, 2)
    # Six hours on (the product's open_vial_minutes), the doses left in both vials are wasted.
    clock.advance(minutes=361)
    line = row(japi, "MD5LOT1")
    assert line["wasted_by_reason"]["expired_open_vial"] == 7
    assert (line["given"], line["wasted"], line["left"], line["open_vials"], line["balanced"]) == (3, 7, 0, [], True)
    _, answer = inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1", expect=409)
    assert_error(answer, 409, "lot_empty", "lot")


def test_waste_with_a_reason_code_and_an_open_vial_discarded_by_the_desk(japi, tokens):
    receive(japi, MULTI)
    injection = tokens.station("injection")
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")  # opens vial 1: 4 doses left
    assert_error(japi.post("/sites/demo/stock/waste", {"lot": "MD5LOT1", "doses": 2, "reason": "contaminated",
                                                      "vial": 1}, token=injection), 422, None, "doses")
    answer = japi.post("/sites/demo/stock/waste", {"lot": "MD5LOT1", "doses": 4, "reason": "contaminated",
                                                   "vial": 1, "desk": "1"}, token=injection)
    assert answer.status_code == 201, answer.get_json()
    answer = japi.post("/sites/demo/stock/waste", {"lot": "MD5LOT1", "doses": 5, "reason": "broken"},
                       token=injection)
    assert answer.status_code == 201, answer.get_json()
    line = row(japi, "MD5LOT1")
    assert line["wasted_by_reason"] == {"expired_open_vial": 0, "broken": 5, "contaminated": 4,
                                        "cold_chain_breach": 0}
    assert (line["given"], line["wasted"], line["left"], line["balanced"]) == (1, 9, 0, True)


def test_a_count_that_differs_must_be_explained_before_the_day_closes(japi, tokens, clock):
    receive(japi, NEW_LOT)
    to_observation(japi)  # one dose of the demo's coronavac lot
    for line in sheet(japi)["lots"]:
        counted = line["left"] - (1 if line["lot"] == "API2611X" else 0)  # a vial of the new lot is missing
        answer = japi.post("/sites/demo/stock/counts", {"lot": line["lot"], "doses": counted, "moment": "closing"})
        assert answer.status_code == 201, answer.get_json()
    line = row(japi, "API2611X")
    assert (line["left"], line["difference"], line["balanced"], line["explained"]) == (2, -1, False, False)
    assert sheet(japi)["unexplained"] == ["API2611X"]
    refused = japi.post("/sites/demo/stock/close", {"date": DAY})
    assert_error(refused, 409, "stock_not_reconciled", "lot API2611X")
    explanation = {"date": DAY, "lot": "API2611X", "explanation": "vial dropped in the fridge, not recorded"}
    assert_error(japi.post("/sites/demo/stock/explanations", explanation, token=tokens.station("injection")), 403)
    assert_error(japi.post("/sites/demo/stock/explanations", {**explanation, "lot": "202610A127"}), 409,
                 "nothing_to_explain", "lot")
    assert japi.post("/sites/demo/stock/explanations", explanation).status_code == 201
    assert row(japi, "API2611X")["explained"] is True and sheet(japi)["unexplained"] == []
    closed = japi.post("/sites/demo/stock/close", {"date": DAY})
    assert closed.status_code == 201, closed.get_json()
    assert sheet(japi)["closed"]["actor"] == "admin:admin-all"
    assert_error(japi.post("/sites/demo/stock/close", {"date": DAY}), 409, "stock_day_closed")
    # The next day opens with what was counted.
    clock.advance(days=1)
    tomorrow = row(japi, "API2611X", day="2026-11-25")
    assert (tomorrow["opening"], tomorrow["left"], tomorrow["counted"], tomorrow["balanced"]) == (2, 2, {}, True)


def test_a_repeated_delivery_with_the_same_idempotency_key_is_recorded_once(japi):
    first = japi.post("/sites/demo/stock/receipts", NEW_LOT, key="delivery-0001")
    again = japi.post("/sites/demo/stock/receipts", NEW_LOT, key="delivery-0001")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json()["seq"] == first.get_json()["seq"]
    assert row(japi, "API2611X")["received"] == 3
    assert_error(japi.post("/sites/demo/stock/receipts", {**NEW_LOT, "vials": 4}, key="delivery-0001"), 422,
                 "idempotency_key_reused")


def test_stock_events_are_in_the_site_log_and_the_lots_are_its_fold(japi, services, clock):
    """The kept lots (lot_stocks) equal the fold of the log's stock events and injections."""
    receive(japi, MULTI)
    before = snapshot_seq(japi)
    receive(japi, NEW_LOT)
    assert snapshot_seq(japi) == before + 1  # one sequence for visits and stock: live clients see no gap
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="3")
    japi.post("/sites/demo/stock/waste", {"lot": "API2611X", "doses": 1, "reason": "cold_chain_breach"})
    clock.advance(minutes=400)
    events = services.store.site_events("demo")
    assert {event.type for event in events if event.visit_id == STOCK_STREAM} == {"stock_received", "stock_wasted"}
    ledger = StockLedger()
    for event in events:
        ledger.apply(Entry(event.seq, event.type, event.at, event.data, event.desk, event.actor))
    ledger.advance(clock.now())
    kept = services.store.lots("demo", clock.now())
    assert {name: lot.doses for name, lot in ledger.lots.items()} == {name: lot.doses for name, lot in kept.items()}
    assert {name: lot.open_vials for name, lot in ledger.lots.items()} == {
        name: lot.open_vials for name, lot in kept.items()}


def test_a_past_day_sheet_stays_what_it_was_when_the_lots_have_moved_on(japi, clock):
    """Today's sheet starts from the lots as the day began; a past day's is folded from the log:
    both give the same lines, and a vial open at midnight is wasted on the day its time is up."""
    receive(japi, MULTI)
    clock.advance(hours=12)  # 21:00
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")  # opens vial 1 until 03:00
    clock.advance(hours=4)  # 01:00 the next day
    yesterday = sheet(japi)["lots"]
    line = next(line for line in yesterday if line["lot"] == "MD5LOT1")
    assert (line["given"], line["wasted"], line["left"], len(line["open_vials"])) == (1, 0, 9, 1)
    clock.advance(hours=4)  # 05:00
    receive(japi, {**MULTI, "vials": 1})
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="2")
    assert sheet(japi)["lots"] == yesterday
    today = row(japi, "MD5LOT1", day="2026-11-25")
    assert (today["opening"], today["received"], today["given"], today["left"], today["balanced"]) == (
        9, 5, 1, 9, True)
    assert today["wasted_by_reason"]["expired_open_vial"] == 4  # vial 1's rest, at 03:00


def test_a_closed_day_is_the_checkpoint_a_later_day_is_folded_from(japi, clock, services):
    """The closing of a day's stock keeps the lots: the sheet of a later day, once its lots have
    moved on, is folded from there, not from the start of the log, and gives the same lines."""
    receive(japi, {**MULTI, "vials": 4})
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="1")
    for line in sheet(japi)["lots"]:
        japi.post("/sites/demo/stock/counts", {"lot": line["lot"], "doses": line["left"], "moment": "closing"})
    closing = japi.post("/sites/demo/stock/close", {"date": DAY}).get_json()["seq"]
    clock.advance(days=1)
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="2")
    assert japi.post("/sites/demo/stock/waste", {"lot": "MD5LOT1", "doses": 5, "reason": "broken"}).status_code == 201
    clock.advance(hours=15, seconds=1)  # just after midnight: the second day as it ended
    second_day = sheet(japi, day="2026-11-25")["lots"]
    inject_from(japi, "MD5LOT1", "bbibp-corv", desk="2")
    site = services.store.site("demo").site
    start, end = day_bounds(site, date(2026, 11, 25))
    opening, entries = services.store.stock_day("demo", date(2026, 11, 25), start, end)
    assert opening is not None and "MD5LOT1" in opening
    assert min(entry.seq for entry in entries) > closing
    assert sheet(japi, day="2026-11-25")["lots"] == second_day
