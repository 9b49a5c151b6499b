"""Authentication, token scope and privacy of the REST API."""
from __future__ import annotations

import json
import re

from tests.support.api import (
    PREFIX,
    act,
    api_rules,
    assert_error,
    call_next,
    check_in,
    checker,
    japi,
    load_site_variant,
    to_injection_queue,
)
from tests.support.factories import gen_checkin, gen_consent, gen_injection

SAMPLE_ARGS = {"site": "demo", "station": "consent", "visit_id": "0" * 32, "code": "ZZZZ2222"}


def _concrete(rule: str) -> str:
    path = rule
    for name, value in SAMPLE_ARGS.items():
        path = path.replace(f"<{name}>", value)
    assert "<" not in path, rule
    return path[len(PREFIX):]


# --- 401 ----------------------------------------------------------------------------------------

def test_every_route_except_the_document_answers_401_without_a_token(app, japi):
    before = japi.get("/sites/demo/snapshot").get_json()["seq"]  # the site file's deliveries
    checked = 0
    for rule, method, endpoint in api_rules(app):
        path = _concrete(rule)
        response = japi.request(method, path, json={} if method == "POST" else None)
        if endpoint == "api.openapi":
            assert response.status_code == 200
            continue
        error = assert_error(response, 401, "missing_token")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), f"{method} {rule}"
        assert "Bearer" in error["message"]
        checked += 1
    assert checked >= 15
    # a refused request records nothing
    assert japi.get("/sites/demo/snapshot").get_json()["seq"] == before
    assert japi.get("/sites/demo/visits").get_json()["visits"] == []
    # the liveness probe needs no token
    health = japi.client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok"}


def test_every_route_answers_401_with_an_unknown_malformed_or_revoked_token(app, japi, tokens, services, clock):
    bad_headers = [
        {"Authorization": "Bearer sf_not-a-real-token"},
        {"Authorization": "Bearer not-even-our-prefix"},
        {"Authorization": "Bearer " + tokens.admin + "x"},
        {"Authorization": "Basic " + tokens.admin},  # not the bearer scheme
        {"Authorization": "Bearer "},
        {"Authorization": tokens.admin},  # no scheme
    ]
    for rule, method, endpoint in api_rules(app):
        if endpoint == "api.openapi":
            continue
        path = _concrete(rule)
        for headers in bad_headers:
            response = japi.request(method, path, headers=headers, json={} if method == "POST" else None)
            error = assert_error(response, 401)
            assert error["code"] in ("invalid_token", "missing_token"), (method, rule, headers, error)
    response = japi.request("GET", "/sites/demo", headers={"Authorization": "Bearer sf_not-a-real-token"})
    assert assert_error(response, 401)["code"] == "invalid_token"
    # a revoked token is an unknown token
    token = tokens.station("consent")
    assert japi.get("/sites/demo", token=token).status_code == 200
    from app.flow.tokens import revoke

    assert revoke(services, name="station-consent") == 1
    assert_error(japi.get("/sites/demo", token=token), 401, "invalid_token")


def test_the_site_list_shows_each_token_its_own_sites(japi, tokens, services, tmp_path):
    load_site_variant(services, tmp_path, "north")
    everything = japi.get("/sites").get_json()["sites"]
    assert [site["id"] for site in everything] == ["demo", "north"]
    assert everything[0]["name"] == "Riverside Community Vaccination Site"
    for token in (tokens.supervisor, tokens.display, tokens.station("consent")):
        assert [site["id"] for site in japi.get("/sites", token=token).get_json()["sites"]] == ["demo"]
    north = tokens.make("display", site="north")
    assert [site["id"] for site in japi.get("/sites", token=north).get_json()["sites"]] == ["north"]


# --- role and station scope ---------------------------------------------------------------------

