"""Over a whole simulated day, nothing a display (or the city room) receives is personal."""
from __future__ import annotations

import json
import time

from app.live import socketio
from app.sim.day import DayPlan, FlowActions, run_day
from app.store.tables import events

PERSONAL_KEYS = ("name", "document_number", "document_last4", "phone", "birth_date", "person", "answers",
                 "signature", "age", "actor", "vaccinator")


def _keys(value, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            _keys(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys(item, found)
    return found


def test_no_display_payload_of_a_simulated_day_contains_personal_data(day_app, clock):
    services = day_app.extensions["siteflow"]
    from app.flow import tokens as token_flow

    display_token = token_flow.create_token(services, role="display", site_id="demo", station=None, name="tv-1")
    admin_token = token_flow.create_token(services, role="admin", site_id=None, station=None, name="city")
    display = socketio.test_client(day_app, auth={"token": display_token})
    assert display.emit("join", {"site": "demo", "view": "display"}, callback=True)["ok"]
    city = socketio.test_client(day_app, auth={"token": admin_token})
    assert city.emit("join", {"view": "city"}, callback=True)["ok"]
    seen: list[dict] = []

    def advance(delta):
        clock.advance(seconds=delta.total_seconds())
        seen.extend(display.get_received() + city.get_received())

    result = run_day(FlowActions(services, "demo"), DayPlan(people=150, hours=4, seed=7), advance=advance)
    time.sleep(0.5)
    seen.extend(display.get_received() + city.get_received())
    display.disconnect()
    city.disconnect()

    assert result.checked_in > 130 and result.released > 120
    names = {message["name"] for message in seen}
    assert {"snapshot", "call", "ready", "site"} <= names, names

    people = [visit.person for visit in services.store.list_visits("demo", limit=10_000)]
    with services.store.engine.connect() as conn:
        assert conn.execute(events.select()).first() is not None
    secrets = set()
    for person in people:
        secrets.update(filter(None, (person.name, person.document_number, person.phone,
                                     person.birth_date.isoformat() if person.birth_date else None)))
        secrets.add(person.document_number[-6:])
    assert len(secrets) > 400

    for message in seen:
        text = json.dumps(message["args"], ensure_ascii=False)
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, f"{message['name']} leaked {leaked[:3]}"
        bad_keys = _keys(message["args"], set()) & set(PERSONAL_KEYS)
        assert not bad_keys, f"{message['name']} carries {bad_keys}"
