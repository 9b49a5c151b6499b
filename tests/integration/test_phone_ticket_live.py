"""The phone ticket's live channel: its own room, joined with the code, and nothing else."""
from __future__ import annotations

import json
import time

import pytest

from app.flow import phone_tickets
from app.flow import tokens as token_flow
from app.live import socketio
from app.live.hub import TICKET_INTERVAL
from app.sim.day import DayPlan, FlowActions, run_day
from tests.support.api import act, call_next
from tests.support.factories import gen_checkin, gen_consent

PERSONAL_KEYS = ("name", "document_number", "document_last4", "phone", "birth_date", "person", "answers",
                 "signature", "age", "actor", "vaccinator", "id", "visit_id", "consent", "injection", "aefi")


def checked_in(japi) -> tuple[dict, str]:
    body = japi.post("/sites/demo/visits", gen_checkin()).get_json()
    return body["visit"], body["ticket_page"]["url"].rsplit("/t/", 1)[1]


def received(client, name: str = "ticket", *, within: float = 0.0, until=bool) -> list[dict]:
    """The `name` messages a test client got, waiting up to `within` seconds for one that `until` likes."""
    deadline = time.monotonic() + within
    got: list[dict] = []
    while True:
        got += [message["args"][0] for message in client.get_received() if message["name"] == name]
        if any(until(view) for view in got) or time.monotonic() >= deadline:
            return got
        time.sleep(0.05)


@pytest.fixture
def phone(app):
    clients = []

    def connect(code: str):
        client = socketio.test_client(app, auth={"ticket": code})
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if client.is_connected():
            client.disconnect()


def test_a_phone_gets_its_ticket_on_connecting_and_its_call_at_once(japi, phone):
    visit, code = checked_in(japi)
    client = phone(code)
    assert client.is_connected()
    first = received(client)
    assert [(view["ticket"], view["step"], view["ahead"]) for view in first] == [(visit["ticket"], "waiting", 0)]
    call_next(japi, "consent", "B")
    called = received(client, within=2)[-1]  # pushed with the event, not with the coalesced pass
    assert (called["step"], called["station"], called["desk"]) == ("called", "consent", "B")
    assert client.emit("resync", {}, callback=True) == {"ok": True}
    assert received(client)[-1]["step"] == "called"


def test_the_others_places_move_in_the_coalesced_pass(japi, phone):
    checked_in(japi)
    _, second = checked_in(japi)
    client = phone(second)
    assert received(client)[-1]["ahead"] == 1
    call_next(japi, "consent", "A")
    moved = received(client, within=TICKET_INTERVAL + 3, until=lambda view: view["ahead"] == 0)
    assert moved and moved[-1]["ahead"] == 0 and moved[-1]["step"] == "waiting"


def test_a_wrong_code_is_refused(app, phone):
    for code in (phone_tickets.new_code(), "", None, {"a": 1}):
        assert not socketio.test_client(app, auth={"ticket": code}).is_connected()


VIEWS = [{"view": "display", "site": "demo"}, {"view": "dashboard", "site": "demo"},
         {"view": "supervisor", "site": "demo"}, {"view": "city"},
         *({"view": "station", "site": "demo", "station": name}
           for name in ("checkin", "consent", "injection", "observation", "exit"))]


def test_red_team_a_ticket_joins_no_other_room_and_hears_nobody_else(japi, phone, app):
    mine, code = checked_in(japi)
    other, _ = checked_in(japi)
    attempts = [*VIEWS, {"view": "ticket", "site": "demo", "visit": other["id"]},
                {"view": "station", "site": "demo", "station": "consent", "visit_id": other["id"]},
                {"site": "demo"}, "site:demo:ticket:" + other["id"], None]
    for attempt in attempts:
        client = phone(code)
        assert client.is_connected()
        client.get_received()
        answer = client.emit("join", attempt, callback=True)
        assert answer["ok"] is False, attempt
        assert not client.is_connected(), attempt  # refused and closed
    # A phone that tries nothing hears only its own ticket while the others move.
    client = phone(code)
    call_next(japi, "consent", "A")  # calls `mine` (first in line)
    act(japi, mine["id"], "consent", gen_consent("A"))
    assert call_next(japi, "consent", "B")["id"] == other["id"]
    time.sleep(TICKET_INTERVAL + 0.5)
    messages = client.get_received()
    assert {message["name"] for message in messages} == {"ticket"}
    assert {message["args"][0]["ticket"] for message in messages} == {mine["ticket"]}
    assert other["ticket"] not in json.dumps([message["args"] for message in messages])