def test_a_consent_token_cannot_record_an_injection_nor_call_at_injection(japi, tokens):
    consent = tokens.station("consent")
    visit_id = to_injection_queue(japi)
    assert_error(japi.post("/sites/demo/stations/injection/call-next", {"desk": "1"}, token=consent), 403, "forbidden")
    call_next(japi, "injection", "1")
    response = japi.post(f"/sites/demo/visits/{visit_id}/injection", gen_injection("1"), token=consent)
    assert_error(response, 403, "forbidden")
    detail = japi.get(f"/sites/demo/visits/{visit_id}").get_json()
    assert detail["visit"]["state"] == "called"
    assert [event["type"] for event in detail["events"]] == ["checked_in", "called", "consented", "called"]
    # the injection booth's own token may
    assert act(japi, visit_id, "injection", gen_injection("1"), token=tokens.station("injection")).get_json()[
        "visit"]["state"] == "observing"


def test_a_check_in_token_checks_in_but_cannot_call_next_or_act_at_consent(japi, tokens):
    checkin = tokens.station("checkin")
    before = japi.get("/sites/demo/snapshot").get_json()["seq"]
    visit = check_in(japi, token=checkin)
    assert visit["ticket"] == "A001"
    for station, desk in (("consent", "A"), ("injection", "1")):
        assert_error(japi.post(f"/sites/demo/stations/{station}/call-next", {"desk": desk}, token=checkin), 403,
                     "forbidden")
    call_next(japi, "consent", "A")
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("A"), token=checkin), 403)
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/start", {"desk": "A"}, token=checkin), 403)
    # and only check-in (and supervisors) check people in
    for token in (tokens.station("consent"), tokens.station("injection")):  # not at their station
        assert_error(japi.post("/sites/demo/visits", gen_checkin(), token=token), 403, "forbidden")
    # a display never checks anyone in: refused at the door
    assert_error(japi.post("/sites/demo/visits", gen_checkin(), token=tokens.display), 403, "role_forbidden")
    assert japi.get("/sites/demo/snapshot").get_json()["seq"] == before + 2  # the check-in and the call


def test_a_display_token_reads_snapshot_and_site_but_no_visit(japi, tokens):
    visit = check_in(japi)
    display = tokens.display
    snapshot = japi.get("/sites/demo/snapshot", token=display)
    assert snapshot.status_code == 200
    assert snapshot.get_json()["stations"]["consent"]["waiting"] == 1
    assert japi.get("/sites/demo", token=display).status_code == 200
    assert_error(japi.get("/sites/demo/visits", token=display), 403, "role_forbidden")
    assert_error(japi.get("/sites/demo/visits", token=display, station="consent", state="waiting"), 403)
    assert_error(japi.get(f"/sites/demo/visits/{visit['id']}", token=display), 403, "role_forbidden")
    assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, token=display), 403)
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/cancel", {"reason": "x"}, token=display), 403)


def test_a_station_token_lists_only_its_own_station(japi, tokens):
    to_injection_queue(japi)
    check_in(japi)
    consent = tokens.station("consent")
    own = japi.get("/sites/demo/visits", token=consent, state="waiting").get_json()["visits"]
    assert [visit["station"] for visit in own] == ["consent"]  # defaults to its own station
    assert_error(japi.get("/sites/demo/visits", token=consent, station="injection"), 403, "forbidden")
    injection = japi.get("/sites/demo/visits", token=tokens.station("injection"), station="injection")
    assert [visit["station"] for visit in injection.get_json()["visits"]] == ["injection"]


