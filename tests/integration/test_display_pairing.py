"""Pairing a TV: it shows a code, a supervisor types it, the TV collects its display credential once."""
from __future__ import annotations

import re

from app.flow import accounts
from app.store.tables import audit_log
from tests.support.api import load_site_variant

HTML = {"Accept": "text/html"}


def _signed_in(app, services, username: str, sites: list[str], role: str = "site_supervisor"):
    accounts.create_user(services, actor="test", username=username, display_name=username, role=role, sites=sites,
                         password="pairing-pass-1")
    client = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login", headers=HTML).get_data(as_text=True))
    client.post("/login", data={"username": username, "password": "pairing-pass-1", "csrf_token": csrf.group(1)})
    page = client.get("/devices", headers=HTML).get_data(as_text=True)
    return client, re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def _tv(app):
    tv = app.test_client()
    page = tv.get("/pair", headers=HTML).get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    started = tv.post("/pair/start", json={}, headers={"X-CSRFToken": csrf})
    assert started.status_code == 201
    return tv, csrf, started.get_json()


def _pair(supervisor, csrf, code, **fields):
    form = {"csrf_token": csrf, "code": code, "site": "demo", "label": "Hall A", "stations": ["consent", "injection"],
            "language": "both", **fields}
    return supervisor.post("/devices/pair?lang=en", data=form, headers=HTML)  # the page's words in English


def _collect(tv, csrf, secret):
    return tv.post("/pair/collect", json={"secret": secret}, headers={"X-CSRFToken": csrf})


def test_a_tv_is_paired_without_a_keyboard_and_gets_a_display_credential_once(app, services):
    tv, tv_csrf, request = _tv(app)
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}", request["code"])
    assert _collect(tv, tv_csrf, request["secret"]).get_json()["status"] == "pending"
    supervisor, csrf = _signed_in(app, services, "chen", ["demo"])
    wrong = _pair(supervisor, csrf, "AAA-AAA")
    assert wrong.status_code == 404 and "No display is waiting with this code" in wrong.get_data(as_text=True)
    typed_loosely = request["code"].lower().replace("-", " ")  # however the supervisor types it
    assert _pair(supervisor, csrf, typed_loosely).status_code == 302
    paired = _collect(tv, tv_csrf, request["secret"]).get_json()
    assert paired["status"] == "paired" and paired["site"] == "demo" and paired["token"].startswith("sf_")
    assert paired["settings"]["stations"] == ["consent", "injection"] and paired["settings"]["label"] == "Hall A"
    assert _collect(tv, tv_csrf, request["secret"]).status_code == 404  # handed over once
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {paired['token']}"}).get_json()
    assert me["role"] == "display" and me["sites"] == ["demo"] and me["settings"]["language"] == "both"
    # the supervisor sees it, and unpairs it
    listing = supervisor.get("/devices", headers=HTML).get_data(as_text=True)
    assert "Hall A" in listing
    token_id = int(re.search(r'/devices/(\d+)/revoke', listing).group(1))
    assert supervisor.post(f"/devices/{token_id}/revoke", data={"csrf_token": csrf}).status_code == 302
    gone = app.test_client().get("/api/v1/sites/demo/snapshot", headers={"Authorization": f"Bearer {paired['token']}"})
    assert gone.status_code == 401
    with services.store.engine.connect() as conn:
        entries = [(row.action, row.outcome) for row in conn.execute(audit_log.select())]
    assert ("display.paired", "failed") in entries and ("display.paired", "ok") in entries
    assert ("token.created", "ok") in entries and ("token.revoked", "ok") in entries


def test_a_code_expires_after_ten_minutes(app, services, clock):
    tv, tv_csrf, request = _tv(app)
    supervisor, csrf = _signed_in(app, services, "chen", ["demo"])
    clock.advance(minutes=11)
    assert _collect(tv, tv_csrf, request["secret"]).get_json()["status"] == "expired"
    assert _pair(supervisor, csrf, request["code"]).status_code == 404


def test_a_supervisor_pairs_only_at_their_own_sites_and_sees_only_their_displays(app, services, tokens, tmp_path):
    load_site_variant(services, tmp_path, "north")
    tv, tv_csrf, request = _tv(app)
    north, csrf = _signed_in(app, services, "north-boss", ["north"])
    refused = _pair(north, csrf, request["code"], site="demo")
    assert refused.status_code == 403
    assert _collect(tv, tv_csrf, request["secret"]).get_json()["status"] == "pending"
    tokens.make("display")  # a display of demo
    assert "display-demo" not in north.get("/devices", headers=HTML).get_data(as_text=True)


def test_bad_settings_are_named_and_pair_nothing(app, services):
    tv, tv_csrf, request = _tv(app)
    supervisor, csrf = _signed_in(app, services, "chen", ["demo"])
    answer = _pair(supervisor, csrf, request["code"], label="", language="klingon", stations=["kitchen"])
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "Name of this screen:" in page and "Language:" in page and "Stations shown:" in page
    assert _collect(tv, tv_csrf, request["secret"]).get_json()["status"] == "pending"


def test_the_eleventh_wrong_code_within_ten_minutes_is_refused(app, services):
    supervisor, csrf = _signed_in(app, services, "chen", ["demo"])
    for _ in range(10):
        assert _pair(supervisor, csrf, "ZZZ-ZZZ").status_code == 404
    _unused, _unused_csrf, request = _tv(app)
    assert _pair(supervisor, csrf, request["code"]).status_code == 429


def test_an_unknown_secret_learns_nothing(app):
    tv, csrf, _ = _tv(app)
    for secret in ("", "x", "a" * 5000, None, 42):
        answer = tv.post("/pair/collect", json={"secret": secret}, headers={"X-CSRFToken": csrf})
        assert answer.status_code == 404 and "token" not in answer.get_json()
