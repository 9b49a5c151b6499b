"""The live channel is closed to whoever should be out: every socket is bound to the credential
that opened it, and is told and disconnected within 2 s when that credential ends (a token
revoked, a sign-out, a password change, an account disabled, an idle session); browsers may
connect only from the site's own origin or a configured one."""
from __future__ import annotations

import re

import pytest
import websocket

from app.flow import accounts
from app.flow import tokens as token_flow
from app.live import socketio
from tests.support.factories import gen_checkin
from tests.support.live_servers import (
    Api,
    ServerProcess,
    create_tokens,
    free_port,
    init_database,
    run_cli,
    server_env,
    wait_until,
)

HTML = {"Accept": "text/html"}
PASSWORD = "correct-horse-1"
WITHIN = 2.0  # seconds


def _login(client, username: str):
    page = client.get("/login", headers=HTML).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": csrf}).status_code == 302


def _page_csrf(client) -> str:
    home = client.get("/", headers=HTML).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', home).group(1)


def _supervisor(services, username: str = "chen") -> None:
    accounts.create_user(services, actor="test", username=username, display_name=username, role="site_supervisor",
                         sites=["demo"], password=PASSWORD)


def _signed_in_socket(app, client, view: str = "supervisor"):
    live = socketio.test_client(app, flask_test_client=client)
    assert live.is_connected()
    assert live.emit("join", {"site": "demo", "view": view}, callback=True)["ok"]
    live.get_received()
    return live


def _closed_with_reason(live) -> bool:
    """Disconnected within WITHIN seconds, having been told why (the test client keeps what
    arrived in `queue`; its get_received() refuses once disconnected)."""
    closed = wait_until(lambda: not live.is_connected(), WITHIN)
    return closed and any(message["name"] == "error" and message["args"][0]["code"] == "credential_ended"
                          for message in live.queue)


@pytest.fixture
def watching(app):
    app.extensions["siteflow_live"].start()  # the hub and its credential watch, as a served process runs them
    return app


def test_a_revoked_display_token_closes_its_open_socket(watching, services, tokens):
    token = tokens.display
    display = socketio.test_client(watching, auth={"token": token})
    assert display.emit("join", {"site": "demo", "view": "display"}, callback=True)["ok"]
    token_id = token_flow.authenticate(services, token).token_id
    token_flow.revoke(services, ids=[token_id], actor="test")
    assert _closed_with_reason(display)
    assert not socketio.test_client(watching, auth={"token": token}).is_connected()  # and it cannot come back


def test_signing_out_closes_the_sockets_of_that_session_and_the_old_cookie_is_dead(watching, services):
    _supervisor(services)
    browser = watching.test_client()
    _login(browser, "chen")
    live = _signed_in_socket(watching, browser)
    cookie = browser.get_cookie("siteflow_session").value
    assert browser.post("/logout", data={"csrf_token": _page_csrf(browser)}).status_code == 302
    assert _closed_with_reason(live)
    replay = watching.test_client()
    replay.set_cookie("siteflow_session", cookie)
    assert replay.get("/api/v1/me").status_code == 401  # a logout replay gets nothing


def test_a_password_change_ends_the_other_sessions_and_their_sockets(watching, services):
    _supervisor(services)
    here, elsewhere = watching.test_client(), watching.test_client()
    _login(here, "chen")
    _login(elsewhere, "chen")
    mine, theirs = _signed_in_socket(watching, here), _signed_in_socket(watching, elsewhere, view="dashboard")
    changed = here.post("/account/password", data={"csrf_token": _page_csrf(here), "current_password": PASSWORD,
                                                   "new_password": "lantern-orchard-7", "repeat_password":
                                                   "lantern-orchard-7"})
    assert changed.status_code == 302
    assert _closed_with_reason(theirs)
    assert elsewhere.get("/api/v1/me").status_code == 401
    assert mine.is_connected() and here.get("/api/v1/me").status_code == 200


def test_disabling_an_account_or_an_admin_signing_it_out_everywhere_closes_its_sockets(watching, services):
    _supervisor(services, "chen")
    _supervisor(services, "wang")
    chen, wang = watching.test_client(), watching.test_client()
    _login(chen, "chen")
    _login(wang, "wang")
    chen_live, wang_live = _signed_in_socket(watching, chen), _signed_in_socket(watching, wang)
    accounts.set_active(services, "chen", active=False, actor="test")
    assert _closed_with_reason(chen_live)
    from app.flow import staff_sessions

    assert staff_sessions.end_all_of(services, "wang", actor="admin:test") == 1
    assert _closed_with_reason(wang_live)
    assert wang.get("/api/v1/me").status_code == 401


def test_an_idle_session_closes_its_socket_without_any_request(watching, services, clock):
    _supervisor(services)
    browser = watching.test_client()
    _login(browser, "chen")
    live = _signed_in_socket(watching, browser)
    clock.advance(minutes=watching.config["IDLE_MINUTES"] + 1)  # nobody touches the tablet
    assert _closed_with_reason(live)
    assert browser.get("/api/v1/me").status_code == 401


