"""bench/phones.py: the push benchmark's reading of what the phone-ticket pages received, on a
made-up run (times are data here: nothing is timed)."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.phones import passes_of, ticket_latencies

SITE = "bench1"
PHONES = [{"code": f"code{n}", "ticket": f"A{n:04d}", "visit": f"v{n}"} for n in range(3)]


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def action(step: int, ticket: str, t0: float, t1: float, seq: int, site: str = SITE, status: int = 200) -> dict:
    return {"real_site": site, "step": step, "ticket": ticket, "t0": t0, "t1": t1, "seq": seq, "status": status}


def message(phone: int, arrival: float, step: str, made: float, station: str = "consent",
            ahead: int | None = None) -> list:
    return [phone, arrival, PHONES[phone]["ticket"], step, station, ahead, iso(made)]


@pytest.fixture
def run() -> tuple[list[dict], list[list]]:
    # Phone 0's holder is called at consent (request 100.000, answer 100.020); phones 1 and 2
    # move up in the pass made at 101.0; an injection call of phone 1 is never heard of.
    actions = [action(1, "A0000", 100.0, 100.020, seq=7), action(3, "A0001", 103.0, 103.010, seq=9),
               action(1, "X9999", 104.0, 104.010, seq=10),  # someone without a phone
               action(1, "A0002", 105.0, 105.010, seq=11, site="bench2")]  # another site
    messages = [
        message(0, 90.0, "waiting", 90.0, ahead=0), message(1, 90.1, "waiting", 90.1, ahead=1),
        message(2, 90.2, "waiting", 90.2, ahead=2),  # their connects
        message(0, 100.015, "called", 100.010),  # its own call, made while the call was in flight
        message(1, 101.050, "waiting", 101.0, ahead=0), message(2, 101.100, "waiting", 101.0, ahead=1),
    ]
    return actions, messages


def test_a_pass_is_the_messages_of_one_view_moment_that_are_no_phones_own_change(run):
    actions, messages = run
    (only,) = passes_of(messages, actions)
    assert only["made"] == pytest.approx(101.0)
    assert only["phones"] == 2
    assert (only["first"], only["last"]) == (101.050, 101.100)


def test_own_calls_are_timed_from_the_request_and_from_the_answer_and_unheard_ones_counted(run):
    actions, messages = run
    result = ticket_latencies(actions, messages, PHONES, {7: 100.005, 9: 103.005}, SITE)
    own = result["own_call"]
    assert own["from_request"]["count"] == 1
    assert own["from_request"]["p50_ms"] == pytest.approx(15.0)
    assert own["from_answer"]["p50_ms"] == pytest.approx(-5.0)  # the phone had it before the caller's answer
    assert own["missing"] == 1  # phone 1's injection call never reached it


def test_a_call_is_carried_by_the_first_pass_made_after_it_was_recorded(run):
    actions, messages = run
    result = ticket_latencies(actions, messages, PHONES, {7: 100.005, 9: 103.005}, SITE)
    assert result["passes"]["count"] == 1
    assert result["passes"]["made_to_first_phone"]["p50_ms"] == pytest.approx(50.0)
    assert result["passes"]["made_to_last_phone"]["p50_ms"] == pytest.approx(100.0)
    place = result["call_to_place_update"]
    assert place["last_phone"]["count"] == 1  # the consent call of a phone's holder at this site
    assert place["last_phone"]["p50_ms"] == pytest.approx(1080.0)


def test_a_call_recorded_after_the_last_pass_is_not_counted(run):
    actions, messages = run
    result = ticket_latencies(actions, messages, PHONES, {7: 101.5}, SITE)
    assert result["call_to_place_update"]["last_phone"]["count"] == 0
