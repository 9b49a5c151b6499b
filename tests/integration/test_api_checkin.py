"""POST /sites/{site}/visits: check-in, tickets, health codes, input validation."""
from __future__ import annotations

from tests.support.api import (
    act,
    assert_error,
    check_in,
    checker,
    japi,
    load_site_variant,
    snapshot_seq,
    to_observation,
)
from tests.support.factories import gen_checkin, gen_resident_id


def test_check_in_returns_201_with_a_visit_and_the_first_ticket_of_the_day(japi, clock):
    body = gen_checkin()
    response = japi.post("/sites/demo/visits", body)
    assert response.status_code == 201
    visit = response.get_json()["visit"]
    assert visit["id"] and isinstance(visit["id"], str)
    assert visit["ticket"] == "A001"
    assert visit["state"] == "waiting"
    assert visit["station"] == "consent"
    assert visit["desk"] is None
    assert visit["site"] == "demo"
    assert visit["day"] == "2026-11-24"
    assert visit["dose_number"] == 1 and visit["health_code"] == "green"
    assert visit["priority"] is False and visit["vaccinated"] is False
    assert visit["checked_in_at"] == clock.now().isoformat()
    assert visit["closed_reason"] is None
    assert visit["person"]["document_number"] == body["document_number"]
    assert visit["person"]["age"] == 46
    assert "Idempotent-Replayed" not in response.headers


def test_tickets_count_per_site_and_per_day(japi, clock, services, tmp_path):
    assert [check_in(japi)["ticket"] for _ in range(3)] == ["A001", "A002", "A003"]
    load_site_variant(services, tmp_path, "north", prefix="N")
    assert check_in(japi, "north")["ticket"] == "N001"
    assert check_in(japi)["ticket"] == "A004"
    clock.advance(hours=15)  # 00:00 the next day in Shanghai
    nxt = check_in(japi)
    assert nxt["ticket"] == "A001"
    assert nxt["day"] == "2026-11-25"
    assert check_in(japi, "north")["ticket"] == "N001"


def test_yellow_and_red_codes_are_turned_away_without_a_ticket(japi):
    before = snapshot_seq(japi)
    for colour in ("yellow", "red"):
        response = japi.post("/sites/demo/visits", gen_checkin(health_code=colour))
        assert response.status_code == 201
        visit = response.get_json()["visit"]
        assert visit["state"] == "turned_away"
        assert visit["ticket"] is None
        assert visit["station"] is None
        assert visit["closed_reason"] == f"health_code_{colour}"
        assert visit["health_code"] == colour
    # turned-away people take no ticket number and sit in no queue
    assert check_in(japi)["ticket"] == "A001"
    snapshot = japi.get("/sites/demo/snapshot").get_json()
    assert snapshot["stations"]["consent"]["waiting"] == 1
    assert snapshot["seq"] == before + 3  # two turned away, one checked in
    # a person turned away may come back green
    body = gen_checkin(health_code="yellow")
    assert japi.post("/sites/demo/visits", body).status_code == 201
    again = japi.post("/sites/demo/visits", dict(body, health_code="green"))
    assert again.status_code == 201
    assert again.get_json()["visit"]["ticket"] == "A002"


def test_a_wrong_id_checksum_is_422_naming_document_number(japi):
    good = gen_resident_id()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    before = snapshot_seq(japi)
    response = japi.post("/sites/demo/visits", gen_checkin(document_number=wrong))
    error = assert_error(response, 422, "validation_failed", "document_number")
    assert "checksum" in error["fields"]["document_number"]
    for bad in ("11010519800101", "990105198001010015", "110105198013010015", "ABCDEFGHIJKLMNOPQR"):
        assert_error(japi.post("/sites/demo/visits", gen_checkin(document_number=bad)), 422,
                     field="document_number")
    assert snapshot_seq(japi) == before
    # 11010519491231002X is the GB 11643 standard's own example
    visit = check_in(japi, document_number="11010519491231002x")
    assert visit["person"]["document_number"] == "11010519491231002X"
    assert visit["priority"] is True  # born 1949: 60+