def test_tokens_of_one_site_cannot_read_or_act_on_another(japi, tokens, services, tmp_path):
    load_site_variant(services, tmp_path, "north")
    before = japi.get("/sites/demo/snapshot").get_json()["seq"]
    demo_visit = check_in(japi)
    north_visit = check_in(japi, "north")
    assert north_visit["ticket"] == "A001"  # tickets count per site
    north_tokens = {
        "display": tokens.make("display", site="north"),
        "station": tokens.make("station", site="north", station="consent"),
        "supervisor": tokens.make("site_supervisor", site="north"),
    }
    for role, token in north_tokens.items():
        for path in ("/sites/demo", "/sites/demo/snapshot", "/sites/demo/visits",
                     f"/sites/demo/visits/{demo_visit['id']}"):
            # the display role never lists visits (refused at the door); the others not at this site
            assert_error(japi.get(path, token=token), 403,
                         "role_forbidden" if role == "display" and "/visits" in path else "forbidden")
        assert_error(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, token=token), 403)
        assert_error(japi.post(f"/sites/demo/visits/{demo_visit['id']}/cancel", {"reason": "x"}, token=token), 403)
        assert_error(japi.post("/sites/demo/visits", gen_checkin(), token=token), 403)
    for token in (tokens.display, tokens.station("consent"), tokens.supervisor):
        assert_error(japi.get("/sites/north/snapshot", token=token), 403, "forbidden")
        assert_error(japi.get("/sites/north", token=token), 403, "forbidden")
        assert_error(japi.get(f"/sites/north/visits/{north_visit['id']}", token=token), 403)
    # each reads its own
    assert japi.get("/sites/north/snapshot", token=north_tokens["display"]).status_code == 200
    assert japi.get(f"/sites/north/visits/{north_visit['id']}", token=north_tokens["station"]).status_code == 200
    # the demo site saw nothing of those attempts
    assert japi.get("/sites/demo/snapshot").get_json()["seq"] == before + 1  # its own check-in only
    # and a visit of one site is not found through another
    assert_error(japi.get(f"/sites/demo/visits/{north_visit['id']}"), 404)
    assert_error(japi.post(f"/sites/demo/visits/{north_visit['id']}/cancel", {"reason": "x"}), 404)


# --- privacy ------------------------------------------------------------------------------------

NAME = "王小明"
PHONE = "13800138000"


def _assert_masked(visit: dict, document_number: str) -> None:
    person = visit["person"]
    assert person["name"] == "王*明"
    assert person["document_last4"] == document_number[-4:]
    assert "document_number" not in person
    assert "birth_date" not in person
    assert person["phone"] == "*******8000"


def _assert_no_personal_data(response, document_number: str) -> None:
    text = response.get_data(as_text=True)
    for secret in (document_number, NAME, PHONE, json.dumps(NAME)[1:-1]):
        assert secret not in text, f"{response.request.method} {response.request.path} leaks {secret!r}"


def test_station_tokens_see_a_masked_person_in_every_visit_response(japi, tokens, clock):
    checkin, consent, injection, observation = (tokens.station(name) for name in
                                                ("checkin", "consent", "injection", "observation"))
    body = gen_checkin(name=NAME, phone=PHONE)
    number = body["document_number"]
    responses = []

    created = japi.post("/sites/demo/visits", body, token=checkin)
    assert created.status_code == 201
    responses.append(created)
    visit_id = created.get_json()["visit"]["id"]
    responses.append(japi.post("/sites/demo/stations/consent/call-next", {"desk": "A"}, token=consent))
    responses.append(act(japi, visit_id, "recall", token=consent))
    responses.append(act(japi, visit_id, "start", {"desk": "A"}, token=consent))
    responses.append(act(japi, visit_id, "consent", gen_consent("A"), token=consent))
    responses.append(japi.get("/sites/demo/visits", token=injection, station="injection"))
    responses.append(japi.post("/sites/demo/stations/injection/call-next", {"desk": "1"}, token=injection))
    responses.append(act(japi, visit_id, "injection", gen_injection("1"), token=injection))
    responses.append(japi.get(f"/sites/demo/visits/{visit_id}", token=observation))
    responses.append(japi.get("/sites/demo/visits", token=observation))
    clock.advance(minutes=30)
    responses.append(act(japi, visit_id, "release", token=observation))
    responses.append(japi.get(f"/sites/demo/visits/{visit_id}", token=checkin))

    for response in responses:
        assert response.status_code in (200, 201), (response.request.path, response.get_json())
        body_json = response.get_json()
        visits = body_json.get("visits") or [body_json["visit"]]
        assert visits
        for visit in visits:
            _assert_masked(visit, number)
        _assert_no_personal_data(response, number)
    detail = responses[-1].get_json()
    assert detail["events"] and all("data" not in event for event in detail["events"])
    assert "answers" not in detail["visit"]["consent"]
    # nor does an error tell a station more
    again = japi.post("/sites/demo/visits", dict(body, document_number=number), token=checkin)
    assert_error(again, 409, "already_vaccinated_today", "document_number")
    _assert_no_personal_data(again, number)
    second = gen_checkin(name=NAME, phone=PHONE)
    assert japi.post("/sites/demo/visits", second, token=checkin).status_code == 201
    duplicate = japi.post("/sites/demo/visits", second, token=checkin)
    assert_error(duplicate, 409, "duplicate_visit", "document_number")
    _assert_no_personal_data(duplicate, second["document_number"])
    # masking of other name shapes
    for name, masked in [("张三", "张*"), ("欧阳娜娜", "欧**娜"), ("Anna Smith", "A********h"), ("李", "*")]:
        visit = check_in(japi, token=checkin, name=name)
        assert visit["person"]["name"] == masked, name


