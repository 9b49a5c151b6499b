"""The authorisation matrix, generated from the app itself: every (role, endpoint) pair and every
Socket.IO join is checked against the one table (app/domain/permissions.py RULES).

An endpoint without an access rule, or with an action the table does not know, fails here.
"""
from __future__ import annotations

import re

import pytest
from flask import Blueprint

from app.domain.permissions import RULES, Principal, allowed, role_may
from app.flow import accounts
from app.live import socketio
from app.live.handlers import EVENT_ACTIONS
from app.live.rooms import VIEWS
from app.web.access import PUBLIC, action_of
from tests.conftest import build_app
from tests.support.factories import gen_checkin

ROLES = ("admin", "city_supervisor", "site_supervisor", "station", "display")
JSON = {"Accept": "application/json"}
DOOR_CODES = {401: {"missing_token", "invalid_token"}, 403: {"role_forbidden", "no_access_rule"}}


def undeclared(app) -> list[str]:
    """Endpoints with no access rule, or with an action missing from the table."""
    problems = []
    for rule in app.url_map.iter_rules():
        action = action_of(app, rule.endpoint)
        if action is None:
            problems.append(f"{rule.rule} ({rule.endpoint}): no @requires/@public")
        elif action != PUBLIC and action not in RULES:
            problems.append(f"{rule.rule} ({rule.endpoint}): action {action!r} is not in RULES")
    return problems


# The reviewed specification: which action guards each endpoint. A new endpoint fails the test
# below until someone decides, here and in the view, what it needs.
SPECIFIED = {
    "api.audit_entries": "audit.read", "api.visit_call_next": "visit.call_next", "api.visit_check_in": "visit.check_in",
    "api.get_site": "site.read", "api.get_snapshot": "snapshot.read", "api.get_visit": "visit.read",
    "api.list_sites": "site.read", "api.list_visits": "visit.list", "api.me": "account.self",
    "api.openapi": PUBLIC, "api.visit_aefi": "visit.aefi", "api.visit_aefi_outcome": "visit.aefi_outcome",
    "api.visit_cancel": "visit.cancel", "api.visit_consent": "visit.consent", "api.visit_correct": "visit.correct",
    "api.visit_injection": "visit.injection", "api.visit_no_show": "visit.no_show",
    "api.visit_recall": "visit.recall", "api.visit_release": "visit.release", "api.visit_start": "visit.start",
    "api.visit_undo": "visit.undo", "api.list_users": "users.manage", "api.list_tokens": "tokens.read",
    "audit.audit_export": "audit.read", "audit.audit_page": "audit.read",
    "stations.station_page": "live.station", "stations.display_preview": "live.display",
    "stations.slips": "visit.list",
    "dashboards.dashboard": "dashboard.read", "dashboards.daily_report": "report.read", "dashboards.city": "report.read",
    "api.get_dashboard": "dashboard.read", "api.daily_report": "report.read", "api.city_report": "report.read",
    "api.city_trend": "report.read",
    "api.trend": "dashboard.read", "api.what_if": "dashboard.read",
    "auth.choose_station": "account.self", "auth.login": PUBLIC, "auth.login_pin": PUBLIC,
    "auth.login_submit": PUBLIC, "auth.logout": "account.self", "auth.password": "account.password",
    "auth.password_submit": "account.password", "auth.my_sessions": "account.self",
    "auth.end_my_session": "account.self",
    "devices.devices": "devices.manage", "devices.pair_display": "devices.manage",
    "devices.revoke_display": "devices.manage",
    # the TV: no account and no personal data (the pairing secret is the capability)
    "devices.display": PUBLIC, "devices.pair": PUBLIC, "devices.pair_collect": PUBLIC, "devices.pair_start": PUBLIC,
    "health.healthz": PUBLIC, "home.index": "account.self", "static": PUBLIC,
    "slips.ticket_slip": "visit.read", "slips.observation_slip": "visit.read",
    # the person's phone ticket: the code is the capability, and it shows nothing personal
    "tickets.ticket": PUBLIC,
    # a lost slip gets a new phone code; a scanned slip is looked up for staff
    "slips.ticket_slip_new_code": "ticket.reissue", "api.new_ticket_code": "ticket.reissue",
    "api.lookup_slip": "visit.read",
    # bookings: imported by those who run the site, found and changed at the check-in desk
    "api.import_appointments": "appointments.import", "api.list_appointments": "appointments.read",
    "api.appointments_summary": "appointments.read", "api.lookup_appointment": "appointments.find",
    "api.cancel_appointment": "appointments.manage", "api.rebook_appointment": "appointments.manage",
    "appointments.bookings": "appointments.read", "appointments.cancel": "appointments.manage",
    "appointments.rebook": "appointments.manage",
    "appointments.confirmation": "appointments.find",
    "users.add_user": "users.manage", "users.reset_password": "users.manage", "users.set_active": "users.manage",
    "users.end_sessions": "users.manage",
    "users.users": "users.manage",
    # the day's immunizations for the registry, everyone in full: supervisors only
    "api.export_immunizations": "exports.immunizations",
    "api.stock_sheet": "stock.read", "api.stock_lots": "stock.read", "api.stock_receipts": "stock.receive",
    "api.stock_moves": "stock.move", "api.stock_waste": "stock.waste", "api.stock_counts": "stock.count",
    "api.stock_vials": "stock.open_vial", "api.stock_explanations": "stock.explain",
    "api.stock_close": "stock.close",
    # the supervisor's stock page: read with stock.read (the injection station too, read-only but for
    # waste); each form posts to a route guarded by its command's rule
    "stock_pages.stock_page": "stock.read", "stock_pages.receive": "stock.receive", "stock_pages.move": "stock.move",
    "stock_pages.waste": "stock.waste", "stock_pages.count": "stock.count", "stock_pages.explain": "stock.explain",
    "stock_pages.close": "stock.close",
}


