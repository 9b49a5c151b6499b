"""The person's live ticket on their phone (/t/<code>): its code, the public page, its limits,
and the staff's ways to a visit from a scanned slip."""
from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.domain.phone_ticket import new_code
from app.store.tables import ticket_codes
from tests.support.api import act, assert_error, call_next, check_in
from tests.support.factories import gen_checkin, gen_consent, gen_injection

CHECK_IN = "/sites/demo/visits"


def checked_in(japi, **overrides) -> tuple[dict, str, str]:
    """(visit, the phone ticket's URL, its code)."""
    response = japi.post(CHECK_IN, gen_checkin(**overrides))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    url = body["ticket_page"]["url"]
    return body["visit"], url, url.rsplit("/t/", 1)[1]


def page_text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_check_in_gives_a_128_bit_code_that_is_stored_only_as_its_hash(japi, services):
    visit, url, code = checked_in(japi)
    assert url == f"http://localhost/t/{code}"
    assert len(base64.urlsafe_b64decode(code + "==")) == 16  # 128 bits
    with services.store.engine.connect() as conn:
        rows = conn.execute(select(ticket_codes)).all()
    assert [(row.visit_id, row.code_hash) for row in rows] == [(visit["id"], hashlib.sha256(code.encode()).hexdigest())]
    assert code not in repr([tuple(row) for row in rows])
    # Valid to the end of the site's day (Asia/Shanghai) plus its grace period (120 min by default).
    expires = datetime.fromisoformat(japi.post(f"/sites/demo/visits/{visit['id']}/ticket-code").get_json()
                                     ["ticket_page"]["expires_at"])
    day = datetime.fromisoformat(visit["checked_in_at"]).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert expires == datetime.combine(day + timedelta(days=1), datetime.min.time(),
                                       tzinfo=ZoneInfo("Asia/Shanghai")) + timedelta(minutes=120)
    assert new_code() != new_code()


def test_someone_turned_away_gets_no_phone_ticket(japi):
    response = japi.post(CHECK_IN, gen_checkin(health_code="red"))
    assert response.status_code == 201
    assert response.get_json().get("ticket_page") is None


def test_the_page_is_public_names_the_ticket_and_nothing_personal(client, japi):
    person = gen_checkin(name="欧阳小明", phone="13912345678")
    visit, _, code = checked_in(japi, **{k: person[k] for k in ("name", "phone", "document_number")})
    page = client.get(f"/t/{code}", headers={"Accept-Language": "en"})  # no token, no session
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert visit["ticket"] in text and "Riverside Community Vaccination Site" in text
    assert "Waiting for Consent" in page_text(page) and "You are next" in page_text(page)
    for secret in (person["name"], person["phone"], person["document_number"], person["document_number"][-4:],
                   visit["id"]):
        assert secret not in text
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    assert '<meta name="robots" content="noindex' in text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in page.headers  # nothing to remember about whoever opened it
    assert f'http-equiv="refresh" content="20;url=/t/{code}?refresh=1"' in text  # works without JavaScript