def test_a_second_open_visit_the_same_day_is_409_duplicate_visit(japi):
    body = gen_checkin()
    before = snapshot_seq(japi)
    first = japi.post("/sites/demo/visits", body)
    assert first.status_code == 201
    error = assert_error(japi.post("/sites/demo/visits", body), 409, "duplicate_visit", "document_number")
    assert "A001" in error["message"]
    # the same number typed with spaces is the same person
    spaced = body["document_number"][:6] + " " + body["document_number"][6:]
    assert_error(japi.post("/sites/demo/visits", dict(body, document_number=spaced)), 409, "duplicate_visit")
    assert snapshot_seq(japi) == before + 1


def test_a_check_in_at_another_site_the_same_day_names_that_site_and_nothing_of_it(japi, services, tmp_path):
    load_site_variant(services, tmp_path, "north", prefix="N")
    north_before = snapshot_seq(japi, "north")
    body = gen_checkin(name="欧阳娜娜", phone="13912345678")
    assert japi.post("/sites/demo/visits", body).status_code == 201
    answer = japi.post("/sites/north/visits", body)
    error = assert_error(answer, 409, "checked_in_elsewhere", "document_number")
    demo = services.store.site("demo").site
    assert demo.name_zh in error["message"] and error["fields"]["site"] == f"{demo.name_zh} / {demo.name}"
    text = answer.get_data(as_text=True)
    for secret in ("A001", body["name"], body["phone"], body["document_number"][-4:]):
        assert secret not in text
    assert snapshot_seq(japi, "north") == north_before


def test_earlier_visits_the_same_day_leaving_or_vaccinated(japi, clock):
    # someone vaccinated today may not check in again
    vaccinated = gen_checkin()
    visit_id = to_observation(japi, document_number=vaccinated["document_number"])
    clock.advance(minutes=30)
    act(japi, visit_id, "release")
    assert_error(japi.post("/sites/demo/visits", vaccinated), 409, "already_vaccinated_today", "document_number")
    # someone who left may
    body = gen_checkin()
    first = check_in(japi, document_number=body["document_number"])
    act(japi, first["id"], "cancel", {"reason": "went to fetch ID card"})
    assert japi.post("/sites/demo/visits", body).get_json()["visit"]["ticket"] == "A003"


def test_wrong_types_and_unknown_fields_are_422_naming_each_field(japi):
    before = snapshot_seq(japi)
    cases = {
        "dose_number": "1",
        "priority": "yes",
        "name": 5,
        "health_code": "blue",
        "document_type": "driving_licence",
        "phone": 13800138000,
        "birth_date": "24/11/1980",
    }
    for field, value in cases.items():
        response = japi.post("/sites/demo/visits", gen_checkin(**{field: value}))
        error = assert_error(response, 422, "validation_failed", field)
        assert set(error["fields"]) == {field}, error
    together = japi.post("/sites/demo/visits", gen_checkin(dose_number="1", priority="yes", name=5))
    assert set(assert_error(together, 422)["fields"]) == {"dose_number", "priority", "name"}
    for dose in (0, 5, 1.5, True):
        assert_error(japi.post("/sites/demo/visits", gen_checkin(dose_number=dose)), 422, field="dose_number")
    assert_error(japi.post("/sites/demo/visits", gen_checkin(name="")), 422, field="name")
    assert_error(japi.post("/sites/demo/visits", gen_checkin(name="   ")), 422, field="name")
    # unknown fields are typos, not extensions
    error = assert_error(japi.post("/sites/demo/visits", gen_checkin(nickname="Xiao Ming")), 422,
                         "validation_failed", "nickname")
    assert set(error["fields"]) == {"nickname"}
    assert_error(japi.post("/sites/demo/visits", gen_checkin(healthcode="green")), 422, field="healthcode")
    assert snapshot_seq(japi) == before