def test_every_endpoint_has_the_specified_rule_from_the_table(app):
    assert undeclared(app) == []
    declared = {rule.endpoint: action_of(app, rule.endpoint) for rule in app.url_map.iter_rules()}
    assert declared == SPECIFIED


def test_an_endpoint_added_without_a_rule_is_caught_and_refused(sqlite_url, clock):
    app = build_app(sqlite_url, clock)
    extra = Blueprint("extra", __name__)

    @extra.get("/extra/records")
    def records():
        return {"everything": "for everyone"}

    app.register_blueprint(extra)
    assert [problem for problem in undeclared(app) if "/extra/records" in problem]
    answer = app.test_client().get("/extra/records", headers=JSON)
    assert answer.status_code == 403 and answer.get_json()["error"]["code"] == "no_access_rule"
    app.extensions["siteflow_live"].stop()


# --- every (role, endpoint, method), over bearer tokens and over staff sessions ----------------

def _station_for(action: str) -> str:
    stations = RULES[action].stations if action in RULES else ()
    return stations[0] if stations else "consent"


def _path(rule, *, visit_id: str, station: str) -> str:
    values = {}
    for name in rule.arguments:
        values[name] = {"site": "demo", "visit_id": visit_id, "station": station, "token_id": 999_999,
                        "session_id": 999_999, "username": "nobody-here"}.get(name, "x")
    return rule.build(values, append_unknown=False)[1]


def _cases(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "auth.logout", r.rule)):
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, action_of(app, rule.endpoint)


def _door_refusal(response) -> str | None:
    if response.status_code not in DOOR_CODES or not response.is_json:
        return None
    code = (response.get_json().get("error") or {}).get("code")
    return code if code in DOOR_CODES[response.status_code] else None


def _call(client, method: str, path: str, headers: dict):
    return client.open(path, method=method, headers={**JSON, **headers}, json={} if method == "POST" else None)


