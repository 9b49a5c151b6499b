"""Hostile and odd input in every field: SQL metacharacters, very long, unicode, empty, blank.

Every answer is a 4xx JSON error that names what was wrong, or a success that stored the
value literally. Never a 500, and never a lost or changed record."""
from __future__ import annotations

import re

import pytest

from app.domain.text import normalised, text_problem
from app.flow import requests as schemas
from tests.support.api import (
    act,
    call_next,
    check_in,
    checker,
    japi,
    to_observation,
)
from tests.support.factories import gen_checkin, gen_consent, gen_injection

HOSTILE = [
    "'; DROP TABLE visits; --",
    "\" OR 1=1 --",
    "%_\\%'",
    "x" * 10_000,
    "😷👩‍⚕️💉",  # emoji with a zero-width joiner
    "مرحبا עברית",  # right-to-left
    "e\u0301\u0308\u20dd",  # combining marks
    "张三\u200b丰",  # zero-width space
    "",
    "   ",
    "<img src=x onerror=alert(1)>",
]
WRONG_TYPES = [None, -1, 2**70, 1.5, [], {"$ne": 1}]


def _visit_at_consent(japi):
    visit = check_in(japi)
    call_next(japi, "consent", "A")
    return visit["id"]


def _visit_at_injection(japi):
    visit_id = _visit_at_consent(japi)
    act(japi, visit_id, "consent", gen_consent("A"))
    call_next(japi, "injection", "1")
    return visit_id


def _in_emergency(japi, clock):
    visit_id = to_observation(japi)
    act(japi, visit_id, "aefi", _aefi(clock))
    return visit_id


def _aefi(clock):
    return {"symptoms": ["rash"], "onset_at": clock.now().isoformat(), "severity": "minor",
            "actions": "observed"}


# model -> (how to reach a visit in the right state, the action, a valid body)
ACTIONS = {
    schemas.CheckInBody: (None, None, lambda clock: gen_checkin()),
    schemas.DeskBody: (_visit_at_consent, "start", lambda clock: {"desk": "A"}),
    schemas.CancelBody: (_visit_at_consent, "cancel", lambda clock: {"reason": "felt unwell"}),
    schemas.ConsentBody: (_visit_at_consent, "consent", lambda clock: gen_consent("A")),
    schemas.InjectionBody: (_visit_at_injection, "injection", lambda clock: gen_injection("1")),
    schemas.AefiBody: (lambda japi, clock=None: to_observation(japi), "aefi", _aefi),
    schemas.AefiOutcomeBody: (None, "aefi-outcome", lambda clock: {"outcome": "recovered", "notes": "fine"}),
    schemas.ReleaseBody: (lambda japi, clock=None: to_observation(japi), "release",
                          lambda clock: {"override_reason": "signed waiver"}),
}


def _free_the_desks(japi) -> None:
    """Whoever is still queued or at a desk leaves, so the next case starts from empty desks."""
    for visit in japi.api.get("/sites/demo/visits", state="waiting,called,serving").get_json()["visits"]:
        japi.api.post(f"/sites/demo/visits/{visit['id']}/cancel", {"reason": "next case"})
    for visit in japi.api.get("/sites/demo/visits", state="observing,emergency").get_json()["visits"]:
        if visit["state"] == "emergency":
            japi.api.post(f"/sites/demo/visits/{visit['id']}/aefi-outcome", {"outcome": "transferred"})
        else:
            japi.api.post(f"/sites/demo/visits/{visit['id']}/release", {"override_reason": "next case"})


def _holds(data, value: str) -> bool:
    """Whether some string in the JSON answer contains the value exactly."""
    if isinstance(data, str):
        return value in data
    if isinstance(data, dict):
        return any(_holds(item, value) for item in data.values())
    if isinstance(data, list):
        return any(_holds(item, value) for item in data)
    return False


def _fields(model) -> list[str]:
    return list(model.model_fields)


