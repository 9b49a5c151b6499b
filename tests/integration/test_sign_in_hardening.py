"""Guessing, forging and leaking: CSRF, rate limits, sessions, cookies, and what a display can read."""
from __future__ import annotations

import json
import logging
import re
import socket
import uuid

import pytest

from app import create_app
from app.flow import accounts
from app.live import socketio
from app.store.tables import audit_log, visits
from app.web.limits import limiter
from tests.conftest import TEST_DATA_KEY, TEST_LOOKUP_KEY, build_app
from tests.support.factories import gen_checkin, gen_consent, gen_injection

HTML = {"Accept": "text/html"}
PASSWORD = "correct-horse-1"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(client, username: str, password: str = PASSWORD):
    csrf = _csrf(client.get("/login", headers=HTML).get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})


def _user(services, username: str, role: str = "site_supervisor", **scope) -> None:
    scope.setdefault("sites", ["demo"] if role in ("site_supervisor", "station") else [])
    accounts.create_user(services, actor="test", username=username, display_name=username, role=role,
                         password=PASSWORD, **scope)


def _page_csrf(client) -> str:
    home = client.get("/", headers=HTML).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', home).group(1)


def _audit_actions(services) -> list[str]:
    with services.store.engine.connect() as conn:
        return [row.action for row in conn.execute(audit_log.select().order_by(audit_log.c.id))]


def _visit_count(services) -> int:
    with services.store.engine.connect() as conn:
        return len(conn.execute(visits.select()).all())


# --- CSRF ------------------------------------------------------------------------------------------

