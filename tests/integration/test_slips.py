"""Printed slips: the ticket slip and the observation slip show what the person needs, a QR code,
and nothing personal; they print on 58 mm, 80 mm or A4."""
from __future__ import annotations

from tests.support.api import (
    act,
    call_next,
    check_in,
    checker,
    japi,
    to_observation,
)
from tests.support.factories import gen_checkin

HTML = {"Accept": "text/html"}
NAME, PHONE = "<b>慕容秘密</b>", "13655556666"


def _get(client, path: str, token: str, **params):
    return client.get(path, headers={**HTML, "Authorization": f"Bearer {token}"}, query_string=params)


def test_the_ticket_slip_shows_the_number_and_a_qr_code_and_nothing_personal(japi, client, tokens):
    body = gen_checkin(name=NAME, phone=PHONE)
    visit = japi.post("/sites/demo/visits", body).get_json()["visit"]
    page = _get(client, f"/sites/demo/visits/{visit['id']}/slips/ticket", tokens.station("checkin"))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and visit["ticket"] in text
    assert "<svg" in text and "qrline" in text  # the QR code, inline
    svg = text[text.index("<svg"):text.index(">", text.index("<svg"))]
    assert 'viewBox="0 0 ' in svg and "width=" not in svg  # it scales to the paper's CSS (issue 16)
    assert "09:00" in text  # the site's local time (Asia/Shanghai)
    for secret in ("慕容秘密", body["document_number"], body["document_number"][-4:], PHONE):
        assert secret not in text
    assert 'href="/static/css/slip-80.css"' in text  # the default paper
    for paper in ("58", "a4"):
        assert f"slip-{paper}.css" in _get(client, f"/sites/demo/visits/{visit['id']}/slips/ticket",
                                           tokens.station("checkin"), paper=paper).get_data(as_text=True)
    unknown = _get(client, f"/sites/demo/visits/{visit['id']}/slips/ticket", tokens.station("checkin"), paper="../../etc")
    assert unknown.status_code == 422 and "../../etc" not in unknown.get_data(as_text=True)


def test_the_observation_slip_says_when_the_person_may_leave(japi, client, tokens):
    visit_id = to_observation(japi, name=NAME)
    slip = _get(client, f"/sites/demo/visits/{visit_id}/slips/observation", tokens.station("injection"),
                lang="zh_Hans").get_data(as_text=True)
    assert "留观" in slip and "09:30" in slip and "202610A127" in slip
    assert "新型冠状病毒灭活疫苗" in slip
    assert "慕容秘密" not in slip
    english = _get(client, f"/sites/demo/visits/{visit_id}/slips/observation", tokens.station("injection"),
                   lang="en").get_data(as_text=True)
    assert "You may leave at" in english and "09:30" in english


def test_there_is_no_observation_slip_before_the_injection(japi, client, tokens):
    visit = check_in(japi)
    answer = client.get(f"/sites/demo/visits/{visit['id']}/slips/observation",
                        headers={"Authorization": f"Bearer {tokens.admin}", "Accept": "application/json"})
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "not_observing"


def test_displays_print_no_slips(japi, client, tokens):
    visit = check_in(japi)
    answer = client.get(f"/sites/demo/visits/{visit['id']}/slips/ticket",
                        headers={"Authorization": f"Bearer {tokens.display}", "Accept": "application/json"})
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "role_forbidden"
    unknown = client.get("/sites/demo/visits/nope/slips/ticket",
                         headers={"Authorization": f"Bearer {tokens.admin}", "Accept": "application/json"})
    assert unknown.status_code == 404