def _assert_clean_answer(response, field: str, value) -> None:
    assert response.status_code < 500, (field, repr(value)[:80], response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] and error["message"], error
        if response.status_code == 422 and error["code"] == "validation_failed":
            assert error["fields"], error  # it names what was wrong


@pytest.mark.parametrize("model", list(ACTIONS), ids=lambda model: model.__name__)
def test_every_field_of_every_body_survives_hostile_values(japi, clock, model):
    setup, action, valid = ACTIONS[model]
    for field in _fields(model):
        for value in HOSTILE + WRONG_TYPES:
            if model is schemas.AefiOutcomeBody:
                visit_id = _in_emergency(japi, clock)
            else:
                visit_id = setup(japi) if setup else None
            body = dict(valid(clock), **{field: value})
            path = "/sites/demo/visits" + (f"/{visit_id}/{action}" if action else "")
            response = japi.post(path, body)
            _assert_clean_answer(response, field, value)
            _free_the_desks(japi)
            if response.status_code < 300 and isinstance(value, str):
                stored = response.get_json()["visit"]
                # an accepted free-text value reads back in its stored form, NFC and trimmed (the
                # visit, or its history); nothing invisible or breaking got in
                history = japi.api.get(f"/sites/demo/visits/{stored['id']}").get_json()
                kept = _holds(stored, normalised(value)) or _holds(history, normalised(value))
                assert kept or field in ("desk", "signature") or not value.strip(), (field, value)
                assert text_problem(value, multiline=True) is None, (field, value)


def test_accepted_free_text_is_stored_literally(japi):
    for name in ("Robert'); DROP TABLE visits;--", "😷 李 💉", "مرحبا", "%_\\"):
        visit = japi.post("/sites/demo/visits", gen_checkin(name=name)).get_json()["visit"]
        detail = japi.get(f"/sites/demo/visits/{visit['id']}").get_json()
        assert detail["visit"]["person"]["name"] == name
    assert len(japi.get("/sites/demo/visits").get_json()["visits"]) == 4  # the table is still there


@pytest.mark.parametrize("value", HOSTILE + ["2026-13-45", "-1", "99999999999999999999"])
def test_query_parameters_survive_hostile_values(japi, value):
    for path, name in (("/sites/demo/visits", "state"), ("/sites/demo/visits", "station"),
                       ("/sites/demo/visits", "date"), ("/sites/demo/visits", "limit"),
                       ("/audit", "actor"), ("/audit", "action"), ("/audit", "site"), ("/audit", "before_id"),
                       ("/audit", "limit")):
        response = japi.get(path, **{name: value})
        _assert_clean_answer(response, name, value)


@pytest.mark.parametrize("value", HOSTILE)
def test_path_segments_survive_hostile_values(japi, value):
    if not value.strip():
        return
    for path in (f"/sites/{value}", f"/sites/demo/visits/{value}", f"/sites/demo/stations/{value}/call-next"):
        response = japi.api.get(path) if "call-next" not in path else japi.api.post(path, {"desk": "A"})
        assert response.status_code in (404, 405), (path[:80], response.status_code)


@pytest.mark.parametrize("value", HOSTILE + ["a" * 100_000])
def test_forms_survive_hostile_values(app, client, value):
    page = client.get("/login", headers={"Accept": "text/html"}).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for field in ("username", "password"):
        form = {"username": "nobody", "password": "nothing-here", "csrf_token": csrf, field: value}
        answer = client.post("/login", data=form, headers={"Accept": "text/html"})
        assert answer.status_code in (400, 401, 413, 429), (field, answer.status_code)
    pair = client.post("/pair/collect", json={"secret": value}, headers={"X-CSRFToken": csrf})
    assert pair.status_code == 404
    audit = client.get("/audit.csv", query_string={"actor": value})
    assert audit.status_code in (302, 401)  # not signed in