def test_cookie_sessions_need_the_csrf_token_and_bearer_tokens_do_not(client, services, tokens):
    _user(services, "chen")
    assert _login(client, "chen").status_code == 302
    refused = client.post("/api/v1/sites/demo/visits", json=gen_checkin())
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    assert _visit_count(services) == 0  # nothing recorded
    forged = client.post("/api/v1/sites/demo/visits", json=gen_checkin(), headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400 and _visit_count(services) == 0
    accepted = client.post("/api/v1/sites/demo/visits", json=gen_checkin(), headers={"X-CSRFToken": _page_csrf(client)})
    assert accepted.status_code == 201
    assert accepted.get_json()["visit"]["id"]
    # a bearer request carries no ambient authority: no CSRF token needed
    other = client.application.test_client()
    assert other.post("/api/v1/sites/demo/visits", json=gen_checkin(),
                      headers={"Authorization": f"Bearer {tokens.admin}"}).status_code == 201


def test_the_sign_in_form_itself_needs_the_csrf_token(client, services):
    _user(services, "chen")
    client.get("/login", headers=HTML)
    answer = client.post("/login", data={"username": "chen", "password": PASSWORD}, headers=HTML)
    assert answer.status_code == 400
    assert "reload the page" in answer.get_data(as_text=True) or "刷新页面" in answer.get_data(as_text=True)


# --- guessing ----------------------------------------------------------------------------------------

def test_the_sixth_failure_in_a_minute_locks_the_account_at_that_address_and_says_when_to_retry(app, client,
                                                                                                   services):
    _user(services, "chen")
    _user(services, "wang")
    for attempt in range(5):
        assert _login(client, "chen", f"wrong-{attempt}").status_code == 401
    locked = _login(client, "chen", PASSWORD)
    assert locked.status_code == 429  # even with the right password
    page = locked.get_data(as_text=True)
    assert re.search(r"(Try again in|请在) ?\d+", page), page  # when to come back, on the sign-in page
    assert _login(client, "CHEN ", PASSWORD).status_code == 429  # the same account, however typed
    # another account from the same address is not locked out
    assert _login(app.test_client(), "wang").status_code == 302
    actions = _audit_actions(services)
    assert actions.count("auth.login_failed") == 5 and actions.count("auth.locked") == 2


def test_a_site_behind_one_nat_address_is_not_locked_out_by_one_colleague(app, services):
    """40 tablets share one address: one colleague mistyping locks only their own account."""
    for number in range(40):
        _user(services, f"nurse{number:02d}", role="station", stations=["consent"])
    clumsy = app.test_client()
    for attempt in range(8):
        assert _login(clumsy, "nurse00", f"wrong-{attempt}").status_code in (401, 429)
    assert _login(clumsy, "nurse00").status_code == 429
    for number in range(1, 40):
        assert _login(app.test_client(), f"nurse{number:02d}").status_code == 302


def test_one_account_guessed_from_many_addresses_is_locked_for_the_hour(app, services):
    _user(services, "chen")
    for number in range(30):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.{number}.7"
        assert _login(client, "chen", f"wrong-{number}").status_code == 401
    fresh = app.test_client()
    fresh.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert _login(fresh, "chen").status_code == 429


def test_signing_in_works_with_process_local_limits_when_redis_is_down(sqlite_url, clock, caplog):
    with socket.socket() as probe:  # a port where no Redis listens
        probe.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    app = build_app(sqlite_url, clock, RATELIMIT_STORAGE_URI=dead)
    try:
        _user(app.extensions["siteflow"], "chen")
        with caplog.at_level(logging.WARNING):
            assert _login(app.test_client(), "chen", "wrong-password").status_code == 401
            assert _login(app.test_client(), "chen").status_code == 302
        for attempt in range(4):  # the limits still hold, in this process
            _login(app.test_client(), "chen", f"wrong-{attempt}")
        assert _login(app.test_client(), "chen").status_code == 429
    finally:
        app.extensions["siteflow_live"].stop()
        app.extensions["siteflow"].store.engine.dispose()


def test_successful_sign_ins_do_not_count_towards_the_limit(app, services):
    _user(services, "chen")
    for _ in range(12):
        assert _login(app.test_client(), "chen").status_code == 302


def test_the_limit_is_shared_by_every_process_through_redis(sqlite_url, clock, redis_server):
    prefix = f"test-{uuid.uuid4().hex}"
    apps = []
    for _ in range(2):
        app = create_app({"TESTING": True, "DATABASE_URL": sqlite_url, "CLOCK": clock, "SECRET_KEY": "s",
                          "DATA_KEYS": TEST_DATA_KEY, "LOOKUP_KEY": TEST_LOOKUP_KEY,
                          "RATELIMIT_STORAGE_URI": redis_server.url, "RATELIMIT_KEY_PREFIX": prefix})
        apps.append(app)
    from app.flow import sites as site_flow
    from app.store.migrate import upgrade
    from tests.conftest import DEMO_SITE

    services = apps[0].extensions["siteflow"]
    upgrade(services.store.engine)
    site_flow.load_site_file(services, DEMO_SITE)
    _user(services, "chen")
    for attempt in range(5):
        client = apps[attempt % 2].test_client()  # failures in both processes, five in all
        assert _login(client, "chen", f"wrong-{attempt}").status_code == 401
    assert _login(apps[0].test_client(), "chen").status_code == 429
    assert _login(apps[1].test_client(), "chen").status_code == 429
    for app in apps:
        app.extensions["siteflow_live"].stop()
        app.extensions["siteflow"].store.engine.dispose()


def test_five_wrong_pins_lock_the_pin_until_a_password_sign_in(app, services):
    _user(services, "nurse", role="station", stations=["consent"], pin="2468")
    tablet = app.test_client()
    assert _login(tablet, "nurse").status_code == 302  # the device becomes a tablet of the site
    csrf = _page_csrf(tablet)
    tablet.post("/logout", data={"csrf_token": csrf})

    def pin(value: str):
        token = _csrf(tablet.get("/login", headers=HTML).get_data(as_text=True))
        return tablet.post("/login/pin", data={"username": "nurse", "pin": value, "csrf_token": token})

    for _ in range(5):
        assert pin("0000").status_code == 401
    assert pin("2468").status_code == 429  # the sign-in limit: five failures a minute at this address
    limiter.reset()  # the minute has passed: the sign-in limit no longer applies ...
    assert pin("2468").status_code == 401  # ... but the PIN stays locked
    assert _login(tablet, "nurse").status_code == 302  # the password unlocks it
    tablet.post("/logout", data={"csrf_token": _page_csrf(tablet)})
    assert pin("2468").status_code == 302


def test_a_pin_alone_signs_nobody_in_on_a_device_that_is_not_a_tablet(app, services):
    _user(services, "nurse", role="station", stations=["consent"], pin="2468")
    browser = app.test_client()
    token = _csrf(browser.get("/login", headers=HTML).get_data(as_text=True))
    answer = browser.post("/login/pin", data={"username": "nurse", "pin": "2468", "csrf_token": token})
    assert answer.status_code == 401 and browser.get("/api/v1/me").status_code == 401


# --- sessions and cookies ----------------------------------------------------------------------------

def test_the_session_cookie_is_httponly_samesite_lax_and_secure_in_production(sqlite_url, clock, monkeypatch):
    app = build_app(sqlite_url, clock)
    _user(app.extensions["siteflow"], "chen")
    cookie = _login(app.test_client(), "chen").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    app.extensions["siteflow_live"].stop()
    secure = build_app(sqlite_url, clock)
    secure.config["SESSION_COOKIE_SECURE"] = True
    cookie = _login(secure.test_client(), "chen").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    secure.extensions["siteflow_live"].stop()


def test_an_idle_session_ends_and_says_so(app, client, services, clock):
    _user(services, "chen")
    _login(client, "chen")
    clock.advance(minutes=app.config["IDLE_MINUTES"] - 1)
    assert client.get("/api/v1/me").status_code == 200  # activity keeps it alive
    clock.advance(minutes=app.config["IDLE_MINUTES"] - 1)
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(minutes=app.config["IDLE_MINUTES"] + 1)
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/", headers=HTML).headers["Location"].startswith("/login")
    assert "auth.idle_logout" in _audit_actions(services)


def test_a_password_reset_or_disabling_ends_existing_sessions(app, services):
    _user(services, "chen")
    first, second = app.test_client(), app.test_client()
    _login(first, "chen")
    _login(second, "chen")
    accounts.reset_password(services, "chen", actor="test")
    assert first.get("/api/v1/me").status_code == 401
    accounts.reset_password(services, "chen", actor="test", password=PASSWORD)
    _login(second, "chen")
    assert second.get("/api/v1/me").status_code == 403  # signed in, but must choose a password first
    accounts.set_active(services, "chen", active=False, actor="test")
    assert second.get("/api/v1/me").status_code == 401
    assert _login(app.test_client(), "chen").status_code == 401  # disabled accounts cannot sign in


def test_a_new_session_id_on_every_sign_in(app, services):
    _user(services, "chen")
    client = app.test_client()
    client.get("/login", headers=HTML)
    before = client.get_cookie("siteflow_session").value
    _login(client, "chen")
    assert client.get_cookie("siteflow_session").value != before


# --- what each credential can reach -----------------------------------------------------------------

def test_a_display_credential_reads_no_personal_record_by_any_route(app, client, tokens, services):
    body = gen_checkin(name="司马秘密", phone="13700001111")
    visit = client.post("/api/v1/sites/demo/visits", json=body,
                        headers={"Authorization": f"Bearer {tokens.admin}"}).get_json()["visit"]
    secrets = ("司马秘密", "司*密", body["document_number"], body["document_number"][-4:], "13700001111")
    display = tokens.display
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        values = {name: {"site": "demo", "visit_id": visit["id"], "station": "consent", "username": "x",
                         "token_id": 1}.get(name, "x") for name in rule.arguments}
        path = rule.build(values, append_unknown=False)[1]
        answer = client.get(path, headers={"Authorization": f"Bearer {display}", "Accept": "application/json"})
        text = answer.get_data(as_text=True)
        assert not [secret for secret in secrets if secret in text], (path, answer.status_code)
    live = socketio.test_client(app, auth={"token": display})
    live.emit("join", {"site": "demo", "view": "display"}, callback=True)
    pushed = json.dumps(live.get_received(), ensure_ascii=False)
    assert "snapshot" in pushed and not [secret for secret in secrets if secret in pushed]
    live.disconnect()


def test_a_consent_desk_token_cannot_inject_or_call_at_injection(client, tokens):
    admin = {"Authorization": f"Bearer {tokens.admin}"}
    consent = {"Authorization": f"Bearer {tokens.station('consent')}"}
    visit = client.post("/api/v1/sites/demo/visits", json=gen_checkin(), headers=admin).get_json()["visit"]
    assert client.post("/api/v1/sites/demo/stations/consent/call-next", json={"desk": "A"},
                       headers=consent).status_code == 200
    assert client.post(f"/api/v1/sites/demo/visits/{visit['id']}/consent", json=gen_consent("A"),
                       headers=consent).status_code == 200
    assert client.post("/api/v1/sites/demo/stations/injection/call-next", json={"desk": "1"},
                       headers=consent).status_code == 403
    client.post("/api/v1/sites/demo/stations/injection/call-next", json={"desk": "1"}, headers=admin)
    refused = client.post(f"/api/v1/sites/demo/visits/{visit['id']}/injection", json=gen_injection("1"),
                          headers=consent)
    assert refused.status_code == 403
    after = client.get(f"/api/v1/sites/demo/visits/{visit['id']}", headers=admin).get_json()["visit"]
    assert after["state"] == "called" and after["injection"] is None


# --- nothing personal in error pages or logs --------------------------------------------------------

def test_errors_and_logs_carry_no_personal_data(client, tokens, caplog):
    name, number = "诸葛秘密", gen_checkin()["document_number"]
    headers = {"Authorization": f"Bearer {tokens.admin}"}
    with caplog.at_level(logging.DEBUG):
        answers = [
            client.post("/api/v1/sites/demo/visits", json=gen_checkin(name=name, document_number=number + "1"),
                        headers=headers),
            client.post("/api/v1/sites/demo/visits", json={"name": name, "document_number": number}, headers=headers),
            client.get(f"/api/v1/sites/demo/visits/{name}", headers=headers),
            client.get(f"/{name}/{number}", headers=HTML),
        ]
    assert [answer.status_code for answer in answers] == [422, 422, 404, 404]
    for answer in answers:
        assert name not in answer.get_data(as_text=True) and number not in answer.get_data(as_text=True)
    assert name not in caplog.text and number not in caplog.text


@pytest.mark.parametrize("path", ["/", "/login", "/devices", "/audit", "/pair", "/display", "/users"])
def test_pages_carry_the_protective_headers(client, path):
    answer = client.get(path, headers=HTML)
    policy = answer.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_a_signed_in_page_connects_live_with_its_session_and_its_role(app, services):
    _user(services, "nurse", role="station", stations=["consent"])
    tablet = app.test_client()
    _login(tablet, "nurse")
    live = socketio.test_client(app, flask_test_client=tablet)
    assert live.is_connected()
    assert live.emit("join", {"site": "demo", "view": "station", "station": "consent"}, callback=True)["ok"]
    refused = live.emit("join", {"site": "demo", "view": "supervisor"}, callback=True)
    assert refused["ok"] is False
    stranger = socketio.test_client(app, flask_test_client=app.test_client())
    assert not stranger.is_connected()
