"""The typed API client (app/client.py): against a real server process, and in-process through
httpx's WSGI transport."""
from __future__ import annotations

import httpx
import pytest

from app.client import SiteFlowClient, UnexpectedStatus, Unreachable
from app.domain.permissions import Action
from app.flow import tokens as token_flow
from app.flow.requests import CancelBody, CheckInBody, ConsentBody, DeskBody, InjectionBody, ReleaseBody
from tests.support.factories import gen_checkin, gen_consent, gen_injection
from tests.support.live_servers import ServerProcess, create_token, free_port, init_database, server_env

SITE = "demo"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server process on SQLite and an admin token; each test leaves the queues empty."""
    folder = tmp_path_factory.mktemp("client")
    env = server_env(database_url=f"sqlite:///{folder / 'siteflow.db'}")
    init_database(env)
    token = create_token(env, "admin", name="client-test")
    with ServerProcess(env, free_port(), log_dir=folder, name="client") as process:
        yield process, token


@pytest.fixture
def api(server):
    process, token = server
    with SiteFlowClient(process.url, token) as client:
        yield client


def journey(api: SiteFlowClient) -> list[dict]:
    """Check-in, consent, injection and an early release (with a reason); the visit after each."""
    visit = api.check_in(SITE, CheckInBody(**gen_checkin()))
    assert api.call_next(SITE, "consent", "A")["id"] == visit["id"]
    consented = api.perform(Action.CONSENT, ConsentBody(**gen_consent("A")), site=SITE, visit_id=visit["id"])
    assert api.call_next(SITE, "injection", "1")["id"] == visit["id"]
    injection = InjectionBody(**gen_injection("1"))  # "site" is the wire name of injection_site
    injected = api.run(Action.INJECTION, injection, site=SITE, visit_id=visit["id"], idempotency_key="journey-1")
    again = api.run(Action.INJECTION, injection, site=SITE, visit_id=visit["id"], idempotency_key="journey-1")
    assert injected.expect(200).json["visit"] == again.expect(200).json["visit"]
    assert again.headers["idempotent-replayed"] == "true"
    released = api.perform(Action.RELEASE, ReleaseBody(override_reason="feels fine, must go"), site=SITE,
                           visit_id=visit["id"])
    return [visit, consented, injected.json["visit"], released]


def test_a_whole_journey_through_a_server_process(api):
    states = [visit["state"] for visit in journey(api)]
    assert states == ["waiting", "waiting", "observing", "released"]


def test_call_next_with_nobody_waiting_answers_204_and_none(api):
    answer = api.run(Action.CALL_NEXT, DeskBody(desk="A"), site=SITE, station="consent")
    assert (answer.status, answer.json, answer.content) == (204, None, b"")
    assert api.call_next(SITE, "injection", "1") is None


def test_a_refusal_is_an_answer_and_expect_names_the_field(api):
    wrong = CheckInBody.model_construct(**{**gen_checkin(), "dose_number": 9})  # not validated here: the server does
    answer = api.run(Action.CHECK_IN, wrong, site=SITE)
    assert answer.status == 422 and not answer.ok
    assert answer.error["code"] == "validation_failed" and "dose_number" in answer.error["fields"]
    with pytest.raises(UnexpectedStatus, match="dose_number") as refused:
        answer.expect(201)
    assert refused.value.answer is answer
    with pytest.raises(UnexpectedStatus, match="HTTP 404"):
        api.perform(Action.CONSENT, ConsentBody(**gen_consent("A")), site=SITE, visit_id="no-such-visit")


def test_a_request_model_of_another_command_or_a_missing_path_argument_is_refused_before_sending():
    with SiteFlowClient("http://127.0.0.1:9", "token") as api:  # nothing listens there: nothing is sent
        with pytest.raises(TypeError, match="takes ConsentBody, not InjectionBody"):
            api.run(Action.CONSENT, InjectionBody(**gen_injection("1")), site=SITE, visit_id="v1")
        with pytest.raises(TypeError, match="DeskBody"):
            api.run(Action.CALL_NEXT, {"desk": "A"}, site=SITE, station="consent")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="visit_id"):
            api.run(Action.RELEASE, ReleaseBody(), site=SITE)
        with pytest.raises(TypeError, match="station"):
            api.run(Action.CALL_NEXT, DeskBody(desk="A"), site=SITE)


def test_no_server_raises_unreachable():
    with SiteFlowClient(f"http://127.0.0.1:{free_port()}", "token", timeout=2) as api, \
            pytest.raises(Unreachable, match="/api/v1/sites/demo/visits"):
        api.check_in(SITE, CheckInBody(**gen_checkin()))


def test_follow_pages_follows_next_to_the_end(api):
    checked_in = [api.check_in(SITE, CheckInBody(**gen_checkin()))["id"] for _ in range(5)]
    try:
        first = api.get(f"/sites/{SITE}/visits", state="waiting", limit=2).expect(200).json
        assert len(first["visits"]) == 2 and first["next"]
        paged = [visit["id"] for visit in api.follow_pages(f"/sites/{SITE}/visits", "visits", state="waiting", limit=2)]
        assert paged == checked_in
    finally:
        for visit_id in checked_in:
            api.perform(Action.CANCEL, CancelBody(reason="test over"), site=SITE, visit_id=visit_id)


def test_the_same_client_drives_an_app_in_process(day_app):
    token = token_flow.create_token(day_app.extensions["siteflow"], role="admin", site_id=None, station=None,
                                    name="in-process")
    with SiteFlowClient("http://siteflow.test", token, transport=httpx.WSGITransport(app=day_app)) as api:
        states = [visit["state"] for visit in journey(api)]
        assert states == ["waiting", "waiting", "observing", "released"]
        assert api.request("GET", "/healthz").ok
        assert api.call_next(SITE, "consent", "B") is None