def test_a_new_code_closes_the_pages_opened_with_the_old_one(japi, phone, app):
    visit, code = checked_in(japi)
    client = phone(code)
    assert client.is_connected()
    assert japi.post(f"/sites/demo/visits/{visit['id']}/ticket-code").status_code == 201
    assert not client.is_connected()  # closed at once, having been told why (the client keeps it in `queue`)
    errors = [message["args"][0] for message in client.queue if message["name"] == "error"]
    assert [error["code"] for error in errors] == ["credential_ended"]
    assert not socketio.test_client(app, auth={"ticket": code}).is_connected()


def test_an_expired_code_is_closed_by_the_periodic_check(japi, phone, app, clock):
    _, code = checked_in(japi)
    client = phone(code)
    assert client.is_connected()
    clock.advance(seconds=3 * 86400)
    app.extensions["siteflow_live"].credentials.check(tickets_now=True)
    assert not client.is_connected()


def test_no_phone_page_or_push_of_a_simulated_day_carries_personal_data(day_app, clock):
    """Phones follow a third of the people through a day; every page and push is checked."""
    services = day_app.extensions["siteflow"]
    admin = token_flow.create_token(services, role="admin", site_id=None, station=None, name="ops")
    assert admin
    web = day_app.test_client()
    phones: dict[str, tuple[str, object]] = {}
    pages: list[str] = []
    seen: list[dict] = []

    def advance(delta):
        clock.advance(seconds=delta.total_seconds())
        for visit in services.store.list_visits("demo", limit=10_000):
            if visit.ticket and visit.active and visit.id not in phones and int(visit.ticket[1:]) % 3 == 0:
                code = phone_tickets.issue(services, visit, actor="test").code  # as a reprint would
                phones[visit.id] = (code, socketio.test_client(day_app, auth={"ticket": code}))
        for visit_id, (code, client) in list(phones.items()):
            seen.extend(client.get_received() if client.is_connected() else [])
            if len(pages) < 400 and hash(visit_id) % 5 == 0:
                pages.append(web.get(f"/t/{code}").get_data(as_text=True))

    result = run_day(FlowActions(services, "demo"), DayPlan(people=120, hours=4, seed=11), advance=advance)
    time.sleep(TICKET_INTERVAL + 0.5)
    for _, client in phones.values():
        if client.is_connected():
            seen.extend(client.get_received())
            client.disconnect()
    assert result.checked_in > 100 and len(phones) > 30
    steps = {message["args"][0]["step"] for message in seen if message["name"] == "ticket"}
    assert {"waiting", "called", "observing"} <= steps, steps
    secrets = set()
    for visit in services.store.list_visits("demo", limit=10_000):
        person = visit.person
        secrets.update(filter(None, (person.name, person.document_number, person.phone, visit.id,
                                     person.birth_date.isoformat() if person.birth_date else None)))
        secrets.add(person.document_number[-6:])
    for message in seen:
        assert message["name"] in ("ticket", "error"), message["name"]
        text = json.dumps(message["args"], ensure_ascii=False)
        assert not [secret for secret in secrets if secret in text]
        keys: set[str] = set()
        stack = [{key: value for key, value in view.items() if key != "site"} for view in message["args"]]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                keys.update(item)
                stack.extend(item.values())
        assert not keys & set(PERSONAL_KEYS), keys & set(PERSONAL_KEYS)
    assert pages
    for page in pages:
        assert not [secret for secret in secrets if secret in page]