def test_the_page_is_in_the_phones_language_and_switches(client, japi):
    _, _, code = checked_in(japi)
    chinese = client.get(f"/t/{code}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "滨江社区新冠疫苗临时接种点" in chinese.get_data(as_text=True)
    assert "等候知情同意" in page_text(chinese)
    english = client.get(f"/t/{code}?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "Waiting for Consent" in page_text(english)


def test_wrong_expired_revoked_and_malformed_codes_give_the_same_404(client, japi, clock):
    visit, _, revoked = checked_in(japi)
    assert japi.post(f"/sites/demo/visits/{visit['id']}/ticket-code").status_code == 201  # a lost slip: a new code
    _, _, expiring = checked_in(japi)
    for accept in ("text/html", "application/json"):  # a phone's browser, a script
        get = lambda path: client.get(path, headers={"Accept": accept})  # noqa: E731
        pages = {"revoked": get(f"/t/{revoked}"), "wrong": get(f"/t/{new_code()}"), "malformed": get("/t/not-a-code"),
                 "unknown address": get("/t-nothing-here")}
        with_expired = clock.now()
        clock.advance(seconds=2 * 86400)
        pages["expired"] = get(f"/t/{expiring}")
        clock.set(with_expired)
        assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 404)
        shown = {(page.content_type, page_text(page)) for page in pages.values()}
        assert len(shown) == 1, accept  # no hint of which


def test_the_page_follows_the_person_through_the_day(client, japi, clock):
    first, _, _ = checked_in(japi)
    _, _, second = checked_in(japi)
    _, _, third = checked_in(japi)
    english = {"Accept-Language": "en"}
    assert "2 ahead of you" in page_text(client.get(f"/t/{third}", headers=english))
    assert call_next(japi, "consent", "A")["id"] == first["id"]
    act(japi, first["id"], "consent", gen_consent("A"))
    called = call_next(japi, "consent", "B")
    view = page_text(client.get(f"/t/{second}", headers=english))
    assert called["ticket"] in view and "Go to Consent now" in view and "Desk B" in view
    assert "You are next" in page_text(client.get(f"/t/{third}", headers=english))
    act(japi, called["id"], "consent", gen_consent("B"))
    assert "Waiting for Injection" in page_text(client.get(f"/t/{second}", headers=english))
    assert call_next(japi, "injection", "1")["id"] == first["id"]
    assert call_next(japi, "injection", "2")["id"] == called["id"]
    injected = act(japi, called["id"], "injection", gen_injection("2")).get_json()["visit"]
    leave_at = datetime.fromisoformat(injected["observation"]["leave_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
    observing = page_text(client.get(f"/t/{second}", headers=english))
    assert f"In observation: OK to leave at {leave_at:%H:%M}" in observing and "30:00" in observing
    assert "If you feel unwell" in observing and "raise your hand" in observing
    clock.advance(seconds=30 * 60)
    assert "you may go to the exit" in page_text(client.get(f"/t/{second}", headers=english))
    act(japi, called["id"], "release", {})
    done = client.get(f"/t/{second}", headers=english)
    assert "Done: you may leave" in page_text(done)
    assert 'id="emergency" role="note" hidden' in done.get_data(as_text=True)
    assert 'class="ticket-page step-done"' in done.get_data(as_text=True)


def test_wrong_codes_are_limited_per_address_and_other_addresses_are_not(client, japi):
    _, _, code = checked_in(japi)
    guesser = {"REMOTE_ADDR": "203.0.113.9"}
    statuses = [client.get(f"/t/{new_code()}", environ_base=guesser).status_code for _ in range(30)]
    assert statuses == [404] * 30
    assert client.get(f"/t/{new_code()}", environ_base=guesser).status_code == 429
    assert client.get(f"/t/{code}", environ_base=guesser).status_code == 429  # not even a right one: no oracle
    assert client.get(f"/t/{code}", environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200


def test_openings_are_counted_and_the_dashboard_shows_the_share_who_follow(client, japi, tokens):
    _, _, code = checked_in(japi)
    checked_in(japi)  # never scanned: staff call them all the same
    # The no-JS refresh and a switch of language are not scans.
    for path in (f"/t/{code}", f"/t/{code}", f"/t/{code}?refresh=1", f"/t/{code}?lang=en"):
        assert client.get(path).status_code == 200
    phone = japi.get("/sites/demo/dashboard", token=tokens.supervisor).get_json()["phone"]
    assert phone == {"tickets": 2, "followed": 1, "opens": 2, "share": 0.5}


def test_a_repeated_check_in_changes_nothing_and_a_new_code_is_asked_for(japi, client):
    body = gen_checkin()
    first = japi.post(CHECK_IN, body, key="checkin-key-0001")
    again = japi.post(CHECK_IN, body, key="checkin-key-0001")  # the answer to the first was lost
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "ticket_page" not in again.get_json()  # shown once; the first still works
    old = first.get_json()["ticket_page"]["url"].split("localhost", 1)[1]
    assert client.get(old).status_code == 200
    visit_id = again.get_json()["visit"]["id"]
    new = japi.post(f"/sites/demo/visits/{visit_id}/ticket-code").get_json()["ticket_page"]["url"]  # as the tablet does
    assert client.get(old).status_code == 404 and client.get(new.split("localhost", 1)[1]).status_code == 200


def test_staff_find_the_visit_of_a_scanned_slip_in_either_form(japi, tokens):
    visit, url, code = checked_in(japi)
    exit_desk = tokens.station("exit")
    for scanned in (url, f"  {url}\n", f"https://vax.example.org/t/{code}", code, f"siteflow:demo:{visit['id']}"):
        answer = japi.post("/sites/demo/slips/lookup", {"scanned": scanned}, token=exit_desk)
        assert answer.status_code == 200, scanned
        found = answer.get_json()["visit"]
        assert found["id"] == visit["id"] and "*" in found["person"]["name"]  # masked for a station
    assert_error(japi.post("/sites/demo/slips/lookup", {"scanned": f"http://localhost/t/{new_code()}"},
                           token=exit_desk), 404, "unknown_slip", "scanned")
    assert_error(japi.post("/sites/demo/slips/lookup", {"scanned": url}, token=tokens.display), 403)
    assert_error(japi.post("/sites/demo/slips/lookup", {}, token=exit_desk), 422, field="scanned")
    japi.post(f"/sites/demo/visits/{visit['id']}/ticket-code")  # the slip was lost and reprinted
    assert_error(japi.post("/sites/demo/slips/lookup", {"scanned": url}, token=exit_desk), 404, "unknown_slip")


def test_a_code_of_one_site_finds_nothing_at_another(japi, tokens, services, tmp_path):
    from tests.support.api import load_site_variant

    load_site_variant(services, tmp_path, "north")
    _, url, _ = checked_in(japi)
    assert_error(japi.post("/sites/north/slips/lookup", {"scanned": url}), 404, "unknown_slip")


def test_reprint_with_a_new_code_from_the_slips_page(client, japi, tokens):
    visit, _, old = checked_in(japi)
    checkin_desk = {"Authorization": f"Bearer {tokens.station('checkin')}"}
    supervisor = {"Authorization": f"Bearer {tokens.supervisor}"}
    listing = client.get("/sites/demo/slips", headers=supervisor).get_data(as_text=True)
    assert f"/sites/demo/visits/{visit['id']}/slips/ticket/new-code" in listing
    answer = client.post(f"/sites/demo/visits/{visit['id']}/slips/ticket/new-code", headers=checkin_desk)
    assert answer.status_code == 302
    new = re.search(r"code=([A-Za-z0-9_-]{22})", answer.headers["Location"]).group(1)
    slip = client.get(answer.headers["Location"], headers=checkin_desk).get_data(as_text=True)
    assert f"localhost/t/{new}" in slip and "扫码用手机查看叫号进度" in slip  # the site's language: Chinese
    assert client.get(f"/t/{old}").status_code == 404 and client.get(f"/t/{new}").status_code == 200
    # Only the check-in desk and supervisors give new codes; a code not in force prints the staff form.
    consent = {"Authorization": f"Bearer {tokens.station('consent')}"}
    assert client.post(f"/sites/demo/visits/{visit['id']}/slips/ticket/new-code", headers=consent).status_code == 403
    plain = client.get(f"/sites/demo/visits/{visit['id']}/slips/ticket?code={old}", headers=checkin_desk)
    assert "/t/" not in plain.get_data(as_text=True) and "扫码" not in plain.get_data(as_text=True)


def test_no_new_code_for_someone_who_has_left(japi):
    visit, _, _ = checked_in(japi)
    act(japi, visit["id"], "cancel", {"reason": "left"})
    assert_error(japi.post(f"/sites/demo/visits/{visit['id']}/ticket-code"), 409, "visit_closed")


def test_the_reprint_page_finds_a_slip_by_its_scanned_qr(client, japi, tokens):
    visit, url, _ = checked_in(japi)
    supervisor = {"Authorization": f"Bearer {tokens.supervisor}"}
    for scanned in (url, f"siteflow:demo:{visit['id']}"):
        found = client.get("/sites/demo/slips", query_string={"ticket": scanned}, headers=supervisor)
        assert found.status_code == 302 and f"/visits/{visit['id']}/slips/ticket" in found.headers["Location"]
    missing = client.get("/sites/demo/slips", query_string={"ticket": f"http://localhost/t/{new_code()}", "lang": "en"},
                         headers=supervisor)
    assert missing.status_code == 200 and "No ticket ? today." in page_text(missing)  # the code is not echoed
