"""The dashboard's "what if": the rest of today simulated with the desks open now and with
the supervisor's desks and seats; bad numbers are named."""
from __future__ import annotations

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
    more = japi.get("/sites/demo/what-if", consent="1", injection="7", seats="60")  # the site has 6 booths
    assert more.status_code == 422 and "6" in more.get_json()["error"]["fields"]["injection"]
    odd = japi.get("/sites/demo/what-if", consent="two", seats="60")
    assert odd.status_code == 422 and set(odd.get_json()["error"]["fields"]) == {"consent", "injection"}
