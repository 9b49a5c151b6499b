"""Live push through the Socket.IO test client: auth, rooms, snapshots, deltas, calls, ready."""
from __future__ import annotations

import time

import pytest

from app.live import socketio
from tests.support.api import snapshot_seq
from tests.support.factories import gen_checkin, gen_consent, gen_injection


@pytest.fixture
def live(app):
    clients = []

    def connect(token: str | None, **join):
        client = socketio.test_client(app, auth={"token": token} if token else None)
        clients.append(client)
        if join and client.is_connected():
            client.ack = client.emit("join", join, callback=True)
        return client

    yield connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


def received(client, name: str | None = None):
    return [m for m in client.get_received() if name is None or m["name"] == name]


def wait_for(client, name: str, count: int = 1, timeout: float = 2.0):
    """Collect messages until `count` named `name` arrived (real time: pushes are threads)."""
    got, others = [], []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in client.get_received():
            (got if message["name"] == name else others).append(message)
        if len(got) >= count:
            break
        time.sleep(0.02)
    client.others = others
    return got


def test_connect_without_or_with_a_bad_token_is_refused(live):
    assert not live(None).is_connected()
    assert not live("sf_not-a-token").is_connected()


def test_join_answers_with_a_snapshot_carrying_the_sequence_number(live, api, tokens):
    before = snapshot_seq(api)
    api.post("/sites/demo/visits", gen_checkin())
    client = live(tokens.display, site="demo", view="display")
    assert client.ack == {"ok": True, "room": "site:demo:display"}
    body = received(client, "snapshot")[0]["args"][0]  # the answer to the join
    assert body["seq"] == before + 1 and body["stations"]["consent"]["waiting"] == 1 and body["view"] == "display"


@pytest.mark.parametrize(
    "role,station,join",
    [
        ("display", None, {"site": "demo", "view": "supervisor"}),
        ("display", None, {"site": "demo", "view": "station", "station": "consent"}),
        ("station", "consent", {"site": "demo", "view": "station", "station": "injection"}),
        ("station", "consent", {"site": "demo", "view": "supervisor"}),
        ("site_supervisor", None, {"view": "city"}),  # a site supervisor does not see the city
        ("display", None, {"site": "demo", "view": "nonsense"}),
    ],
)
def test_out_of_scope_joins_get_an_error_and_are_dropped(live, tokens, role, station, join):
    client = live(tokens.make(role, station=station), **join)
    assert client.ack["ok"] is False
    assert not client.is_connected()


def test_out_of_scope_join_sends_an_error_event_first(app, tokens):
    client = socketio.test_client(app, auth={"token": tokens.display})
    client.emit("join", {"site": "demo", "view": "supervisor"})
    assert not client.is_connected()
    errors = [m for m in client.queue if m["name"] == "error"]  # what arrived before the drop
    assert errors and errors[0]["args"][0]["code"] == "forbidden"


def test_a_token_of_one_site_cannot_join_another(live, tokens, services, tmp_path):
    from app.flow.sites import load_site_file
    from tests.conftest import DEMO_SITE

    other = tmp_path / "other.toml"
    other.write_text(DEMO_SITE.read_text().replace('id = "demo"', 'id = "other"'))
    load_site_file(services, other)
    client = live(tokens.display, site="other", view="display")
    assert client.ack["ok"] is False and not client.is_connected()


def test_station_rooms_get_masked_deltas_supervisors_full_ones_in_sequence(live, api, tokens):
    station = live(tokens.station("consent"), site="demo", view="station", station="consent")
    supervisor = live(tokens.supervisor, site="demo", view="supervisor")
    for client in (station, supervisor):
        received(client)
    before = snapshot_seq(api)
    body = gen_checkin(name="李雷雷")
    visit = api.post("/sites/demo/visits", body).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "A"})
    api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("A"))

    masked = [m["args"][0] for m in wait_for(station, "delta", 3)]
    full = [m["args"][0] for m in wait_for(supervisor, "delta", 3)]
    assert [d["seq"] for d in masked] == [before + 1, before + 2, before + 3] == [d["seq"] for d in full]
    assert [d["type"] for d in masked] == ["checked_in", "called", "consented"]
    assert masked[0]["visit"]["person"]["name"] == "李*雷"
    assert "document_number" not in masked[0]["visit"]["person"]
    assert body["document_number"] not in str(masked)
    assert full[0]["visit"]["person"]["name"] == "李雷雷"
    assert full[0]["visit"]["person"]["document_number"] == body["document_number"]


def test_each_call_reaches_the_display_at_once_and_counts_are_coalesced(live, api, tokens, services):
    display = live(tokens.display, site="demo", view="display")
    received(display)
    started = time.monotonic()
    # A burst: 12 check-ins and 2 calls, as fast as the API goes.
    ids = [api.post("/sites/demo/visits", gen_checkin()).json["visit"]["id"] for _ in range(12)]
    for desk in ("A", "B"):
        api.post("/sites/demo/stations/consent/call-next", {"desk": desk})
    calls = wait_for(display, "call", 2)
    assert [c["args"][0]["desk"] for c in calls] == ["A", "B"]
    assert [c["args"][0]["ticket"] for c in calls] == ["A001", "A002"]
    assert all(set(c["args"][0]) == {"site", "seq", "ticket", "station", "desk", "at", "recall"} for c in calls)
    time.sleep(0.6)
    elapsed = time.monotonic() - started
    snapshots = [m for m in display.others + received(display) if m["name"] == "snapshot"]
    # 14 actions produced at most one snapshot per 0.25 s window (plus the first, at once).
    assert 1 <= len(snapshots) <= 2 + int(elapsed / 0.25)
    assert len(snapshots) < 14
    assert snapshots[-1]["args"][0]["seq"] == services.store.site("demo").seq
    assert snapshots[-1]["args"][0]["stations"]["consent"]["called"] == 2
    assert len(ids) == 12