def test_the_user_sees_their_sessions_and_ends_one(watching, services):
    _supervisor(services)
    here, lost = watching.test_client(), watching.test_client()
    lost.environ_base["HTTP_USER_AGENT"] = "LostTablet/1.0"
    _login(here, "chen")
    _login(lost, "chen")
    page = here.get("/account/sessions", headers=HTML).get_data(as_text=True)
    assert "LostTablet/1.0" in page
    other = re.search(r'data-session="(\d+)">\s*<td title="LostTablet', page).group(1)
    ended = here.post(f"/account/sessions/{other}/end", data={"csrf_token": _page_csrf(here)})
    assert ended.status_code == 302
    assert lost.get("/api/v1/me").status_code == 401 and here.get("/api/v1/me").status_code == 200
    assert "LostTablet/1.0" not in here.get("/account/sessions", headers=HTML).get_data(as_text=True)
    assert here.post("/account/sessions/999999/end", data={"csrf_token": _page_csrf(here)}).status_code == 404


def test_a_session_ends_after_its_lifetime_even_when_used(watching, services, clock):
    _supervisor(services)
    browser = watching.test_client()
    _login(browser, "chen")
    for _ in range(int(watching.config["SESSION_HOURS"] * 60 / 10)):
        clock.advance(minutes=10)
        browser.get("/api/v1/me")
    clock.advance(minutes=10)
    assert browser.get("/api/v1/me").status_code == 401


def test_common_passwords_are_refused(client, services):
    _supervisor(services)
    _login(client, "chen")
    for weak in ("woaini1314", "1234567890", "qwe123456789", "password-123", "chenchenchen"):
        answer = client.post("/account/password", data={"csrf_token": _page_csrf(client), "current_password": PASSWORD,
                                                         "new_password": weak, "repeat_password": weak})
        assert answer.status_code == 422, weak
    assert client.get("/api/v1/me").status_code == 200  # still signed in with the old password


def test_the_dashboard_live_room_carries_counts_only(watching, services, api, tokens):
    _supervisor(services)
    browser = watching.test_client()
    _login(browser, "chen")
    dashboard = _signed_in_socket(watching, browser, view="dashboard")
    person = gen_checkin(name="慕容秘密", phone="13911112222")
    assert api.post("/sites/demo/visits", person).status_code == 201
    received: list = []
    assert wait_until(lambda: received.extend(dashboard.get_received()) or
                      any(message["name"] == "snapshot" for message in received), WITHIN)
    text = repr(received)
    assert "delta" not in {message["name"] for message in received}
    for secret in ("慕容秘密", "慕*密", person["document_number"][-4:], "13911112222", "'visits'"):
        assert secret not in text
    station = socketio.test_client(watching, auth={"token": tokens.station("consent")})
    assert not station.emit("join", {"site": "demo", "view": "dashboard"}, callback=True)["ok"]


# --- real servers: the Origin check, and an ended credential on another process ------------------

def test_a_foreign_origin_is_refused_before_any_data_and_audited(tmp_path):
    env = server_env(database_url=f"sqlite:///{tmp_path / 'siteflow.db'}")
    env["SITEFLOW_ALLOWED_ORIGINS"] = "https://screens.example"
    init_database(env)
    admin = create_tokens(env, {"admin": {"role": "admin"}})["admin"]
    with ServerProcess(env, free_port(), log_dir=tmp_path) as server:
        url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(url, origin="https://evil.example", timeout=5)
        assert refused.value.status_code == 400
        for allowed in (server.url, "https://screens.example"):
            opened = websocket.create_connection(url, origin=allowed, timeout=5)
            assert opened.recv().startswith("0{")  # Engine.IO's open packet
            opened.close()
        trail = Api(server.url, admin).get("/audit", action="live.origin_refused").json["entries"]
        assert [entry["subject"] for entry in trail] == ["origin:https://evil.example"]


@pytest.mark.postgres
def test_a_token_revoked_anywhere_closes_its_socket_on_every_process(tmp_path, postgres_database, redis_server):
    env = server_env(database_url=postgres_database, message_queue=redis_server.url)
    init_database(env)
    display = create_tokens(env, {"tv": {"role": "display", "site": "demo", "name": "tv"}})["tv"]
    servers = [ServerProcess(env, free_port(), log_dir=tmp_path, name=f"process{n}").spawn() for n in (1, 2)]
    try:
        for server in servers:
            server.wait_ready()
        import socketio as client_library

        errors, client = [], client_library.Client(reconnection=False)
        client.on("error", errors.append)
        client.connect(servers[1].url, transports=["websocket"], auth={"token": display}, wait_timeout=5)
        assert client.call("join", {"site": "demo", "view": "display"}, timeout=5)["ok"]
        listed = run_cli(env, "tokens", "list")
        token_id = next(line.split()[0] for line in listed.splitlines() if re.search(r"\btv\b", line))
        run_cli(env, "tokens", "revoke", token_id)  # by the command line: a third process, through Redis
        assert wait_until(lambda: not client.connected, WITHIN), "the socket on process 2 stayed open"
        assert any(error.get("code") == "credential_ended" for error in errors)
    finally:
        for server in servers:
            server.stop()