def test_a_supervisor_sees_the_full_record_and_the_event_data(japi, tokens):
    body = gen_checkin(name=NAME, phone=PHONE)
    created = japi.post("/sites/demo/visits", body, token=tokens.supervisor)
    assert created.status_code == 201
    person = created.get_json()["visit"]["person"]
    assert person["name"] == NAME and person["document_number"] == body["document_number"]
    born = body["document_number"][6:14]
    assert person["phone"] == PHONE and person["birth_date"] == f"{born[:4]}-{born[4:6]}-{born[6:]}"
    visit_id = created.get_json()["visit"]["id"]
    call_next(japi, "consent", "A", token=tokens.supervisor)
    act(japi, visit_id, "consent", gen_consent("A", signature="data:image/png;base64,iVBORw0KGgo="),
        token=tokens.supervisor)
    detail = japi.get(f"/sites/demo/visits/{visit_id}", token=tokens.supervisor).get_json()
    assert detail["visit"]["person"]["document_number"] == body["document_number"]
    assert detail["visit"]["consent"]["answers"] == gen_consent()["answers"]
    events = detail["events"]
    assert all("data" in event for event in events)
    assert events[0]["data"]["person"]["document_number"] == body["document_number"]
    assert events[0]["data"]["ticket"] == "A001"
    assert events[0]["actor"] == "site_supervisor:site_supervisor-demo"
    # the signature image itself is not echoed back
    assert events[2]["data"]["consent"]["signature"] == "(stored)"


def test_pages_speak_chinese_or_english_as_the_device_chooses(client):
    chinese = client.get("/login?lang=zh_Hans", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "登录" in chinese and 'lang="zh-Hans"' in chinese
    # the choice sticks to the device (session) ...
    assert "用户名" in client.get("/login", headers={"Accept": "text/html"}).get_data(as_text=True)
    english = client.get("/login?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Sign in" in english and "登录" not in english
    # ... and without a choice the browser's language decides
    fresh = client.application.test_client()
    page = fresh.get("/login", headers={"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9"})
    assert "Username" in page.get_data(as_text=True)


def _signed_in(client, services, username: str, **account) -> str:
    """Create an account, sign in through the form; returns the page's CSRF token."""
    from app.flow import accounts

    accounts.create_user(services, actor="test", username=username, display_name=username,
                         password="a-long-password", **account)
    page = client.get("/login", headers={"Accept": "text/html"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"username": username, "password": "a-long-password", "csrf_token": csrf})
    assert answer.status_code == 302
    page = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def test_station_staff_move_the_tablet_between_their_own_stations_only(client, services):
    csrf = _signed_in(client, services, "nurse.wu", role="station", sites=["demo"], stations=["consent", "injection"])
    headers = {"X-CSRFToken": csrf}
    assert client.get("/api/v1/me").get_json()["station"] == "consent"  # the first of theirs
    assert client.post("/account/station", json={"station": "injection"}, headers=headers).get_json() == {
        "station": "injection"}
    assert client.get("/api/v1/me").get_json()["station"] == "injection"
    refused = client.post("/account/station", json={"station": "exit"}, headers=headers)
    assert refused.status_code == 422 and "station" in refused.get_json()["error"]["fields"]
    assert client.get("/api/v1/me").get_json()["station"] == "injection"
    # now at injection, the consent desk's actions are refused
    assert client.post("/api/v1/sites/demo/stations/consent/call-next", json={"desk": "A"},
                       headers=headers).status_code == 403
    assert client.post("/api/v1/sites/demo/stations/injection/call-next", json={"desk": "1"},
                       headers=headers).status_code == 204
