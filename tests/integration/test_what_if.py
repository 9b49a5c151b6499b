"""The dashboard's "what if": the rest of today simulated with the desks open now and with
the supervisor's desks and seats; bad numbers are named. The dashboard's projection of the
day's doses is the same simulation with the desks open now, so the two always agree."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.flow.simulation import MAX_DESKS
from app.sim.day import DayPlan, FlowActions, run_day
from tests.conftest import Tokens
from tests.support.api import call_next, check_in, checker, japi


def test_more_desks_shorten_the_simulated_wait_and_bad_numbers_are_named(japi, clock):
    for _ in range(30):
        check_in(japi)
    call_next(japi, "consent", "A")
    answer = japi.get("/sites/demo/what-if", consent="2", injection="6", seats="60")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["waiting_now"]["consent"] == 29
    assert body["now"]["servers"] == {"consent": 1, "injection": 1}  # the desks open now
    now, proposed = body["now"]["stations"]["consent"], body["proposed"]["stations"]["consent"]
    assert proposed["mean_wait_minutes"] < now["mean_wait_minutes"]
    assert body["proposed"]["served_by_closing"] >= body["now"]["served_by_closing"]
    bad = japi.get("/sites/demo/what-if", consent="0", injection="2", seats="60")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"consent"}
    too_many = japi.get("/sites/demo/what-if", consent="1", injection=str(MAX_DESKS + 1), seats="60")
    assert too_many.status_code == 422 and str(MAX_DESKS) in too_many.get_json()["error"]["fields"]["injection"]
    odd = japi.get("/sites/demo/what-if", consent="two", seats="60")
    assert odd.status_code == 422 and set(odd.get_json()["error"]["fields"]) == {"consent", "injection"}


class _Noon(Exception):
    """Stops the simulated day mid-way."""


@pytest.fixture
def busy_morning(day_app, clock):
    """The demo's day (its bots keep a consent desk and a booth free) played until noon."""
    services = day_app.extensions["siteflow"]
    noon = clock.now() + timedelta(hours=3)

    def advance(delta):
        clock.advance(seconds=delta.total_seconds())
        if clock.now() >= noon:
            raise _Noon

    # 50 people an hour at consent desk A, as many as it serves: its queue grows all morning.
    plan = DayPlan(people=400, hours=8, consent_minutes=1.2, seed=3, keep_free=(("consent", "B"), ("injection", "6")))
    with pytest.raises(_Noon):
        run_day(FlowActions(services, "demo"), plan, advance=advance)
    return day_app


def _get(client, token, path, **query):
    response = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_projection_is_the_what_if_with_the_desks_open_now(busy_morning):
    services = busy_morning.extensions["siteflow"]
    client, token = busy_morning.test_client(), Tokens(services).supervisor
    dashboard = _get(client, token, "/sites/demo/dashboard")
    target, stations = dashboard["target"], dashboard["stations"]
    assert stations["consent"]["waiting"] > 10  # a queue, with desks left to open
    current = {"consent": str(stations["consent"]["desks_open"]), "injection": str(stations["injection"]["desks_open"]),
               "seats": str(dashboard["observation"]["capacity"])}
    what_if = _get(client, token, "/sites/demo/what-if", **current)
    assert what_if["now"]["doses_by_closing"] == what_if["proposed"]["doses_by_closing"] == target["projected"]
    assert target["projected"] == target["doses"] + what_if["now"]["served_by_closing"]
    # Beyond the site's desks: two more consent desks than it has clear the queue sooner.
    more = _get(client, token, "/sites/demo/what-if", **dict(current, consent="4"))
    assert more["now"]["doses_by_closing"] == target["projected"]
    assert more["proposed"]["servers"]["consent"] == 4
    assert more["proposed"]["stations"]["consent"]["mean_wait_minutes"] < more["now"]["stations"]["consent"]["mean_wait_minutes"]
    assert more["proposed"]["doses_by_closing"] >= target["projected"]
