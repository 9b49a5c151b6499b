"""Who opens which station page, and in which language (the pages themselves are tested in
Chromium: tests/browser/test_station_pages.py)."""
from __future__ import annotations

import re

from app.flow import accounts

HTML = {"Accept": "text/html"}


def _sign_in(client, username: str, password: str, *, lang: str | None = None) -> None:
    page = client.get("/login" + (f"?lang={lang}" if lang else ""), headers=HTML).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf})
    assert answer.status_code == 302


def _staff(services, username: str, role: str, stations=(), sites=("demo",)) -> None:
    account, _ = accounts.create_user(services, actor="test", username=username, display_name=username, role=role,
                                   sites=sites, stations=stations, password="triage-lantern-8")
    services.store.staff.update_user(account.id, at=services.clock.now(), must_change_password=False)


def test_station_staff_open_their_own_stations_and_no_other(client, services):
    _staff(services, "nurse", "station", stations=("consent", "injection"))
    _sign_in(client, "nurse", "triage-lantern-8")
    # A station account with two stations opens both pages (two tabs); neither moves the session.
    for station in ("consent", "injection"):
        page = client.get(f"/sites/demo/stations/{station}", headers=HTML)
        assert page.status_code == 200 and f'data-station="{station}"' in page.get_data(as_text=True)
    assert client.get("/api/v1/me").get_json()["station"] == "consent"  # the session's: the first of theirs
    for other in ("checkin", "observation", "exit"):
        refused = client.get(f"/sites/demo/stations/{other}", headers=HTML)
        assert refused.status_code == 403
        # In the page's language, with the way to the account's own stations and back home.
        text = refused.get_data(as_text=True)
        assert "/sites/demo/stations/consent" in text and "/sites/demo/stations/injection" in text
        assert 'href="/"' in text and "此账号不在" in text
    assert client.get("/sites/demo/stations/pharmacy", headers=HTML).status_code == 404


def test_each_page_acts_at_its_own_station(client, services):
    """Each page's requests name its station (X-SiteFlow-Station): one of the account's own, or
    nothing changes (the session's station, as before)."""
    _staff(services, "nurse", "station", stations=("consent", "injection"))
    _sign_in(client, "nurse", "triage-lantern-8")
    page = client.get("/sites/demo/stations/consent", headers=HTML).get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    def me(station: str | None) -> str:
        headers = {"X-SiteFlow-Station": station} if station else {}
        return client.get("/api/v1/me", headers=headers).get_json()["station"]

    assert (me("injection"), me("consent"), me(None), me("exit")) == ("injection", "consent", "consent", "consent")

    def call(page_station: str, station: str) -> int:
        headers = {"X-CSRFToken": csrf, "X-SiteFlow-Station": page_station}
        desk = "1" if station == "injection" else "A"
        return client.post(f"/api/v1/sites/demo/stations/{station}/call-next", json={"desk": desk},
                           headers=headers).status_code

    # Two tabs, in turns: each acts at its own station, never at the other's.
    assert (call("injection", "injection"), call("consent", "consent"), call("injection", "injection")) == (204,) * 3
    assert (call("injection", "consent"), call("consent", "injection")) == (403, 403)


def test_a_supervisor_opens_every_station_page_and_the_display(client, services):
    _staff(services, "boss", "site_supervisor")
    _sign_in(client, "boss", "triage-lantern-8")
    for station in ("checkin", "consent", "injection", "observation", "exit"):
        page = client.get(f"/sites/demo/stations/{station}", headers=HTML)
        assert page.status_code == 200, station
    assert 'id="early-dialog"' in client.get("/sites/demo/stations/exit", headers=HTML).get_data(as_text=True)
    display = client.get("/sites/demo/display?language=en&stations=injection", headers=HTML).get_data(as_text=True)
    assert '"stations": ["injection"]' in display and '"language": "en"' in display
    home = client.get("/", headers=HTML).get_data(as_text=True)
    assert "/sites/demo/stations/observation" in home and "/sites/demo/display" in home


def test_a_page_follows_the_site_language_until_the_device_chooses(client, services, clock):
    _staff(services, "boss", "site_supervisor")
    _sign_in(client, "boss", "triage-lantern-8")
    english = {**HTML, "Accept-Language": "en"}
    assert "叫下一位" in client.get("/sites/demo/stations/consent", headers=english).get_data(as_text=True)
    site = services.store.site("demo").site
    services.store.upsert_site(site.model_copy(update={"language": "en"}), at=clock.now())
    assert "Call next" in client.get("/sites/demo/stations/consent", headers=english).get_data(as_text=True)
    chosen = client.get("/sites/demo/stations/consent?lang=zh_Hans", headers=english).get_data(as_text=True)
    assert "叫下一位" in chosen  # the device's choice wins, and is kept
    assert "叫下一位" in client.get("/sites/demo/stations/consent", headers=english).get_data(as_text=True)


def test_the_language_chosen_before_sign_in_is_kept(app, services):
    _staff(services, "boss", "site_supervisor")
    client = app.test_client()
    _sign_in(client, "boss", "triage-lantern-8", lang="en")
    assert "Call next" in client.get("/sites/demo/stations/consent", headers=HTML).get_data(as_text=True)


def test_each_page_s_live_connection_is_at_its_own_station(app, client, services):
    """The live connection of a station page says its station when it connects (auth)."""
    from app.live import socketio

    _staff(services, "nurse", "station", stations=("consent", "injection"))
    _sign_in(client, "nurse", "triage-lantern-8")

    def joins(auth_station: str, view_station: str) -> bool:
        live = socketio.test_client(app, flask_test_client=client, auth={"station": auth_station})
        answer = live.emit("join", {"site": "demo", "view": "station", "station": view_station}, callback=True)
        if live.is_connected():
            live.disconnect()
        return bool(answer and answer["ok"])

    assert joins("consent", "consent") and joins("injection", "injection")
    assert not joins("consent", "injection") and not joins("injection", "consent")
    assert not joins("exit", "exit")  # not one of theirs
