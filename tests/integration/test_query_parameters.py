"""Query parameters are parsed by one model per route (app/web/params.py): every documented
parameter of every route, given a value a hand-written parser got wrong (unicode digits that
`str.isdigit()` accepts, dates at the ends of the calendar), answers a 4xx JSON error naming
that parameter, never a 500. Lists come a page at a time, with a `next` link, to the end."""
from __future__ import annotations

import random
import re

import pytest

from app.domain.permissions import Principal
from app.flow import visits as flow
from app.sim.people import person
from app.web.params import FIRST_DAY, LAST_DAY
from tests.support.api import checker, japi
from tests.support.factories import gen_checkin

HOSTILE = ["²", "①", "٣", "１２", "9999-12-31", "0001-01-01", "2026-02-30", "-1", "1e3", " 1 ", "99999999999999999999",
           "\u202e5", "x" * 300]


def _get_operations(app):
    with app.test_client() as client:
        document = client.get("/api/v1/openapi.json").get_json()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            names = [param["name"] for param in operation.get("parameters", []) if param["in"] == "query"]
            if method == "get" and names:
                yield "/api/v1" + path.replace("{site}", "demo"), names


def test_every_query_parameter_refuses_bad_values_by_name(app, client, tokens):
    operations = list(_get_operations(app))
    assert {path for path, _ in operations} >= {
        "/api/v1/sites/demo/visits", "/api/v1/audit", "/api/v1/sites/demo/reports/daily", "/api/v1/sites/demo/trend",
        "/api/v1/reports/city/daily", "/api/v1/reports/city/trend", "/api/v1/sites/demo/what-if", "/api/v1/users",
        "/api/v1/tokens"}
    headers = {"Authorization": f"Bearer {tokens.admin}"}
    checked = 0
    for path, names in operations:
        base = {"consent": "2", "injection": "2", "seats": "60"} if path.endswith("/what-if") else {}
        for name in names:
            for value in HOSTILE:
                answer = client.get(path, query_string={**base, name: value}, headers=headers)
                assert answer.status_code < 500, (path, name, value, answer.status_code)
                if answer.status_code >= 400:
                    error = answer.get_json()["error"]
                    assert name in error["fields"], (path, name, value, error)
                checked += 1
    assert checked > 200


@pytest.mark.parametrize("value", ["²", "①", "１２"])
def test_unicode_digits_are_not_numbers(japi, value):
    for path, name in (("/sites/demo/visits", "limit"), ("/sites/demo/trend", "days"), ("/audit", "before_id"),
                       ("/users", "after"), ("/tokens", "limit")):
        answer = japi.get(path, **{name: value})
        assert answer.status_code == 422
        assert "digits 0-9" in answer.get_json()["error"]["fields"][name]


def test_dates_outside_the_calendar_we_serve_are_refused_with_the_range(japi):
    for value in ("9999-12-31", "0001-01-01"):
        for path in ("/sites/demo/reports/daily", "/reports/city/daily", "/sites/demo/visits"):
            error = japi.get(path, date=value).get_json()["error"]
            assert error["fields"]["date"] == f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"
    assert japi.get("/sites/demo/reports/daily", date="2026-02-30").status_code == 422


def test_a_bad_audit_date_on_the_page_is_a_clear_error(app, client, services):
    from app.flow import accounts

    accounts.create_user(services, actor="test", username="boss", display_name="boss", role="admin",
                         password="lantern-orchard-river-7")
    services.store.staff.update_user(accounts.get_account(services, username="boss").id, at=services.clock.now(),
                                     must_change_password=False)
    page = client.get("/login", headers={"Accept": "text/html"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "boss", "password": "lantern-orchard-river-7", "csrf_token": csrf})
    for value in ("9999-12-31", "0001-01-01", "²"):
        answer = client.get("/audit", query_string={"until": value}, headers={"Accept": "text/html"})
        assert answer.status_code == 422, value
    assert client.get("/audit", query_string={"until": "2026-11-20"}, headers={"Accept": "text/html"}).status_code == 200


def test_paging_reaches_every_visit_of_a_5000_person_day(day_app):
    """On SQLite only: 5,000 check-ins through the flow take a while."""
    services = day_app.extensions["siteflow"]
    admin = Principal(name="test", role="admin")
    rng, today = random.Random(5), services.clock.now().date()
    for _ in range(5000):
        flow.check_in(services, admin, site_id="demo", **dict(person(rng, today=today), health_code="green"))
    client = day_app.test_client()
    from app.flow import tokens as token_flow

    token = token_flow.create_token(services, role="site_supervisor", site_id="demo", station=None, name="pages")
    headers = {"Authorization": f"Bearer {token}"}
    seen, link, pages = [], "/api/v1/sites/demo/visits?limit=500", 0
    while link:
        answer = client.get(link, headers=headers).get_json()
        seen += [row["ticket"] for row in answer["visits"]]
        link, pages = answer["next"], pages + 1
        assert len(answer["visits"]) <= 500
    assert pages == 10 and len(seen) == len(set(seen)) == 5000
    assert seen[:3] != seen[-3:]
    last = seen[-1]
    # the reprint search finds the last person of the day by ticket, without paging
    found = client.get("/api/v1/sites/demo/visits", query_string={"ticket": last}, headers=headers).get_json()
    assert [row["ticket"] for row in found["visits"]] == [last] and found["next"] is None
    # a forged cursor is a clear error
    bad = client.get("/api/v1/sites/demo/visits", query_string={"after": "7_x_y"}, headers=headers)
    assert bad.status_code == 422 and "after" in bad.get_json()["error"]["fields"]


def test_the_audit_trail_pages_by_its_next_link(japi, tokens):
    japi.post("/sites/demo/visits", gen_checkin())
    for _ in range(6):  # each full list a supervisor reads is audited
        japi.get("/sites/demo/visits", token=tokens.supervisor)
    first = japi.get("/audit", limit="3").get_json()
    assert len(first["entries"]) == 3 and first["next"]
    path, _, query = first["next"].partition("?")
    assert path == "/api/v1/audit"
    second = japi.get("/audit", **dict(part.split("=") for part in query.split("&"))).get_json()
    ids = [entry["id"] for entry in first["entries"] + second["entries"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