def test_every_role_meets_the_table_at_every_endpoint_with_a_token(app, client, tokens, services):
    visit_id = client.post("/api/v1/sites/demo/visits", json=gen_checkin(),
                           headers={"Authorization": f"Bearer {tokens.admin}"}).get_json()["visit"]["id"]
    checked = []
    for rule, method, action in _cases(app):
        station = _station_for(action)
        for role in ROLES:
            token = tokens.make(role, site="demo" if role in ("site_supervisor", "station", "display") else None,
                                station=station if role == "station" else None)
            response = _call(client, method, _path(rule, visit_id=visit_id, station=station),
                             {"Authorization": f"Bearer {token}"})
            refusal = _door_refusal(response)
            expected = action == PUBLIC or role_may(role, action)
            assert response.status_code < 500, (role, method, rule.rule, response.get_data(as_text=True)[:300])
            if expected:
                assert refusal is None, (role, method, rule.rule, action, refusal)
            else:
                assert refusal == "role_forbidden", (role, method, rule.rule, action, response.status_code)
            checked.append((role, rule.rule, method))
        # and nobody at all: public endpoints answer, the others ask to sign in
        anonymous = _call(app.test_client(), method, _path(rule, visit_id=visit_id, station=station), {})
        if action == PUBLIC:
            assert _door_refusal(anonymous) is None, (method, rule.rule)
        else:  # pages send the browser to the sign-in page instead
            sent_to_sign_in = anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
            assert _door_refusal(anonymous) == "missing_token" or sent_to_sign_in, (method, rule.rule)
    assert len(checked) >= 5 * 30


def _session_client(app, services, role: str, station: str):
    username = f"{role.replace('_', '-')}-{station}"
    if accounts.get_account(services, username=username) is None:
        accounts.create_user(
            services, actor="test", username=username, display_name=username, role=role,
            sites=["demo"] if role in ("site_supervisor", "station") else [],
            stations=[station] if role == "station" else [], password="matrix-password",
        )
    client = app.test_client()
    page = client.get("/login", headers={"Accept": "text/html"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed_in = client.post("/login", data={"username": username, "password": "matrix-password",
                                            "csrf_token": csrf, "station": station})
    assert signed_in.status_code == 302
    home = client.get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    return client, re.search(r'<meta name="csrf-token" content="([^"]+)"', home).group(1)


def test_every_staff_role_meets_the_table_at_every_endpoint_when_signed_in(app, services, tokens):
    visit_id = app.test_client().post("/api/v1/sites/demo/visits", json=gen_checkin(), headers={
        "Authorization": f"Bearer {tokens.admin}"}).get_json()["visit"]["id"]
    sessions = {}
    for rule, method, action in _cases(app):
        station = _station_for(action)
        for role in ("admin", "city_supervisor", "site_supervisor", "station"):  # displays do not sign in
            key = (role, station if role == "station" else "")
            if key not in sessions or rule.endpoint == "auth.logout":
                sessions[key] = _session_client(app, services, role, station)
            client, csrf = sessions[key]
            response = _call(client, method, _path(rule, visit_id=visit_id, station=station), {"X-CSRFToken": csrf})
            assert response.status_code < 500, (role, method, rule.rule, response.get_data(as_text=True)[:300])
            refusal = _door_refusal(response)
            if action == PUBLIC or role_may(role, action):
                assert refusal is None, (role, method, rule.rule, action, refusal)
            else:
                assert refusal == "role_forbidden", (role, method, rule.rule, action, response.status_code)


# --- Socket.IO ----------------------------------------------------------------------------------

def test_every_socketio_event_is_in_the_table():
    registered = set(socketio.server.handlers["/"])
    assert registered == set(EVENT_ACTIONS), registered ^ set(EVENT_ACTIONS)
    assert set(EVENT_ACTIONS["join"]) == set(VIEWS)
    assert all(action in RULES for action in EVENT_ACTIONS["join"].values())


@pytest.mark.parametrize("role", ROLES)
def test_every_role_joins_exactly_the_views_the_table_allows(app, tokens, role):
    site_bound = role in ("site_supervisor", "station", "display")
    token = tokens.make(role, site="demo" if site_bound else None, station="consent" if role == "station" else None)
    principal = Principal("p", role, sites=frozenset({"demo"}) if site_bound else None,
                          station="consent" if role == "station" else None)
    for view in VIEWS:
        join = {"view": view} if view == "city" else {"view": view, "site": "demo", "station": "consent"}
        expected = allowed(principal, EVENT_ACTIONS["join"][view], site="*" if view == "city" else "demo",
                           station="consent" if view == "station" else None)
        client = socketio.test_client(app, auth={"token": token})
        assert client.is_connected()
        ack = client.emit("join", join, callback=True)
        assert ack["ok"] is expected, (role, view, ack)
        if client.is_connected():
            client.disconnect()


def test_a_socket_without_a_token_or_session_is_refused(app):
    client = socketio.test_client(app)
    assert not client.is_connected()