def test_nothing_is_computed_for_a_room_that_nobody_is_in(app, live, api, tokens):
    hub = app.extensions["siteflow_live"]

    def check_in_and_call(desk):
        visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
        assert api.post("/sites/demo/stations/consent/call-next", {"desk": desk}).status_code == 200
        return visit

    # Nobody connected: the actions are recorded, and no payload of any kind is built.
    first = check_in_and_call("A")
    time.sleep(0.4)  # longer than the display coalescing window
    assert sum(hub.built.values()) == 0
    # A consent tablet only: masked deltas, still no display snapshot, no supervisor delta, no call.
    tablet = live(tokens.station("consent"), site="demo", view="station", station="consent")
    received(tablet)
    check_in_and_call("B")
    assert len(wait_for(tablet, "delta", 2)) == 2
    time.sleep(0.4)
    assert hub.built["station_delta"] == 2
    assert hub.built["display_snapshot"] == hub.built["supervisor_delta"] == hub.built["call"] == 0
    # A display joins: from now on its site's snapshots and calls are built.
    display = live(tokens.display, site="demo", view="display")
    received(display)
    api.post(f"/sites/demo/visits/{first['id']}/recall", {})
    assert wait_for(display, "call", 1) and wait_for(display, "snapshot", 1)
    assert hub.built["call"] == 1 and hub.built["display_snapshot"] >= 1 and hub.built["supervisor_delta"] == 0


def test_recall_is_announced_again(live, api, tokens):
    display = live(tokens.display, site="demo", view="display")
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "B"})
    api.post(f"/sites/demo/visits/{visit['id']}/recall", {})
    calls = [c["args"][0] for c in wait_for(display, "call", 2)]
    assert [c["recall"] for c in calls] == [0, 1]


def test_ok_to_leave_is_pushed_when_observation_ends_without_any_action(live, api, tokens, clock):
    visit = api.post("/sites/demo/visits", gen_checkin()).json["visit"]
    api.post("/sites/demo/stations/consent/call-next", {"desk": "A"})
    api.post(f"/sites/demo/visits/{visit['id']}/consent", gen_consent("A"))
    api.post("/sites/demo/stations/injection/call-next", {"desk": "1"})
    api.post(f"/sites/demo/visits/{visit['id']}/injection", gen_injection("1"))
    display = live(tokens.display, site="demo", view="display")
    observation = live(tokens.station("observation"), site="demo", view="station", station="observation")
    received(display), received(observation)

    clock.advance(minutes=29, seconds=59)
    assert wait_for(display, "ready", 1, timeout=0.5) == []
    clock.advance(seconds=1)  # exactly leave_at
    started = time.monotonic()
    ready = wait_for(display, "ready", 1, timeout=2.0)
    assert time.monotonic() - started < 1.0
    assert ready[0]["args"][0]["ticket"] == visit["ticket"]
    assert wait_for(observation, "ready", 1)[0]["args"][0]["ticket"] == visit["ticket"]
    # The display's next snapshot shows the ticket as ready on the board.
    time.sleep(0.4)
    board = [m["args"][0] for m in display.others + received(display) if m["name"] == "snapshot"]
    assert board and board[-1]["observation"]["ready"] == [visit["ticket"]]
    assert board[-1]["observation"]["board"] == [
        {"ticket": visit["ticket"], "leave_at": ready[0]["args"][0]["leave_at"], "ready": True}
    ]


def test_resync_sends_a_fresh_snapshot(live, api, tokens):
    client = live(tokens.station("consent"), site="demo", view="station", station="consent")
    received(client)
    before = snapshot_seq(api)
    api.post("/sites/demo/visits", gen_checkin())
    assert client.emit("resync", {}, callback=True) == {"ok": True}
    snapshots = [m for m in client.get_received() if m["name"] == "snapshot"]
    assert snapshots[-1]["args"][0]["seq"] == before + 1
    assert snapshots[-1]["args"][0]["visits"][0]["person"]["name"].count("*") == 1


def test_displays_get_a_fresh_snapshot_periodically_even_without_actions(database_url, clock):
    """A display only ever receives snapshots; a lost one is repaired by the periodic refresh."""
    from tests.conftest import build_app

    app = build_app(database_url, clock)
    app.extensions["siteflow_live"].display_refresh = 0.5
    try:
        from app.flow.tokens import create_token

        token = create_token(app.extensions["siteflow"], role="display", site_id="demo", station=None, name="tv")
        before = app.extensions["siteflow"].store.site("demo").seq  # nothing is recorded from here on
        display = socketio.test_client(app, auth={"token": token})
        assert display.emit("join", {"site": "demo", "view": "display"}, callback=True)["ok"]
        received(display)  # the join snapshot
        snapshots = wait_for(display, "snapshot", 2, timeout=3.0)
        assert len(snapshots) >= 2 and all(s["args"][0]["seq"] == before for s in snapshots)
        display.disconnect()
    finally:
        app.extensions["siteflow_live"].stop()
        app.extensions["siteflow"].store.engine.dispose()