def test_missing_fields_are_422_naming_each(japi):
    body = gen_checkin()
    for field in ("name", "document_type", "document_number", "dose_number", "health_code"):
        partial = {key: value for key, value in body.items() if key != field}
        error = assert_error(japi.post("/sites/demo/visits", partial), 422, "validation_failed", field)
        assert set(error["fields"]) == {field}
    empty = assert_error(japi.post("/sites/demo/visits", {}), 422, "validation_failed")
    assert {"name", "document_type", "document_number", "dose_number", "health_code"} <= set(empty["fields"])
    no_body = japi.post("/sites/demo/visits", raw="")
    assert_error(no_body, 422, "validation_failed", "name")
    # optional fields may be left out
    optional = {key: value for key, value in body.items() if key not in ("phone", "priority")}
    assert japi.post("/sites/demo/visits", optional).status_code == 201


def test_malformed_json_and_non_object_bodies_are_400_malformed_json(japi):
    before = snapshot_seq(japi)
    for raw in ('{"name": "王小明",', "not json", "[]", '[{"name": "x"}]', '"a string"', "42", "null", "{'a': 1}"):
        error = assert_error(japi.post("/sites/demo/visits", raw=raw), 400, "malformed_json")
        assert error["fields"] == {}, raw
    headers = {"Authorization": f"Bearer {japi.api.token}", "Content-Type": "application/json"}
    for data in (b"\xff\xfe{}", b'{"name": "\xe7\x8e"}', b"[" * 5000 + b"]" * 5000):
        response = japi.request("POST", "/sites/demo/visits", headers=headers, data=data)
        assert_error(response, 400, "malformed_json")
    assert snapshot_seq(japi) == before


def test_unknown_site_is_404(japi):
    assert_error(japi.post("/sites/atlantis/visits", gen_checkin()), 404, "unknown_site")
    assert_error(japi.get("/sites/atlantis"), 404, "unknown_site")
    assert_error(japi.get("/sites/atlantis/snapshot"), 404, "unknown_site")
    assert_error(japi.get("/sites/atlantis/visits"), 404, "unknown_site")
    assert_error(japi.get("/sites/atlantis/visits/" + "0" * 32), 404)
    assert_error(japi.post("/sites/atlantis/stations/consent/call-next", {"desk": "A"}), 404, "unknown_site")


def test_priority_age_60_plus_and_passports(japi):
    assert check_in(japi, priority=True)["priority"] is True
    senior = check_in(japi, document_number=gen_resident_id(birth="19600101"))
    assert senior["priority"] is True and senior["person"]["age"] == 66
    young = check_in(japi, document_number=gen_resident_id(birth="19661125"))
    assert young["priority"] is False and young["person"]["age"] == 59
    # passports carry the birth date in the body
    visit = check_in(japi, document_type="passport", document_number="e1234567", birth_date="1950-05-01")
    assert visit["person"]["document_number"] == "E1234567"
    assert visit["person"]["birth_date"] == "1950-05-01"
    assert visit["priority"] is True
    assert_error(japi.post("/sites/demo/visits", gen_checkin(document_type="passport", document_number="E1!")),
                 422, field="document_number")
    assert_error(japi.post("/sites/demo/visits", gen_checkin(document_type="passport", document_number="E7654321",
                                                              birth_date="2030-01-01")), 422, field="birth_date")


def test_control_characters_in_text_fields_are_refused_or_stored_never_a_500(japi):
    # A scanner or a paste can bring a NUL byte along. Either answer is fine; a 500 is not,
    # and the database must not decide (PostgreSQL refuses NUL in text and JSONB).
    response = japi.post("/sites/demo/visits", gen_checkin(name="王\u0000明"))
    assert response.status_code in (201, 422), (response.status_code, response.get_json())
    if response.status_code == 422:
        assert_error(response, 422, field="name")


def test_a_nul_character_in_the_path_is_404_not_500(japi):
    visit = check_in(japi)
    assert_error(japi.get("/sites/de\u0000mo"), 404)
    assert_error(japi.get(f"/sites/demo/visits/{visit['id']}\u0000"), 404)
