"""Admins manage staff accounts on a page: add (password shown once), disable, enable, reset."""
from __future__ import annotations

import re

from app.flow import accounts
from app.store.tables import audit_log

HTML = {"Accept": "text/html"}


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _sign_in(client, username: str, password: str) -> None:
    csrf = _csrf(client.get("/login", headers=HTML).get_data(as_text=True))
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def _admin(client, services) -> str:
    accounts.create_user(services, actor="test", username="root", display_name="Root", role="admin",
                         password="root-password-1")
    _sign_in(client, "root", "root-password-1")
    return _csrf(client.get("/users", headers=HTML).get_data(as_text=True))


def test_an_admin_adds_an_account_whose_password_is_shown_once_and_works(app, client, services):
    csrf = _admin(client, services)
    answer = client.post("/users", headers=HTML, data={
        "csrf_token": csrf, "username": "Nurse.Zhou", "display_name": "周护士", "role": "station", "sites": "demo",
        "stations": ["consent", "injection"], "pin": "4826"})
    assert answer.status_code == 201
    page = answer.get_data(as_text=True)
    password = re.search(r"<code>([^<]+)</code>", page).group(1)
    assert "nurse.zhou" in page and "周护士" in page
    created = accounts.get_account(services, username="nurse.zhou")
    assert (created.role, created.sites, created.stations, created.has_pin) == (
        "station", ("demo",), ("consent", "injection"), True)
    assert created.must_change_password
    other = app.test_client()
    _sign_in(other, "nurse.zhou", password)
    # a generated password must be replaced before anything else
    assert other.get("/", headers=HTML).headers["Location"].startswith("/account/password")
    refused = other.get("/api/v1/me")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "password_change_required"
    csrf = _csrf(other.get("/account/password", headers=HTML).get_data(as_text=True))
    changed = other.post("/account/password", data={"csrf_token": csrf, "current_password": password,
                                                     "new_password": "my-own-password", "repeat_password":
                                                     "my-own-password"})
    assert changed.status_code == 302
    assert other.get("/api/v1/me").get_json()["actor"] == "station:nurse.zhou"
    with services.store.engine.connect() as conn:
        actions = [row.action for row in conn.execute(audit_log.select())]
    assert "user.created" in actions


def test_bad_input_is_named_in_the_pages_language_and_nothing_is_created(client, services):
    csrf = _admin(client, services)
    answer = client.post("/users?lang=en", headers=HTML, data={
        "csrf_token": csrf, "username": "x", "role": "station", "sites": "demo"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Username: 2-64 characters" in page and "Stations: station staff need one or more" in page
    answer = client.post("/users?lang=zh_Hans", headers=HTML, data={
        "csrf_token": csrf, "username": "x", "role": "station", "sites": "demo"})
    page = answer.get_data(as_text=True)
    assert "用户名：" in page and "工作站：" in page and "Username" not in page
    assert accounts.get_account(services, username="x") is None


def test_the_new_account_form_offers_the_least_privileged_role_first_and_chooses_it(client, services):
    _admin(client, services)
    page = client.get("/users?lang=en", headers=HTML).get_data(as_text=True)
    select = re.search(r'<select name="role">(.*?)</select>', page, re.S).group(1)
    options = re.findall(r'<option value="(\w+)"( selected)?>([^<]+)</option>', select)
    assert [(value, chosen) for value, chosen, _ in options] == [
        ("station", " selected"), ("site_supervisor", ""), ("city_supervisor", ""), ("admin", "")]
    assert [text for _, _, text in options] == ["Station staff", "Site supervisor", "City supervisor", "Administrator"]


def test_disabling_ends_the_sessions_and_a_reset_password_replaces_the_old_one(app, client, services):
    csrf = _admin(client, services)
    accounts.create_user(services, actor="test", username="wang", display_name="Wang", role="site_supervisor",
                         sites=["demo"], password="wang-password-1")
    wang = app.test_client()
    _sign_in(wang, "wang", "wang-password-1")
    assert wang.get("/api/v1/me").status_code == 200
    assert client.post("/users/wang/active", data={"csrf_token": csrf, "active": "0"}).status_code == 302
    assert wang.get("/api/v1/me").status_code == 401
    assert client.post("/users/wang/active", data={"csrf_token": csrf, "active": "1"}).status_code == 302
    page = client.post("/users/wang/reset-password", data={"csrf_token": csrf}, headers=HTML).get_data(as_text=True)
    new_password = re.search(r"<code>([^<]+)</code>", page).group(1)
    csrf_login = _csrf(wang.get("/login", headers=HTML).get_data(as_text=True))
    assert wang.post("/login", data={"username": "wang", "password": "wang-password-1",
                                     "csrf_token": csrf_login}).status_code == 401
    _sign_in(wang, "wang", new_password)
    # an admin cannot lock themselves out by accident
    client.post("/users/root/active", data={"csrf_token": csrf, "active": "0"})
    assert accounts.get_account(services, username="root").active


def test_only_admins_reach_the_user_pages(app, services):
    accounts.create_user(services, actor="test", username="chen", display_name="Chen", role="site_supervisor",
                         sites=["demo"], password="chen-password-1")
    chen = app.test_client()
    _sign_in(chen, "chen", "chen-password-1")
    assert chen.get("/users", headers=HTML).status_code == 403
    csrf = _csrf(chen.get("/", headers=HTML).get_data(as_text=True))
    assert chen.post("/users", data={"csrf_token": csrf, "username": "evil", "role": "admin"}).status_code == 403
    assert accounts.get_account(services, username="evil") is None
